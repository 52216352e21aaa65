//! Opening the keys at start, in one of two modes.
//!
//! **Development** (the default, one command for the demo and the tests): the keystore sits in
//! the data folder with a key file beside it that unlocks it (`DATA/keys/kek`), and holds the
//! root key, which signs the trust list on the node. Anyone who can read the data folder holds
//! every key. `issuer serve` says so loudly at every start.
//!
//! **Production** (`issuer serve --production --root-key KEY`): the node holds **no root private
//! key**, only the root public key verifiers pin; it prepares each trust list and an admin signs
//! it offline with `keys trust-list sign` (docs/key-ceremony.md). The keystore is unlocked with a
//! passphrase given at start, from a [`SecretSource`] (a prompt, an inherited descriptor, a file
//! such as systemd's `LoadCredential=`, or the environment; never an argument), so no secret
//! that opens it lies on disk. A keystore with a key file beside it, or one holding a root
//! private key, is refused.
//!
//! In either mode the node's signing keys may live in an HSM (`--hsm-module`, `--hsm-token`,
//! the user PIN from a [`SecretSource`]): they are generated on the token, sensitive and not
//! extractable, and the keystore records their public keys, labels and states
//! (`Keystore::register_hsm_signing`). A node's first start generates and activates its first
//! signing key: nothing was published before it, so there is nothing for verifiers to sync first.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use keys::{KeyRole, Keystore, Pkcs11Token, SecretSource, Unlock};
use verifier::{KeyState, PublicKey};
use zeroize::Zeroizing;

use crate::custody::{Custody, Root};

/// How the node holds its keys.
#[derive(Debug, Clone)]
pub enum KeyMode {
    /// Development keys beside the data (a key file unlocks them; the root signs on the node).
    Development,
    /// No root private key on the node; the keystore opens with a passphrase from `passphrase`.
    Production {
        /// The root public key verifiers pin: uploaded trust lists must verify under it.
        root: PublicKey,
        passphrase: SecretSource,
    },
}

/// A PKCS#11 token that holds the node's signing keys.
#[derive(Debug, Clone)]
pub struct Hsm {
    /// The PKCS#11 module (SoftHSM2: `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The token's label.
    pub token: String,
    /// Where the user PIN comes from.
    pub pin: SecretSource,
}

/// A key event of the start, to audit once the store is open.
#[derive(Debug, Clone)]
pub struct StartEvent {
    pub action: &'static str,
    pub subject: String,
    pub detail: String,
}

/// What [`open_keys`] opened.
#[derive(Debug)]
pub struct Opened {
    pub custody: Custody,
    /// The record-sealing key and the blind-index key, derived from the deployment keystore.
    pub data_key: Zeroizing<[u8; 32]>,
    pub index_key: Zeroizing<[u8; 32]>,
    pub events: Vec<StartEvent>,
}

/// Opens (on first start, creates) the deployment keystore in `keys_dir` and, for a node of
/// several (`node`), the node's own keystore in `node_dir`; makes sure the node has an active
/// signing key (on the token, with `hsm`).
pub fn open_keys(
    mode: &KeyMode,
    hsm: Option<&Hsm>,
    keys_dir: &Path,
    node_dir: &Path,
    node: Option<&str>,
    now: u64,
) -> anyhow::Result<Opened> {
    let mut events = Vec::new();
    let token = match hsm {
        None => None,
        Some(h) => {
            let pin = h.pin.read("HSM user PIN").context("reading the HSM user PIN")?;
            let token = Pkcs11Token::open(&h.module, &h.token, pin)
                .with_context(|| format!("opening the PKCS#11 token {:?} in {}", h.token, h.module.display()))?;
            Some(token)
        }
    };
    let (deployment, own, root) = match mode {
        KeyMode::Development => {
            let mut deployment = open_development(keys_dir).context("opening the keystore")?;
            if deployment.root().is_err() {
                let kid = deployment.generate_root(now)?;
                events.push(event("key.generated", kid.to_string(), "role=root mode=development"));
            }
            match node {
                None => (None, deployment, Root::Local(None)),
                Some(_) => {
                    let own = open_development(node_dir).context("opening this node's keystore")?;
                    (Some(deployment), own, Root::Local(None))
                }
            }
        }
        KeyMode::Production { root, passphrase } => {
            let deployment = open_production(keys_dir, passphrase).context("opening the keystore")?;
            match node {
                None => (None, deployment, Root::Offline(*root)),
                Some(_) => {
                    let own = open_production(node_dir, passphrase).context("opening this node's keystore")?;
                    (Some(deployment), own, Root::Offline(*root))
                }
            }
        }
    };
    // The data keys come from the deployment keystore, which every node of a deployment shares.
    let secrets_from = deployment.as_ref().unwrap_or(&own);
    let (data_key, index_key) =
        (secrets_from.derive_secret("issuer/records/v1")?, secrets_from.derive_secret("issuer/blind-index/v1")?);
    let mut own = own;
    ensure_signing_key(&mut own, node, token.as_ref(), now, &mut events)?;
    let root = match (root, deployment) {
        // Several development nodes: the root is in the deployment keystore.
        (Root::Local(_), Some(d)) => Root::Local(Some(std::sync::Mutex::new(d))),
        (root, _) => root,
    };
    let custody = Custody::new(own, root, node.map(str::to_owned), token).context("opening the signing key")?;
    Ok(Opened { custody, data_key, index_key, events })
}

