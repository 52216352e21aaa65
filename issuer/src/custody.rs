//! The issuer's view of its keys: the node's active signing handle, the root handle that signs
//! the trust list, and the publication of the trust list and the status lists. Private keys stay
//! inside the `keys` crate; this module only holds handles.

use std::sync::{Arc, Mutex, RwLock};

use keys::{Keystore, Signer};
use verifier::build::statuslist::StatusList;
use verifier::build::trustlist::{StatusListRef, TrustList};

use crate::store::{Store, StoreError};

/// Status list capacity: 2^20 credentials per list (256 KiB at 2 bits, a few hundred bytes
/// compressed while sparse). Indices are drawn at random within it.
pub const STATUS_CAPACITY: u64 = 1 << 20;
/// The status list this node writes to.
pub const STATUS_LIST_ID: u32 = 1;
/// How long a published trust list claims to hold before the next one.
pub const TRUST_LIST_PERIOD: u64 = 7 * 86_400;
/// Status list tokens: valid for a day, refreshed by verifiers hourly.
pub const STATUS_EXP: u64 = 86_400;
pub const STATUS_TTL: u64 = 3_600;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    #[error("keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("trust list: {0}")]
    TrustList(#[from] verifier::Error),
    #[error("the active signing key is past its signing period: rotate it (POST /v1/admin/keys/rotate)")]
    KeyExpired,
    #[error("refusing to revoke the key this node signs with: rotate first, then revoke the retired key")]
    RevokeActive,
}

#[derive(Debug)]
pub struct Custody {
    issuer_url: String,
    node: Option<String>,
    keystore: Mutex<Keystore>,
    signer: RwLock<Arc<dyn Signer>>,
    trust_list: RwLock<(u64, Arc<String>)>,
    status_cache: Mutex<Option<(u64, u64, Arc<String>)>>,
    /// When the current trust list was signed.
    issued_at: Mutex<u64>,
    /// Where the last trust list sequence number is kept, so it never goes back after a restart.
    meta: sled::Tree,
}

impl Custody {
    pub fn new(
        keystore: Keystore,
        issuer_url: String,
        node: Option<String>,
        meta: sled::Tree,
        now: u64,
    ) -> Result<Self, CustodyError> {
        let last_seq = meta
            .get(b"trust_list_seq")
            .map_err(StoreError::from)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let signer: Arc<dyn Signer> = Arc::new(keystore.active_signing(node.as_deref())?);
        let c = Self {
            issuer_url,
            node,
            keystore: Mutex::new(keystore),
            signer: RwLock::new(signer),
            trust_list: RwLock::new((last_seq, Arc::new(String::new()))),
            status_cache: Mutex::new(None),
            issued_at: Mutex::new(now),
            meta,
        };
        c.republish(now)?;
        Ok(c)
    }

    /// The root public key verifiers pin.
    pub fn root_public(&self) -> String {
        self.keystore().root().map(|r| r.public_key().to_string()).unwrap_or_default()
    }

    pub fn issuer_url(&self) -> &str {
        &self.issuer_url
    }

    pub fn status_uri(&self, id: u32) -> String {
        format!("{}/status-lists/{id}", self.issuer_url)
    }

