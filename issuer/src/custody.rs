//! The issuer's view of its keys: the node's active signing handle, the root (development mode:
//! a handle that signs the trust list here; production: only the pinned public key, the private
//! key being offline), and the key lifecycle operations the admin API drives. Private keys stay
//! inside the `keys` crate, in the keystore or on a PKCS#11 token; this module only holds
//! handles. It stores nothing itself: what is published, and when, is the service's business
//! ([`crate::service::publish`]). How the keys are opened at start is [`crate::unlock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use keys::{KeyRecord, Keystore, Pkcs11Token, Signer};
use verifier::build::trustlist::TrustList;
use verifier::PublicKey;

/// Sessions in the pool of an HSM signer: issuance signs a handful of times per credential, from
/// several request tasks at once.
const HSM_SESSIONS: usize = 4;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustodyError {
    #[error("keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error("the active signing key is past its signing period: rotate it (POST /v1/admin/keys/rotate)")]
    KeyExpired,
    #[error("refusing to revoke the key this node signs with: rotate first, then revoke the retired key")]
    RevokeActive,
    /// Production mode: the root key is offline, so this node signs no trust list.
    #[error(
        "the root key is offline (production mode): sign the prepared trust list with `keys trust-list sign` and \
         upload it"
    )]
    RootOffline,
}

/// Where the root key is.
#[derive(Debug)]
pub enum Root {
    /// Development: in a keystore on this machine, the node's own (`None`) or the deployment's.
    Local(Option<Mutex<Keystore>>),
    /// Production: offline. The node knows the public key verifiers pin, and checks uploaded
    /// trust lists against it.
    Offline(PublicKey),
}

/// Key handles of one issuer node: its own signing keys (in its keystore, or on its PKCS#11
/// token with their records in the keystore), and the deployment's root.
///
/// One node alone keeps its signing keys and (in development) the root in one keystore. Several
/// nodes each have their own keystore for their signing keys (no private key is shared between
/// nodes) and read the root from the deployment's keystore.
#[derive(Debug)]
pub struct Custody {
    node: Option<String>,
    /// This node's signing keys (records; software seeds, sealed).
    keystore: Mutex<Keystore>,
    root: Root,
    /// The node's token, when its signing keys live in an HSM: new keys are generated there.
    token: Option<Pkcs11Token>,
    signer: RwLock<Arc<dyn Signer>>,
    /// Bumped by every key change, so publication knows the trust list must be signed again.
    version: AtomicU64,
}

impl Custody {
    /// `keystore` holds this node's signing keys (and, in development with `Root::Local(None)`,
    /// the root). With a `token`, keys recorded with an HSM label sign through it.
    pub fn new(
        keystore: Keystore,
        root: Root,
        node: Option<String>,
        token: Option<Pkcs11Token>,
    ) -> Result<Self, CustodyError> {
        let signer = keystore.active_signer(node.as_deref(), token.as_ref(), HSM_SESSIONS)?;
        Ok(Self {
            node,
            keystore: Mutex::new(keystore),
            root,
            token,
            signer: RwLock::new(signer),
            version: AtomicU64::new(1),
        })
    }

    /// The node's name in the trust list and the store (`default` for a single node).
    pub fn node(&self) -> &str {
        self.node.as_deref().unwrap_or("default")
    }

    /// The node's name as its keys record it (`None` for a single node).
    pub fn node_name(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// Production mode: the root key is offline and trust lists come signed from the admin.
    pub fn is_production(&self) -> bool {
        matches!(self.root, Root::Offline(_))
    }

    /// Where new signing keys are made: `hsm` or `keystore`.
    pub fn backend(&self) -> &'static str {
        if self.token.is_some() {
            "hsm"
        } else {
            "keystore"
        }
    }

    fn root_handle(&self) -> Result<keys::SigningHandle, CustodyError> {
        Ok(match &self.root {
            Root::Offline(_) => return Err(CustodyError::RootOffline),
            Root::Local(Some(r)) => r.lock().unwrap_or_else(|p| p.into_inner()).root()?,
            Root::Local(None) => self.keystore().root()?,
        })
    }

    /// The root public key verifiers pin.
    pub fn root_public_key(&self) -> Option<PublicKey> {
        match &self.root {
            Root::Offline(pk) => Some(*pk),
            Root::Local(_) => self.root_handle().ok().map(|r| r.public_key()),
        }
    }