/// The pinned root key from the command line: base64url, or `@FILE` holding it (as `keys root
/// public` writes it).
pub fn parse_root_key(arg: &str) -> anyhow::Result<PublicKey> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading the root key from {path}"))?,
        None => arg.to_owned(),
    };
    text.trim().parse().map_err(|_| anyhow::anyhow!("the root key is not a base64url Ed25519 public key"))
}

fn event(action: &'static str, subject: String, detail: impl Into<String>) -> StartEvent {
    StartEvent { action, subject, detail: detail.into() }
}

/// A development keystore: unlocked by the key file `dir/kek`, both created on first start.
fn open_development(dir: &Path) -> anyhow::Result<Keystore> {
    let kek = dir.join("kek");
    if !dir.join("keystore.json").exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        if !kek.exists() {
            keys::create_key_file(&kek)?;
        }
    }
    let unlock = Unlock::KeyFile(kek);
    match Keystore::open_or_create(dir, &unlock, keys::KdfParams::default()) {
        Ok((ks, _)) => Ok(ks),
        Err(keys::KeyError::WrongSecret) => bail!(
            "the keystore in {} does not open with its development key file: is it a production keystore? \
             (start with --production)",
            dir.display()
        ),
        Err(e) => Err(e.into()),
    }
}

/// A production keystore: unlocked by a passphrase; created (asking twice at a prompt) on first
/// start. Refuses a development keystore and one that holds a root private key.
fn open_production(dir: &Path, passphrase: &SecretSource) -> anyhow::Result<Keystore> {
    if dir.join("kek").exists() {
        bail!(
            "{} holds a development key file (kek) that unlocks the keystore beside it: production needs a keystore \
             of its own, opened with a passphrase (a new --keys folder, or remove the development keys)",
            dir.display()
        );
    }
    let exists = dir.join("keystore.json").exists();
    let secret =
        if exists { passphrase.read("keystore passphrase") } else { passphrase.read_new("keystore passphrase") }
            .context("reading the keystore passphrase")?;
    let unlock = Unlock::Passphrase(secret);
    let ks = if exists {
        Keystore::open(dir, &unlock)?
    } else {
        Keystore::open_or_create(dir, &unlock, keys::KdfParams::default())?.0
    };
    if let Some(r) = ks.records().iter().find(|r| r.role == KeyRole::Root && r.state != KeyState::Revoked) {
        bail!(
            "the keystore in {} holds a root private key ({}): production keeps the root offline \
             (docs/key-ceremony.md); move it to the offline machine",
            dir.display(),
            r.kid
        );
    }
    Ok(ks)
}

/// The node's first start: a signing key, generated (on the token when there is one) and
/// activated at once.
fn ensure_signing_key(
    ks: &mut Keystore,
    node: Option<&str>,
    token: Option<&Pkcs11Token>,
    now: u64,
    events: &mut Vec<StartEvent>,
) -> anyhow::Result<()> {
    match ks.active_record(node) {
        Some(r) => {
            if token.is_some() && r.hsm_label.is_none() {
                tracing::warn!(
                    kid = %r.kid,
                    "the active signing key is a software key although an HSM is configured: prepare a next key \
                     (POST /v1/admin/keys, generated on the token) and activate it"
                );
            }
            Ok(())
        }
        None => {
            let kid = crate::custody::generate(ks, token, node, now).context("generating the first signing key")?;
            let backend = if token.is_some() { "hsm" } else { "keystore" };
            events.push(event("key.generated", kid.to_string(), format!("role=signing backend={backend}")));
            ks.activate(&kid, now)?;
            events.push(event(
                "key.activated",
                kid.to_string(),
                "first key of the node: nothing was published before it".to_owned(),
            ));
            Ok(())
        }
    }
}
