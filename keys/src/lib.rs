//! Key custody for the e-ID issuer.
//!
//! Private keys never leave this crate: callers get a [`Signer`] (a [`SigningHandle`] here, an HSM
//! session behind the same trait later) that signs bytes and tells its key id and public key,
//! nothing more. Key material is zeroized on drop and never written to disk in clear.
//!
//! The [`Keystore`] is a directory:
//!
//! - `keystore.json`: format version, how the key-encryption key (KEK) is obtained (Argon2id over
//!   a passphrase, with its salt and parameters; or a 32-byte key file), and a check value that
//!   tells a wrong passphrase from a corrupted file;
//! - `keys.json`: the public metadata of every key ([`KeyRecord`]): id, role, public key, rotation
//!   state and periods;
//! - `keys/<kid>.key`: each private seed sealed with XChaCha20-Poly1305 under the KEK, with the
//!   key id and role as associated data, so a file renamed to another id does not open.
//!
//! Every write is atomic and durable (temporary file, fsync, rename, fsync of the directory), so
//! a crash leaves either the old or the new state. Rotation states follow the trust list's
//! [`verifier::KeyState`]: `next → active → retired`, and anything but `revoked` → `revoked`.
//! Nothing here reads the clock: times are UNIX seconds passed in.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use verifier::{KeyId, KeyState, PublicKey, TrustList, TrustedKey};
use zeroize::Zeroizing;

/// Everything that can go wrong in key custody.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The passphrase or key file does not unlock this keystore.
    #[error("wrong passphrase or key file")]
    WrongSecret,
    /// A keystore file does not parse or does not decrypt although the secret is right.
    #[error("keystore file corrupted: {0}")]
    Corrupt(String),
    /// No such key, or no key in the needed state.
    #[error("key not found: {0}")]
    NotFound(String),
    /// The rotation state machine refuses this change.
    #[error("invalid key state transition: {0}")]
    InvalidTransition(String),
    /// A keystore already exists where one was to be created, or none where one was expected.
    #[error("keystore {0}")]
    Keystore(String),
    #[error("I/O on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A trust list that breaks its own rules.
    #[error("trust list: {0}")]
    TrustList(#[from] verifier::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_path_buf(), source }
}

/// Something that signs with an Ed25519 key it does not reveal: a software handle here, a
/// PKCS#11 HSM session in production (same trait; not implemented in this crate yet).
pub trait Signer: Send + Sync + std::fmt::Debug {
    fn kid(&self) -> &KeyId;
    fn public_key(&self) -> PublicKey;
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], KeyError>;
}

/// The key id of a public key: the first 4 bytes of its SHA-256. Four bytes keep the QR proof
/// small; the keystore refuses to create a key whose id collides with one it has, so the trust
/// list never lists an id twice.
pub fn key_id_for(pk: &PublicKey) -> KeyId {
    let h = Sha256::digest(pk.as_bytes());
    // Four bytes are within KeyId's 1..=8 bound.
    KeyId::try_from(&h[..4]).unwrap_or_else(|_| unreachable_kid())
}

#[allow(clippy::panic)]
fn unreachable_kid() -> KeyId {
    // Invariant: a 4-byte slice is always a valid key id.
    panic!("4-byte key id refused")
}

/// A software signing handle. The key is zeroized when the handle is dropped.
pub struct SigningHandle {
    kid: KeyId,
    key: SigningKey,
}

impl std::fmt::Debug for SigningHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningHandle").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningHandle {
    /// A fresh random key (for ephemeral uses and tests).
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seed.as_mut());
        Self::from_seed(&seed)
    }

    pub fn from_seed(seed: &Zeroizing<[u8; 32]>) -> Self {
        let key = SigningKey::from_bytes(seed);
        let kid = key_id_for(&PublicKey::from_bytes(key.verifying_key().to_bytes()));
        Self { kid, key }
    }
}

impl Signer for SigningHandle {
    fn kid(&self) -> &KeyId {
        &self.kid
    }
    fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.key.verifying_key().to_bytes())
    }
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], KeyError> {
        Ok(self.key.sign(msg).to_bytes())
    }
}

