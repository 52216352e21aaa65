//! The issuer's view of its keys: the node's active signing handle, the root handle that signs
//! the trust list (development mode), and the key lifecycle operations the admin API drives.
//! Private keys stay inside the `keys` crate; this module only holds handles. It stores nothing
//! itself: what is published, and when, is the service's business ([`crate::service::publish`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use keys::{Keystore, Signer};
use verifier::build::trustlist::TrustList;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    #[error("keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error("the active signing key is past its signing period: rotate it (POST /v1/admin/keys/rotate)")]
    KeyExpired,
    #[error("refusing to revoke the key this node signs with: rotate first, then revoke the retired key")]
    RevokeActive,
}

/// Key handles of one issuer node: its own signing keys, and the deployment's root (which signs
/// the trust list; development mode only, production keeps it offline).
///
/// One node alone keeps both in one keystore. Several nodes each have their own keystore for
/// their signing keys (no private key is shared between nodes) and read the root from the
/// deployment's keystore.
#[derive(Debug)]
pub struct Custody {
    node: Option<String>,
    /// This node's signing keys.
    keystore: Mutex<Keystore>,
    /// The deployment's root, when it is not in `keystore`.
    root: Option<Mutex<Keystore>>,
    signer: RwLock<Arc<dyn Signer>>,
    /// Bumped by every key change, so publication knows the trust list must be signed again.
    version: AtomicU64,
}

impl Custody {
    /// `keystore` holds this node's signing keys (and the root, when `root` is `None`).
    pub fn new(keystore: Keystore, root: Option<Keystore>, node: Option<String>) -> Result<Self, CustodyError> {
        let signer: Arc<dyn Signer> = Arc::new(keystore.active_signing(node.as_deref())?);
        Ok(Self {
            node,
            keystore: Mutex::new(keystore),
            root: root.map(Mutex::new),
            signer: RwLock::new(signer),
            version: AtomicU64::new(1),
        })
    }

    /// The node's name in the trust list and the store (`default` for a single node).
    pub fn node(&self) -> &str {
        self.node.as_deref().unwrap_or("default")
    }

    fn root_handle(&self) -> Result<keys::SigningHandle, CustodyError> {
        Ok(match &self.root {
            Some(r) => r.lock().unwrap_or_else(|p| p.into_inner()).root()?,
            None => self.keystore().root()?,
        })
    }

    /// The root public key verifiers pin.
    pub fn root_public(&self) -> String {
        self.root_handle().map(|r| r.public_key().to_string()).unwrap_or_default()
    }

    /// The handle that signs credentials and status lists now.
    pub fn signer(&self) -> Arc<dyn Signer> {
        self.signer.read().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The signing handle, refusing once its signing period is over (verifiers would reject what
    /// it signs: rotate first).
    pub fn signer_for(&self, now: u64) -> Result<Arc<dyn Signer>, CustodyError> {
        let signer = self.signer();
        let until = self.keystore().record(signer.kid()).map_or(0, |r| r.sign_until);
        if now > until {
            return Err(CustodyError::KeyExpired);
        }
        Ok(signer)
    }

    /// A number that changes with every key change.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    fn keystore(&self) -> std::sync::MutexGuard<'_, Keystore> {
        self.keystore.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// Signs a trust list with the root key.
    pub fn sign_trust_list(&self, list: &TrustList) -> Result<String, CustodyError> {
        Ok(keys::sign_trust_list(&self.root_handle()?, list)?)
    }

    /// Whether `kid` is one of this node's keys.
    pub fn holds(&self, kid: &verifier::KeyId) -> bool {
        self.keystore().record(kid).is_some()
    }

    /// Generates a signing key in state `next`, so verifiers have it before it signs anything;
    /// [`Self::activate`] it after their sync interval.
    pub fn prepare(&self, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let kid = self.keystore().generate_signing(now, self.node.as_deref(), &keys::KeyPolicy::default())?;
        self.changed();
        Ok(kid)
    }

    /// Makes a `next` key the node's signing key (the previous one retires).
    pub fn activate(&self, kid: &verifier::KeyId, now: u64) -> Result<(), CustodyError> {
        let mut ks = self.keystore();
        ks.activate(kid, now)?;
        *self.signer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ks.active_signing(self.node.as_deref())?);
        self.changed();
        Ok(())
    }

    /// Generates a new signing key and activates it at once (the previous one retires).
    pub fn rotate(&self, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let mut ks = self.keystore();
        let kid = ks.generate_signing(now, self.node.as_deref(), &keys::KeyPolicy::default())?;
        ks.activate(&kid, now)?;
        *self.signer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ks.active_signing(self.node.as_deref())?);
        self.changed();
        Ok(kid)
    }

    /// Revokes a key. The key this node signs with cannot be revoked (nothing could sign
    /// afterwards, status lists included): rotate first.
    pub fn revoke(&self, kid: &verifier::KeyId, now: u64) -> Result<(), CustodyError> {
        if self.signer().kid() == kid {
            return Err(CustodyError::RevokeActive);
        }
        self.keystore().revoke(kid, now)?;
        self.changed();
        Ok(())
    }

    /// This node's public key records (signing keys only), to publish through the store.
    pub fn key_records(&self) -> Vec<verifier::TrustedKey> {
        self.keystore().trusted_keys()
    }
}