    /// The root public key verifiers pin, base64url (empty if there is none).
    pub fn root_public(&self) -> String {
        self.root_public_key().map(|k| k.to_string()).unwrap_or_default()
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

    /// Signs a trust list with the root key (development mode only).
    pub fn sign_trust_list(&self, list: &TrustList) -> Result<String, CustodyError> {
        Ok(keys::sign_trust_list(&self.root_handle()?, list)?)
    }

    /// Whether `kid` is one of this node's keys.
    pub fn holds(&self, kid: &verifier::KeyId) -> bool {
        self.keystore().record(kid).is_some()
    }

    /// This node's record of a key.
    pub fn record(&self, kid: &verifier::KeyId) -> Option<KeyRecord> {
        self.keystore().record(kid).cloned()
    }

    /// This node's key records (its signing keys; the root too in single-node development).
    pub fn records(&self) -> Vec<KeyRecord> {
        self.keystore().records().to_vec()
    }

    /// How the token protects one of this node's HSM keys (`None` for a software key or one
    /// this node does not hold). Opens a signer on it, which checks the key with one signature.
    pub fn hsm_protection(&self, kid: &verifier::KeyId) -> Option<Result<keys::KeyProtection, CustodyError>> {
        let label = self.keystore().record(kid)?.hsm_label.clone()?;
        let token = self.token.as_ref()?;
        Some(token.signer(&label, 1).and_then(|s| s.protection()).map_err(CustodyError::from))
    }

    /// Generates a signing key in state `next` (on the token when the node has one), so
    /// verifiers have it before it signs anything; [`Self::activate`] it after their sync
    /// interval.
    pub fn prepare(&self, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let mut ks = self.keystore();
        let kid = generate(&mut ks, self.token.as_ref(), self.node.as_deref(), now)?;
        drop(ks);
        self.changed();
        Ok(kid)
    }

    /// Records a key an admin generated on the node's token (`keys hsm generate --label …`) as
    /// the node's `next` key. The token must hold it sensitive and never extractable (checked
    /// when its signer is opened).
    pub fn register_hsm(&self, label: &str, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let token = self.token.as_ref().ok_or_else(|| {
            keys::KeyError::NotFound("a PKCS#11 token on this node (start it with --hsm-module and --hsm-token)".into())
        })?;
        let pk = token.signer(label, 1)?.public_key();
        let kid =
            self.keystore().register_hsm_signing(pk, label, now, self.node.as_deref(), &keys::KeyPolicy::default())?;
        self.changed();
        Ok(kid)
    }

    /// Makes a `next` key the node's signing key (the previous one retires). The rule on when
    /// (`keys::check_activation`) is the service's to apply first.
    pub fn activate(&self, kid: &verifier::KeyId, now: u64) -> Result<(), CustodyError> {
        let mut ks = self.keystore();
        ks.activate(kid, now)?;
        let signer = ks.active_signer(self.node.as_deref(), self.token.as_ref(), HSM_SESSIONS)?;
        *self.signer.write().unwrap_or_else(|p| p.into_inner()) = signer;
        drop(ks);
        self.changed();
        Ok(())
    }

    /// Generates a new signing key and activates it at once (the previous one retires): an
    /// emergency, since verifiers cannot know the new key before they sync.
    pub fn rotate(&self, now: u64) -> Result<verifier::KeyId, CustodyError> {
        let mut ks = self.keystore();
        let kid = generate(&mut ks, self.token.as_ref(), self.node.as_deref(), now)?;
        ks.activate(&kid, now)?;
        let signer = ks.active_signer(self.node.as_deref(), self.token.as_ref(), HSM_SESSIONS)?;
        *self.signer.write().unwrap_or_else(|p| p.into_inner()) = signer;
        drop(ks);
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

/// Generates a `next` signing key for `node`: on the token when there is one (the keystore
/// records its public key and label), else in the keystore.
pub(crate) fn generate(
    ks: &mut Keystore,
    token: Option<&Pkcs11Token>,
    node: Option<&str>,
    now: u64,
) -> Result<verifier::KeyId, keys::KeyError> {
    let policy = keys::KeyPolicy::default();
    let Some(token) = token else {
        return ks.generate_signing(now, node, &policy);
    };
    // Labels name node and time, and must be unique on the token (printable ASCII, no spaces,
    // at most 64 bytes).
    let node_part: String = node
        .unwrap_or("default")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .take(40)
        .collect();
    let base = format!("vneid-{node_part}-{now}");
    let mut last = None;
    for n in 0..8 {
        let label = if n == 0 { base.clone() } else { format!("{base}-{n}") };
        match token.generate(&label, 1) {
            Ok(signer) => {
                let pk = signer.public_key();
                drop(signer);
                return ks.register_hsm_signing(pk, &label, now, node, &policy);
            }
            Err(e @ keys::KeyError::InvalidArgument(_)) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(keys::KeyError::InvalidArgument("no free key label on the token")))
}