/// Signs a trust list with the root key: the compact JWS verifiers check against the pinned
/// root public key.
pub fn sign_trust_list(root: &dyn Signer, list: &TrustList) -> Result<String, KeyError> {
    list.validate()?;
    let input = list.signing_input(root.kid());
    let sig = root.sign(input.as_bytes())?;
    Ok(verifier::jws::assemble(&input, &sig))
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// Signs trust lists only; kept offline in production.
    Root,
    /// Signs credentials and status lists.
    Signing,
}

/// Public metadata of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub kid: KeyId,
    pub role: KeyRole,
    pub public_key: PublicKey,
    pub state: KeyState,
    pub created_at: u64,
    pub sign_from: u64,
    pub sign_until: u64,
    pub valid_until: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// How long signing keys sign, and how long what they signed stays valid after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    pub signing_period: u64,
    /// Longer than any credential's life: credentials live at most 2 years (re-issued after;
    /// residence cards can last longer), so 5 years leaves room for policy changes.
    pub credential_lifetime: u64,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self { signing_period: 365 * 86_400, credential_lifetime: 5 * 365 * 86_400 }
    }
}

/// Argon2id parameters for passphrase-derived KEKs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended minimum for Argon2id.
    fn default() -> Self {
        Self { m_kib: 19_456, t: 2, p: 1 }
    }
}

/// How the keystore is unlocked.
pub enum Unlock {
    Passphrase(Zeroizing<String>),
    KeyFile(PathBuf),
}

impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unlock::Passphrase(_) => f.write_str("Unlock::Passphrase(..)"),
            Unlock::KeyFile(p) => write!(f, "Unlock::KeyFile({})", p.display()),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KekSource {
    Argon2id { salt: String, params: KdfParams },
    KeyFile,
}

#[derive(Serialize, Deserialize)]
struct Header {
    v: u32,
    kek: KekSource,
    /// XChaCha20-Poly1305 of a fixed text under the KEK.
    check: String,
}

const CHECK_TEXT: &[u8] = b"vneid keystore v1";