    /// The handle that signs credentials now.
    pub fn signer(&self) -> Arc<dyn Signer> {
        self.signer.read().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The signed trust list (compact JWS), re-signed when half its period has passed so that a
    /// long-running node never serves a list verifiers consider stale.
    pub fn trust_list(&self, now: u64) -> Arc<String> {
        let issued = *self.issued_at.lock().unwrap_or_else(|p| p.into_inner());
        if now > issued + TRUST_LIST_PERIOD / 2 {
            if let Err(e) = self.republish(now) {
                tracing::error!(error = %e, "re-signing the trust list failed; serving the previous one");
            }
        }
        self.trust_list.read().map(|s| s.1.clone()).unwrap_or_else(|p| p.into_inner().1.clone())
    }

    /// The handle that signs credentials now, refusing once its signing period is over (verifiers
    /// would reject what it signs: rotate first).
    pub fn signer_for(&self, now: u64) -> Result<Arc<dyn Signer>, CustodyError> {
        let signer = self.signer();
        let until = self.keystore().records().iter().find(|r| &r.kid == signer.kid()).map_or(0, |r| r.sign_until);
        if now > until {
            return Err(CustodyError::KeyExpired);
        }
        Ok(signer)
    }

    fn keystore(&self) -> std::sync::MutexGuard<'_, Keystore> {
        self.keystore.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs a new trust list from the keystore's records with the root key.
    pub fn republish(&self, now: u64) -> Result<(), CustodyError> {
        let ks = self.keystore();
        let mut published = self.trust_list.write().unwrap_or_else(|p| p.into_inner());
        // Strictly increasing, and roughly the publication time, so a restarted node does not
        // go below what it published before.
        let seq = now.max(published.0 + 1);
        self.meta.insert(b"trust_list_seq", &seq.to_be_bytes()).map_err(StoreError::from)?;
        self.meta.flush().map_err(StoreError::from)?;
        let list = TrustList {
            v: 1,
            issuer: self.issuer_url.clone(),
            seq,
            issued_at: now,
            next_update: now + TRUST_LIST_PERIOD,
            keys: ks.trusted_keys(),
            status_lists: vec![StatusListRef { id: STATUS_LIST_ID, uri: self.status_uri(STATUS_LIST_ID) }],
        };
        let root = ks.root()?;
        let signed = keys::sign_trust_list(&root, &list)?;
        *published = (seq, Arc::new(signed));
        *self.issued_at.lock().unwrap_or_else(|p| p.into_inner()) = now;
        // A key changed: the cached status list token may be signed by a key that is now retired
        // or revoked, so it is signed again on the next request.
        *self.status_cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// Generates a signing key in state `next` and publishes it, so verifiers have it before it
    /// signs anything; [`Self::activate`] it after their sync interval.
    pub fn prepare(&self, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let kid = self.keystore().generate_signing(now, self.node.as_deref(), &keys::KeyPolicy::default())?;
        self.republish(now)?;
        Ok(kid)
    }

    /// Makes a `next` key the node's signing key (the previous one retires) and republishes.
    pub fn activate(&self, kid: &verifier::KeyId, now: u64) -> Result<(), CustodyError> {
        {
            let mut ks = self.keystore();
            ks.activate(kid, now)?;
            *self.signer.write().unwrap_or_else(|p| p.into_inner()) =
                Arc::new(ks.active_signing(self.node.as_deref())?);
        }
        self.republish(now)
    }

    /// Generates a new signing key, activates it (the previous one retires) and republishes.
    pub fn rotate(&self, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let kid = {
            let mut ks = self.keystore();
            let kid = ks.generate_signing(now, self.node.as_deref(), &keys::KeyPolicy::default())?;
            ks.activate(&kid, now)?;
            *self.signer.write().unwrap_or_else(|p| p.into_inner()) =
                Arc::new(ks.active_signing(self.node.as_deref())?);
            kid
        };
        self.republish(now)?;
        Ok(kid)
    }

    /// Revokes a key and republishes. The key this node signs with cannot be revoked (nothing
    /// could sign afterwards, status lists included): rotate first.
    pub fn revoke(&self, kid: &verifier::KeyId, now: u64) -> Result<(), CustodyError> {
        if self.signer().kid() == kid {
            return Err(CustodyError::RevokeActive);
        }
        self.keystore().revoke(kid, now)?;
        self.republish(now)
    }

    /// The public key records, for the admin API and the JWK Set.
    pub fn key_records(&self) -> Vec<verifier::TrustedKey> {
        self.keystore().trusted_keys()
    }

    /// The signed status list token for `id`, rebuilt when `version` changed or it is getting old.
    pub fn status_token(&self, store: &Store, id: u32, version: u64, now: u64) -> Result<Arc<String>, CustodyError> {
        let mut cache = self.status_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((v, iat, tok)) = cache.as_ref() {
            if *v == version && now < iat + STATUS_TTL / 2 {
                return Ok(tok.clone());
            }
        }
        let mut list =
            StatusList::new(2, STATUS_CAPACITY as usize).ok_or(verifier::Error::StatusListInvalid("capacity"))?;
        for kv in store.t.status.scan_prefix(id.to_be_bytes()) {
            let (k, v) = kv.map_err(StoreError::from)?;
            let idx = k
                .get(4..12)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or(StoreError::Corrupt("status key"))?;
            list.set(idx, v.first().copied().unwrap_or(0));
        }
        let signer = self.signer();
        let input = list.token_signing_input(signer.kid(), &self.status_uri(id), now, now + STATUS_EXP, STATUS_TTL);
        let sig = signer.sign(input.as_bytes())?;
        let tok = Arc::new(verifier::build::jws::assemble(&input, &sig));
        *cache = Some((version, now, tok.clone()));
        Ok(tok)
    }
}