/// Creates a random 32-byte key file (mode 0600) to unlock a keystore with.
pub fn create_key_file(path: &Path) -> Result<(), KeyError> {
    let mut b = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(b.as_mut());
    write_atomic(path, b.as_ref())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

fn seal(kek: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let ct = XChaCha20Poly1305::new(kek.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    [nonce.as_slice(), &ct].concat()
}

fn open(kek: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 40 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(24);
    XChaCha20Poly1305::new(kek.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

/// An unlocked keystore directory.
pub struct Keystore {
    dir: PathBuf,
    kek: Zeroizing<[u8; 32]>,
    records: Vec<KeyRecord>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore").field("dir", &self.dir).field("keys", &self.records.len()).finish_non_exhaustive()
    }
}

fn derive_kek(unlock: &Unlock, source: &KekSource) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut kek = Zeroizing::new([0u8; 32]);
    match (unlock, source) {
        (Unlock::Passphrase(p), KekSource::Argon2id { salt, params }) => {
            let salt = B64.decode(salt).map_err(|_| KeyError::Corrupt("salt".into()))?;
            let params = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
                .map_err(|e| KeyError::Corrupt(e.to_string()))?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(p.as_bytes(), &salt, kek.as_mut())
                .map_err(|e| KeyError::Corrupt(e.to_string()))?;
        }
        (Unlock::KeyFile(path), KekSource::KeyFile) => {
            let raw = Zeroizing::new(fs::read(path).map_err(io(path))?);
            if raw.len() != 32 {
                return Err(KeyError::WrongSecret);
            }
            let mut h = Sha256::new();
            h.update(b"vneid keystore kek v1\0");
            h.update(&raw[..]);
            kek.copy_from_slice(&h.finalize());
        }
        _ => return Err(KeyError::WrongSecret),
    }
    Ok(kek)
}

impl Keystore {
    /// Creates a new, empty keystore in `dir` (which must not hold one).
    pub fn create(dir: &Path, unlock: &Unlock, kdf: KdfParams) -> Result<Self, KeyError> {
        fs::create_dir_all(dir.join("keys")).map_err(io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        }
        if dir.join("keystore.json").exists() {
            return Err(KeyError::Keystore(format!("already exists in {}", dir.display())));
        }
        let source = match unlock {
            Unlock::Passphrase(_) => {
                let mut salt = [0u8; 16];
                OsRng.fill_bytes(&mut salt);
                KekSource::Argon2id { salt: B64.encode(salt), params: kdf }
            }
            Unlock::KeyFile(_) => KekSource::KeyFile,
        };
        let kek = derive_kek(unlock, &source)?;
        let header = Header { v: 1, check: B64.encode(seal(&kek, b"check", CHECK_TEXT)), kek: source };
        let ks = Self { dir: dir.to_path_buf(), kek, records: Vec::new() };
        ks.save_records()?;
        write_atomic(&dir.join("keystore.json"), &serde_json::to_vec_pretty(&header).unwrap_or_default())?;
        Ok(ks)
    }

    /// Opens and unlocks an existing keystore.
    pub fn open(dir: &Path, unlock: &Unlock) -> Result<Self, KeyError> {
        let hp = dir.join("keystore.json");
        let raw = fs::read(&hp).map_err(io(&hp))?;
        let header: Header = serde_json::from_slice(&raw).map_err(|_| KeyError::Corrupt("keystore.json".into()))?;
        if header.v != 1 {
            return Err(KeyError::Corrupt("unsupported keystore version".into()));
        }
        let kek = derive_kek(unlock, &header.kek)?;
        let check = B64.decode(&header.check).map_err(|_| KeyError::Corrupt("check value".into()))?;
        match open(&kek, b"check", &check) {
            Some(t) if t.as_slice() == CHECK_TEXT => {}
            _ => return Err(KeyError::WrongSecret),
        }
        let rp = dir.join("keys.json");
        let raw = fs::read(&rp).map_err(io(&rp))?;
        let records = serde_json::from_slice(&raw).map_err(|_| KeyError::Corrupt("keys.json".into()))?;
        Ok(Self { dir: dir.to_path_buf(), kek, records })
    }

    pub fn records(&self) -> &[KeyRecord] {
        &self.records
    }

    fn save_records(&self) -> Result<(), KeyError> {
        write_atomic(&self.dir.join("keys.json"), &serde_json::to_vec_pretty(&self.records).unwrap_or_default())
    }

    fn key_path(&self, kid: &KeyId) -> PathBuf {
        self.dir.join("keys").join(format!("{kid}.key"))
    }

    fn aad(kid: &KeyId, role: KeyRole) -> Vec<u8> {
        format!("{kid}/{role:?}").into_bytes()
    }

    fn generate(
        &mut self,
        role: KeyRole,
        now: u64,
        node: Option<&str>,
        periods: (u64, u64, u64),
        state: KeyState,
    ) -> Result<KeyId, KeyError> {
        let (seed, kid) = loop {
            let mut seed = Zeroizing::new([0u8; 32]);
            OsRng.fill_bytes(seed.as_mut());
            let kid = SigningHandle::from_seed(&seed).kid.clone();
            if !self.records.iter().any(|r| r.kid == kid) {
                break (seed, kid);
            }
        };
        let public_key = SigningHandle::from_seed(&seed).public_key();
        write_atomic(&self.key_path(&kid), &seal(&self.kek, &Self::aad(&kid, role), seed.as_ref()))?;
        self.records.push(KeyRecord {
            kid: kid.clone(),
            role,
            public_key,
            state,
            created_at: now,
            sign_from: periods.0,
            sign_until: periods.1,
            valid_until: periods.2,
            node: node.map(str::to_owned),
        });
        self.save_records()?;
        Ok(kid)
    }

    /// Generates the root key (one per keystore).
    pub fn generate_root(&mut self, now: u64) -> Result<KeyId, KeyError> {
        if self.records.iter().any(|r| r.role == KeyRole::Root && r.state != KeyState::Revoked) {
            return Err(KeyError::InvalidTransition("a root key already exists".into()));
        }
        self.generate(KeyRole::Root, now, None, (now, u64::MAX / 2, u64::MAX / 2), KeyState::Active)
    }

    /// Generates a signing key in state `next`, published before it signs.
    pub fn generate_signing(&mut self, now: u64, node: Option<&str>, policy: &KeyPolicy) -> Result<KeyId, KeyError> {
        let until = now.saturating_add(policy.signing_period);
        self.generate(
            KeyRole::Signing,
            now,
            node,
            (now, until, until.saturating_add(policy.credential_lifetime)),
            KeyState::Next,
        )
    }

    fn index(&self, kid: &KeyId, role: KeyRole) -> Result<usize, KeyError> {
        self.records
            .iter()
            .position(|r| &r.kid == kid && r.role == role)
            .ok_or_else(|| KeyError::NotFound(kid.to_string()))
    }

    /// `next → active`; the node's previously active key retires now.
    pub fn activate(&mut self, kid: &KeyId, now: u64) -> Result<(), KeyError> {
        let i = self.index(kid, KeyRole::Signing)?;
        if self.records[i].state != KeyState::Next {
            return Err(KeyError::InvalidTransition(format!("{} → active", self.records[i].state.as_str())));
        }
        let node = self.records[i].node.clone();
        for r in self
            .records
            .iter_mut()
            .filter(|r| r.role == KeyRole::Signing && r.node == node && r.state == KeyState::Active)
        {
            r.state = KeyState::Retired;
            r.sign_until = r.sign_until.min(now);
        }
        let r = &mut self.records[i];
        r.state = KeyState::Active;
        r.sign_from = r.sign_from.min(now);
        self.save_records()
    }

    /// `active | next → retired`: stops signing; what it signed stays valid.
    pub fn retire(&mut self, kid: &KeyId, now: u64) -> Result<(), KeyError> {
        let i = self.index(kid, KeyRole::Signing)?;
        let r = &mut self.records[i];
        if !matches!(r.state, KeyState::Active | KeyState::Next) {
            return Err(KeyError::InvalidTransition(format!("{} → retired", r.state.as_str())));
        }
        r.state = KeyState::Retired;
        r.sign_until = r.sign_until.min(now).max(r.sign_from);
        self.save_records()
    }

    /// Anything but `revoked → revoked`: nothing it signed is accepted any more.
    pub fn revoke(&mut self, kid: &KeyId, _now: u64) -> Result<(), KeyError> {
        let i = self.records.iter().position(|r| &r.kid == kid).ok_or_else(|| KeyError::NotFound(kid.to_string()))?;
        let r = &mut self.records[i];
        if r.state == KeyState::Revoked {
            return Err(KeyError::InvalidTransition("revoked → revoked".into()));
        }
        r.state = KeyState::Revoked;
        self.save_records()
    }

    fn load(&self, kid: &KeyId, role: KeyRole) -> Result<SigningHandle, KeyError> {
        let path = self.key_path(kid);
        let sealed = fs::read(&path).map_err(io(&path))?;
        let seed = open(&self.kek, &Self::aad(kid, role), &sealed)
            .ok_or_else(|| KeyError::Corrupt(format!("{kid}.key does not open")))?;
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed.as_slice().try_into().map_err(|_| KeyError::Corrupt(format!("{kid}.key length")))?);
        let h = SigningHandle::from_seed(&seed);
        if &h.kid != kid {
            return Err(KeyError::Corrupt(format!("{kid}.key holds another key")));
        }
        Ok(h)
    }

    /// A handle on any signing key (decrypts it).
    pub fn handle(&self, kid: &KeyId) -> Result<SigningHandle, KeyError> {
        self.load(kid, KeyRole::Signing)
    }

    /// The node's active signing key.
    pub fn active_signing(&self, node: Option<&str>) -> Result<SigningHandle, KeyError> {
        let r = self
            .records
            .iter()
            .find(|r| r.role == KeyRole::Signing && r.state == KeyState::Active && r.node.as_deref() == node)
            .ok_or_else(|| KeyError::NotFound("no active signing key for this node".into()))?;
        self.load(&r.kid, KeyRole::Signing)
    }

    /// The root key.
    pub fn root(&self) -> Result<SigningHandle, KeyError> {
        let r = self
            .records
            .iter()
            .find(|r| r.role == KeyRole::Root && r.state != KeyState::Revoked)
            .ok_or_else(|| KeyError::NotFound("no root key".into()))?;
        self.load(&r.kid, KeyRole::Root)
    }

    /// Every signing key, in every state (revoked ones included, so verifiers learn of them), as
    /// trust list entries.
    pub fn trusted_keys(&self) -> Vec<TrustedKey> {
        self.records
            .iter()
            .filter(|r| r.role == KeyRole::Signing)
            .map(|r| TrustedKey {
                kid: r.kid.clone(),
                x: r.public_key,
                state: r.state,
                sign_from: r.sign_from,
                sign_until: r.sign_until,
                valid_until: r.valid_until,
                node: r.node.clone(),
            })
            .collect()
    }

    /// A 32-byte secret for another purpose (record encryption, blind indexes), derived from the
    /// KEK under a label, so the issuer gets distinct keys without holding the KEK.
    pub fn derive_secret(&self, label: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let mut h = Sha256::new();
        h.update(b"vneid keystore derive v1\0");
        h.update(self.kek.as_ref());
        h.update(label.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&h.finalize());
        Ok(out)
    }
}

/// Development first start: a key file `dir/kek` (0600), a keystore unlocked by it, a root key
/// and one active signing key; later starts open it. Production unlocks with a passphrase or an
/// HSM, and generates and keeps the root key offline. Returns whether it was created.
pub fn dev_init(dir: &Path, now: u64) -> Result<(Keystore, bool), KeyError> {
    let kek = dir.join("kek");
    let unlock = Unlock::KeyFile(kek.clone());
    if dir.join("keystore.json").exists() {
        return Ok((Keystore::open(dir, &unlock)?, false));
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    create_key_file(&kek)?;
    let mut ks = Keystore::create(dir, &unlock, KdfParams::default())?;
    ks.generate_root(now)?;
    let kid = ks.generate_signing(now, None, &KeyPolicy::default())?;
    ks.activate(&kid, now)?;
    Ok((ks, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000;
    const FAST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    fn pass(p: &str) -> Unlock {
        Unlock::Passphrase(Zeroizing::new(p.to_owned()))
    }

    #[test]
    fn passphrase_keystore_roundtrip_and_wrong_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut ks = Keystore::create(dir.path(), &pass("correct horse"), FAST).unwrap();
        let root = ks.generate_root(NOW).unwrap();
        let kid = ks.generate_signing(NOW, None, &KeyPolicy::default()).unwrap();
        ks.activate(&kid, NOW).unwrap();
        let sig = ks.active_signing(None).unwrap().sign(b"hello").unwrap();
        drop(ks);
        assert!(matches!(Keystore::open(dir.path(), &pass("wrong")), Err(KeyError::WrongSecret)));
        let ks = Keystore::open(dir.path(), &pass("correct horse")).unwrap();
        assert_eq!(ks.records().len(), 2);
        assert_eq!(ks.root().unwrap().kid(), &root);
        let h = ks.active_signing(None).unwrap();
        assert_eq!(h.sign(b"hello").unwrap(), sig, "Ed25519 is deterministic: same key after reopening");
        assert!(verifier::crypto::Ed25519Key::from_public(&h.public_key()).unwrap().verify(b"hello", &sig));
    }

    #[test]
    fn tampered_or_renamed_key_files_do_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let (ks, created) = dev_init(dir.path(), NOW).unwrap();
        assert!(created);
        let kid = ks.active_signing(None).unwrap().kid().clone();
        let root = ks.root().unwrap().kid().clone();
        let path = dir.path().join("keys").join(format!("{kid}.key"));
        let mut b = fs::read(&path).unwrap();
        b[30] ^= 1;
        fs::write(&path, &b).unwrap();
        assert!(matches!(ks.handle(&kid), Err(KeyError::Corrupt(_))));
        // The root key's file under the signing key's name: AAD binds kid and role.
        fs::copy(dir.path().join("keys").join(format!("{root}.key")), &path).unwrap();
        assert!(matches!(ks.handle(&kid), Err(KeyError::Corrupt(_))));
    }

    #[test]
    fn rotation_state_machine() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, _) = dev_init(dir.path(), NOW).unwrap();
        let first = ks.active_signing(None).unwrap().kid().clone();
        let second = ks.generate_signing(NOW + 10, None, &KeyPolicy::default()).unwrap();
        let state = |ks: &Keystore, k: &KeyId| ks.records().iter().find(|r| &r.kid == k).unwrap().state;
        assert_eq!(state(&ks, &second), KeyState::Next);
        // (operation, key, allowed)
        assert!(ks.retire(&first, NOW + 5).is_ok());
        assert!(ks.retire(&first, NOW + 6).is_err(), "retired → retired");
        assert!(ks.activate(&first, NOW + 6).is_err(), "retired → active");
        ks.activate(&second, NOW + 20).unwrap();
        assert!(ks.activate(&second, NOW + 21).is_err(), "active → active");
        let third = ks.generate_signing(NOW + 30, None, &KeyPolicy::default()).unwrap();
        ks.activate(&third, NOW + 40).unwrap();
        assert_eq!(state(&ks, &second), KeyState::Retired, "activation retires the node's active key");
        assert_eq!(ks.records().iter().find(|r| r.kid == second).unwrap().sign_until, NOW + 40);
        ks.revoke(&second, NOW + 50).unwrap();
        assert!(ks.revoke(&second, NOW + 51).is_err(), "revoked → revoked");
        assert!(ks.activate(&second, NOW + 51).is_err(), "revoked → active");
        let trusted = ks.trusted_keys();
        assert_eq!(trusted.len(), 3, "revoked keys stay listed; root is not listed");
        drop(ks);
        let ks = Keystore::open(dir.path(), &Unlock::KeyFile(dir.path().join("kek"))).unwrap();
        assert_eq!(state(&ks, &second), KeyState::Revoked, "states survive reopening");
        assert_eq!(ks.active_signing(None).unwrap().kid(), &third);
    }

    #[test]
    fn trust_list_signed_by_root_verifies_only_under_root() {
        let dir = tempfile::tempdir().unwrap();
        let (ks, _) = dev_init(dir.path(), NOW).unwrap();
        let list = TrustList {
            v: 1,
            issuer: "https://issuer.test".into(),
            seq: 1,
            issued_at: NOW,
            next_update: NOW + 86_400,
            keys: ks.trusted_keys(),
            status_lists: vec![],
        };
        let root = ks.root().unwrap();
        let jws = sign_trust_list(&root, &list).unwrap();
        assert_eq!(TrustList::verify(&jws, &root.public_key()).unwrap(), list);
        let other = SigningHandle::generate();
        assert!(TrustList::verify(&jws, &other.public_key()).is_err());
    }

    #[test]
    fn no_file_holds_a_seed_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let mut ks = Keystore::create(dir.path(), &pass("pw"), FAST).unwrap();
        ks.generate_root(NOW).unwrap();
        let kid = ks.generate_signing(NOW, None, &KeyPolicy::default()).unwrap();
        let h = ks.handle(&kid).unwrap();
        let seed = h.key.to_bytes();
        for entry in walk(dir.path()) {
            let b = fs::read(&entry).unwrap();
            assert!(!b.windows(32).any(|w| w == seed), "{} holds the seed", entry.display());
            let b64 = B64.encode(seed);
            assert!(!String::from_utf8_lossy(&b).contains(&b64));
        }
        assert!(!format!("{h:?}").contains(&hex(&seed)));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn walk(d: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
