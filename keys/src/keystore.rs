//! The encrypted keystore directory (layout in the crate docs).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use verifier::{KeyId, KeyState, TrustedKey};
use zeroize::Zeroizing;

use crate::crypto::{b64, open, prf, random, seal, unb64, verify_mac, KdfParams, KekSource, Unlock};
use crate::fsio::{private_dir, read_bounded, write_atomic, write_new};
use crate::record::{self, KeyPolicy, KeyRecord, KeyRole, Op};
use crate::signer::{key_id_for, Signer as _, SigningHandle};
use crate::KeyError;

const HEADER_FILE: &str = "keystore.json";
const RECORDS_FILE: &str = "keys.json";
const KEYS_DIR: &str = "keys";
const FORMAT: u32 = 1;

/// Size bounds for what we read back: a damaged file must not make us allocate without limit.
const MAX_HEADER: u64 = 64 << 10;
const MAX_RECORDS: u64 = 4 << 20;
const MAX_SEALED_KEY: u64 = 1 << 10;
/// How many fresh keys to draw before giving up on finding an unused key id. With 4-byte ids
/// and up to [`verifier::build::trustlist::MAX_KEYS`] keys, one redraw is already a 1-in-4-million event.
const MAX_DRAWS: usize = 16;
/// Longest node name; it is published in the trust list.
const MAX_NODE: usize = 64;

/// Starts every `.key` file, so a stray file is told from a sealed key at once.
const KEY_MAGIC: &[u8] = b"VNK1";

const AAD_MASTER: &[u8] = b"vneid-keystore/v1/master";
const LABEL_SEED_KEY: &[u8] = b"vneid-keystore/v1/key/seed-seal";
const LABEL_RECORDS_KEY: &[u8] = b"vneid-keystore/v1/key/records-mac";
const LABEL_RECORDS_MAC: &[u8] = b"vneid-keystore/v1/records\0";
const LABEL_DERIVE: &[u8] = b"vneid-keystore/v1/derive\0";
const LABEL_HEADER_SUM: &[u8] = b"vneid-keystore/v1/header\0";

/// `keystore.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    v: u32,
    kek: KekSource,
    /// The master key sealed under the KEK, base64url.
    master: String,
    /// SHA-256 over the fields above, base64url: tells a damaged file from a wrong secret. Not a
    /// MAC (anyone can recompute it); what it protects is sealed anyway.
    sum: String,
}

impl Header {
    fn new(kek: KekSource, master: String) -> Self {
        let mut h = Self { v: FORMAT, kek, master, sum: String::new() };
        h.sum = h.compute_sum();
        h
    }

    fn compute_sum(&self) -> String {
        let mut d = Sha256::new();
        d.update(LABEL_HEADER_SUM);
        d.update(self.v.to_be_bytes());
        match &self.kek {
            KekSource::Argon2id { salt, params } => {
                d.update(b"argon2id\0");
                d.update(salt.as_bytes());
                for n in [params.m_kib, params.t, params.p] {
                    d.update(n.to_be_bytes());
                }
            }
            KekSource::KeyFile => d.update(b"key_file\0"),
        }
        d.update(b"\0");
        d.update(self.master.as_bytes());
        b64(&d.finalize())
    }
}

/// `keys.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsFile {
    v: u32,
    keys: Vec<KeyRecord>,
    /// HMAC-SHA-256 of `keys` (as serialized) under a key derived from the master key.
    mac: String,
}

fn json<T: Serialize + ?Sized>(value: &T, path: &Path) -> Result<Vec<u8>, KeyError> {
    serde_json::to_vec_pretty(value).map_err(|e| KeyError::Io { path: path.to_path_buf(), source: e.into() })
}

/// An unlocked keystore: the key records, and the master key that opens the sealed seeds.
///
/// Operations that change keys take `&mut self`; share a keystore behind a `Mutex`. Only one
/// process at a time may open a keystore directory for writing.
pub struct Keystore {
    dir: PathBuf,
    master: Zeroizing<[u8; 32]>,
    records: Vec<KeyRecord>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore").field("dir", &self.dir).field("keys", &self.records.len()).finish_non_exhaustive()
    }
}

impl Keystore {
    /// Creates an empty keystore in `dir` (created if needed, made 0700), unlocked by `unlock`.
    /// `kdf` applies to a passphrase and is stored with the salt; it is ignored for a key file,
    /// which must already exist ([`crate::create_key_file`]).
    ///
    /// Fails with [`KeyError::AlreadyExists`] if `dir` holds a keystore. `keystore.json` is
    /// written last, so a crash part-way leaves no keystore, and creating again works.
    pub fn create(dir: &Path, unlock: &Unlock, kdf: KdfParams) -> Result<Self, KeyError> {
        let source = KekSource::new(unlock, kdf)?;
        let header_path = dir.join(HEADER_FILE);
        private_dir(dir)?;
        if header_path.exists() {
            return Err(KeyError::AlreadyExists(header_path));
        }
        private_dir(&dir.join(KEYS_DIR))?;
        let kek = source.derive(unlock, &header_path)?;
        let master = random::<32>()?;
        let wrapped = seal(&kek, AAD_MASTER, master.as_ref())?;
        let ks = Self { dir: dir.to_path_buf(), master, records: Vec::new() };
        ks.write_records(&[])?;
        let header = Header::new(source, b64(&wrapped));
        write_new(&header_path, &json(&header, &header_path)?)?;
        Ok(ks)
    }

    /// Opens and unlocks the keystore in `dir`.
    ///
    /// [`KeyError::NotFound`] when there is none (or the key file is missing),
    /// [`KeyError::WrongSecret`] when `unlock` does not open it, [`KeyError::Corrupt`] when a
    /// file is damaged or was edited.
    pub fn open(dir: &Path, unlock: &Unlock) -> Result<Self, KeyError> {
        let header_path = dir.join(HEADER_FILE);
        let raw = read_bounded(&header_path, MAX_HEADER)?
            .ok_or_else(|| KeyError::NotFound(format!("no keystore in {}", dir.display())))?;
        let header: Header =
            serde_json::from_slice(&raw).map_err(|_| KeyError::corrupt(&header_path, "not a keystore header"))?;
        if header.v != FORMAT {
            return Err(KeyError::corrupt(&header_path, "unsupported format version"));
        }
        if header.sum != header.compute_sum() {
            return Err(KeyError::corrupt(&header_path, "checksum mismatch"));
        }
        let wrapped = unb64(&header.master).ok_or(KeyError::corrupt(&header_path, "master key is not base64url"))?;
        let kek = header.kek.derive(unlock, &header_path)?;
        // The header is intact (checksum), so a master key that does not open means a wrong KEK.
        let opened = open(&kek, AAD_MASTER, &wrapped).ok_or(KeyError::WrongSecret)?;
        if opened.len() != 32 {
            return Err(KeyError::corrupt(&header_path, "master key length"));
        }
        let mut master = Zeroizing::new([0u8; 32]);
        master.copy_from_slice(&opened);
        let mut ks = Self { dir: dir.to_path_buf(), master, records: Vec::new() };
        ks.records = ks.read_records()?;
        Ok(ks)
    }

    /// Opens the keystore in `dir`, or creates an empty one if there is none. Returns whether it
    /// was created.
    pub fn open_or_create(dir: &Path, unlock: &Unlock, kdf: KdfParams) -> Result<(Self, bool), KeyError> {
        if dir.join(HEADER_FILE).exists() {
            return Ok((Self::open(dir, unlock)?, false));
        }
        match Self::create(dir, unlock, kdf) {
            Ok(ks) => Ok((ks, true)),
            // Another process created it in the meantime.
            Err(KeyError::AlreadyExists(_)) => Ok((Self::open(dir, unlock)?, false)),
            Err(e) => Err(e),
        }
    }

    /// Changes what unlocks the keystore (a new passphrase, a passphrase instead of a key file,
    /// new Argon2id parameters). Only the master key is rewrapped: the sealed keys and the
    /// secrets from [`Keystore::derive_secret`] stay as they are. A key file must exist already.
    pub fn rekey(&mut self, unlock: &Unlock, kdf: KdfParams) -> Result<(), KeyError> {
        let header_path = self.dir.join(HEADER_FILE);
        let source = KekSource::new(unlock, kdf)?;
        let kek = source.derive(unlock, &header_path)?;
        let wrapped = seal(&kek, AAD_MASTER, self.master.as_ref())?;
        let header = Header::new(source, b64(&wrapped));
        write_atomic(&header_path, &json(&header, &header_path)?)
    }

    /// The keystore directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every key's public metadata, in generation order.
    pub fn records(&self) -> &[KeyRecord] {
        &self.records
    }

    /// One key's public metadata.
    pub fn record(&self, kid: &KeyId) -> Option<&KeyRecord> {
        self.records.iter().find(|r| &r.kid == kid)
    }

    /// Generates the root key (state `active`). Refused while a root key that is not revoked
    /// exists: verifiers pin one root key, so replacing it is a deliberate revoke-then-generate.
    pub fn generate_root(&mut self, now: u64) -> Result<KeyId, KeyError> {
        if let Some(r) = self.records.iter().find(|r| r.role == KeyRole::Root && r.state != KeyState::Revoked) {
            return Err(KeyError::InvalidTransition(format!("root key {} exists; revoke it first", r.kid)));
        }
        self.generate(|h| KeyRecord::new_root(h.kid().clone(), h.public_key(), now), random::<32>)
    }

    /// Generates a signing key for `node` in state `next`: signing from `now` for
    /// `policy.signing_period`, what it signs valid for `policy.credential_lifetime` after that.
    /// Publish it in the trust list before [`Keystore::activate`] so verifiers know it first.
    pub fn generate_signing(&mut self, now: u64, node: Option<&str>, policy: &KeyPolicy) -> Result<KeyId, KeyError> {
        if node.is_some_and(|n| n.is_empty() || n.len() > MAX_NODE) {
            return Err(KeyError::InvalidArgument("node name must be 1 to 64 bytes"));
        }
        self.generate(|h| KeyRecord::new_signing(h.kid().clone(), h.public_key(), now, node, policy), random::<32>)
    }

    /// Records a signing key whose private half lives in an HSM (see `Pkcs11Token::generate`), in
    /// state `next` with the same periods as [`Keystore::generate_signing`]: its state then moves
    /// through [`Keystore::activate`], [`Keystore::retire`], [`Keystore::revoke`] and reaches
    /// [`Keystore::trusted_keys`] like any other, while signing goes through the token
    /// ([`Keystore::active_signer`] with the token). `hsm_label` is the key's `CKA_LABEL`.
    ///
    /// Refuses a key id already recorded ([`KeyError::InvalidArgument`]; generate another key on
    /// the token).
    pub fn register_hsm_signing(
        &mut self,
        public_key: verifier::PublicKey,
        hsm_label: &str,
        now: u64,
        node: Option<&str>,
        policy: &KeyPolicy,
    ) -> Result<KeyId, KeyError> {
        if node.is_some_and(|n| n.is_empty() || n.len() > MAX_NODE) {
            return Err(KeyError::InvalidArgument("node name must be 1 to 64 bytes"));
        }
        if hsm_label.is_empty() || hsm_label.len() > MAX_NODE {
            return Err(KeyError::InvalidArgument("HSM key label must be 1 to 64 bytes"));
        }
        let kid = key_id_for(&public_key);
        if self.record(&kid).is_some() {
            return Err(KeyError::InvalidArgument("this key id is already recorded"));
        }
        let mut rec = KeyRecord::new_signing(kid.clone(), public_key, now, node, policy);
        rec.hsm_label = Some(hsm_label.to_owned());
        let mut records = self.records.clone();
        records.push(rec);
        self.commit(records)?;
        Ok(kid)
    }

    /// The record of the active signing key of `node`, whichever backend holds it.
    pub fn active_record(&self, node: Option<&str>) -> Option<&KeyRecord> {
        self.records
            .iter()
            .find(|r| r.role == KeyRole::Signing && r.state == KeyState::Active && r.node.as_deref() == node)
    }

    /// A signing handle on the active signing key of `node`, from the keystore or, for a key held
    /// in an HSM, from `token` (with a pool of up to `sessions` sessions). The handle's key id is
    /// checked against the record: a token key with the right label but another key is refused
    /// ([`KeyError::Corrupt`]).
    #[cfg(feature = "pkcs11")]
    pub fn active_signer(
        &self,
        node: Option<&str>,
        token: Option<&crate::Pkcs11Token>,
        sessions: usize,
    ) -> Result<std::sync::Arc<dyn crate::Signer>, KeyError> {
        let r = self
            .active_record(node)
            .ok_or_else(|| KeyError::NotFound(format!("active signing key for node {node:?}")))?;
        let Some(label) = &r.hsm_label else {
            return Ok(std::sync::Arc::new(self.load(r)?));
        };
        let token = token.ok_or_else(|| {
            KeyError::NotFound(format!("PKCS#11 token for key {} (HSM label {label:?}): none is open", r.kid))
        })?;
        let signer = token.signer(label, sessions)?;
        if signer.public_key() != r.public_key {
            return Err(KeyError::corrupt(
                &self.dir.join(RECORDS_FILE),
                "the HSM key under the recorded label is another key than the record",
            ));
        }
        Ok(std::sync::Arc::new(signer))
    }

    /// Draws keys until one has an unused key id, seals its seed, then records it. The key file
    /// is written before the record, so a crash leaves at worst an unlisted key file.
    fn generate(
        &mut self,
        record: impl FnOnce(&SigningHandle) -> KeyRecord,
        mut seed: impl FnMut() -> Result<Zeroizing<[u8; 32]>, KeyError>,
    ) -> Result<KeyId, KeyError> {
        let mut fresh = None;
        for _ in 0..MAX_DRAWS {
            let h = SigningHandle::from_seed(seed()?);
            if self.record(h.kid()).is_none() {
                fresh = Some(h);
                break;
            }
        }
        let h = fresh.ok_or(KeyError::Crypto("no unused key id after repeated draws"))?;
        let rec = record(&h);
        let sealed = [KEY_MAGIC, &seal(&*self.seed_key()?, &seed_aad(&rec.kid, rec.role), h.seed().as_ref())?].concat();
        crate::fsio::write_atomic(&self.key_path(&rec.kid), &sealed)?;
        let kid = rec.kid.clone();
        let mut records = self.records.clone();
        records.push(rec);
        self.commit(records)?;
        Ok(kid)
    }

    /// `next → active`. Every other active signing key of the same node retires, its signing
    /// period ending at `now`. Refused once the key's signing period is over.
    pub fn activate(&mut self, kid: &KeyId, now: u64) -> Result<(), KeyError> {
        self.transition(kid, Op::Activate, now)
    }

    /// `next | active → retired`: the key stops signing (`sign_until` becomes at most `now`);
    /// what it signed stays valid until `valid_until`.
    pub fn retire(&mut self, kid: &KeyId, now: u64) -> Result<(), KeyError> {
        self.transition(kid, Op::Retire, now)
    }

    /// Anything but `revoked` → `revoked` (the root key included): verifiers refuse everything the
    /// key signed once they sync the next trust list. Revoking a node's active key leaves the
    /// node without one until a new key is activated.
    pub fn revoke(&mut self, kid: &KeyId, now: u64) -> Result<(), KeyError> {
        self.transition(kid, Op::Revoke, now)
    }

    fn transition(&mut self, kid: &KeyId, op: Op, now: u64) -> Result<(), KeyError> {
        let mut records = self.records.clone();
        record::apply(&mut records, kid, op, now)?;
        self.commit(records)
    }

    /// A handle on the active signing key of `node`.
    pub fn active_signing(&self, node: Option<&str>) -> Result<SigningHandle, KeyError> {
        let r = self
            .records
            .iter()
            .find(|r| r.role == KeyRole::Signing && r.state == KeyState::Active && r.node.as_deref() == node)
            .ok_or_else(|| KeyError::NotFound(format!("active signing key for node {node:?}")))?;
        self.load(r)
    }

    /// A handle on any key that is not revoked (a retired key may still sign status lists for
    /// what it issued; a revoked key signs nothing).
    pub fn handle(&self, kid: &KeyId) -> Result<SigningHandle, KeyError> {
        let r = self.record(kid).ok_or_else(|| KeyError::NotFound(format!("key {kid}")))?;
        if r.state == KeyState::Revoked {
            return Err(KeyError::NotFound(format!("usable key {kid} (it is revoked)")));
        }
        self.load(r)
    }

    /// A handle on the root key (the one that is not revoked).
    pub fn root(&self) -> Result<SigningHandle, KeyError> {
        let r = self
            .records
            .iter()
            .find(|r| r.role == KeyRole::Root && r.state != KeyState::Revoked)
            .ok_or_else(|| KeyError::NotFound("root key".into()))?;
        self.load(r)
    }

    /// Every signing key in every state, as trust list entries. Revoked keys are included, so
    /// verifiers learn of the revocation; the root key is not (verifiers pin it separately).
    pub fn trusted_keys(&self) -> Vec<TrustedKey> {
        self.records.iter().filter(|r| r.role == KeyRole::Signing).map(KeyRecord::to_trusted).collect()
    }

    /// A 32-byte secret for another component (record encryption, blind indexes), derived from
    /// the master key under `label` with HMAC-SHA-256: distinct labels give independent secrets,
    /// the same label the same secret across restarts and [`Keystore::rekey`], and the caller
    /// never holds the master key.
    pub fn derive_secret(&self, label: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        prf(self.master.as_ref(), &[LABEL_DERIVE, label.as_bytes()])
    }

    fn seed_key(&self) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        prf(self.master.as_ref(), &[LABEL_SEED_KEY])
    }

    fn records_key(&self) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        prf(self.master.as_ref(), &[LABEL_RECORDS_KEY])
    }

    fn key_path(&self, kid: &KeyId) -> PathBuf {
        // Key ids print as base64url, which is safe in a file name.
        self.dir.join(KEYS_DIR).join(format!("{kid}.key"))
    }

    /// Writes `records` to disk, then adopts them: memory never runs ahead of the disk.
    fn commit(&mut self, records: Vec<KeyRecord>) -> Result<(), KeyError> {
        self.write_records(&records)?;
        self.records = records;
        Ok(())
    }

    fn write_records(&self, records: &[KeyRecord]) -> Result<(), KeyError> {
        let path = self.dir.join(RECORDS_FILE);
        let body = serde_json::to_vec(records).map_err(|e| KeyError::Io { path: path.clone(), source: e.into() })?;
        let mac = prf(self.records_key()?.as_ref(), &[LABEL_RECORDS_MAC, &body])?;
        let file = RecordsFile { v: FORMAT, keys: records.to_vec(), mac: b64(mac.as_ref()) };
        write_atomic(&path, &json(&file, &path)?)
    }

    fn read_records(&self) -> Result<Vec<KeyRecord>, KeyError> {
        let path = self.dir.join(RECORDS_FILE);
        let corrupt = |reason| KeyError::corrupt(&path, reason);
        let raw = read_bounded(&path, MAX_RECORDS)?.ok_or(corrupt("missing"))?;
        let file: RecordsFile = serde_json::from_slice(&raw).map_err(|_| corrupt("does not parse"))?;
        if file.v != FORMAT {
            return Err(corrupt("unsupported format version"));
        }
        let body = serde_json::to_vec(&file.keys).map_err(|_| corrupt("does not serialize"))?;
        let tag = unb64(&file.mac).ok_or(corrupt("MAC is not base64url"))?;
        if !verify_mac(self.records_key()?.as_ref(), &[LABEL_RECORDS_MAC, &body], &tag) {
            return Err(corrupt("MAC mismatch: edited or damaged"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &file.keys {
            if !seen.insert(&r.kid) {
                return Err(corrupt("duplicate key id"));
            }
            if key_id_for(&r.public_key) != r.kid {
                return Err(corrupt("key id does not match its public key"));
            }
        }
        Ok(file.keys)
    }

    /// Opens a key's sealed seed and checks it is the key its record describes.
    fn load(&self, r: &KeyRecord) -> Result<SigningHandle, KeyError> {
        if let Some(label) = &r.hsm_label {
            return Err(KeyError::NotFound(format!(
                "software key {}: it is held in an HSM under the label {label:?}",
                r.kid
            )));
        }
        let path = self.key_path(&r.kid);
        let corrupt = |reason| KeyError::corrupt(&path, reason);
        let sealed = read_bounded(&path, MAX_SEALED_KEY)?.ok_or(corrupt("key file missing"))?;
        let body = sealed.strip_prefix(KEY_MAGIC).ok_or(corrupt("not a sealed key"))?;
        // The keystore is unlocked, so the secret is right: a seal that does not open was
        // damaged, or was made for another key id or role (a copied or renamed file).
        let seed = open(&*self.seed_key()?, &seed_aad(&r.kid, r.role), body)
            .ok_or(corrupt("does not open: damaged, or sealed for another key"))?;
        if seed.len() != 32 {
            return Err(corrupt("seed length"));
        }
        let mut s = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(&seed);
        let h = SigningHandle::from_seed(s);
        if h.public_key() != r.public_key {
            return Err(corrupt("holds another key than its record"));
        }
        Ok(h)
    }
}

/// Associated data of a sealed seed: the key id and role, so a file opens only as the key it was
/// sealed for.
fn seed_aad(kid: &KeyId, role: KeyRole) -> Vec<u8> {
    format!("vneid-keystore/v1/seed\0{kid}\0{}", role.as_str()).into_bytes()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::record::tests::NOW;
    use crate::Signer;

    const FAST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    fn pass(p: &str) -> Unlock {
        Unlock::Passphrase(Zeroizing::new(p.to_owned()))
    }

    /// A passphrase keystore with a root key and an active signing key.
    fn populated(dir: &Path) -> (Keystore, KeyId, KeyId) {
        let mut ks = Keystore::create(dir, &pass("correct horse"), FAST).unwrap();
        let root = ks.generate_root(NOW).unwrap();
        let kid = ks.generate_signing(NOW, None, &KeyPolicy::default()).unwrap();
        ks.activate(&kid, NOW).unwrap();
        (ks, root, kid)
    }

    fn key_file(dir: &Path, kid: &KeyId) -> PathBuf {
        dir.join(KEYS_DIR).join(format!("{kid}.key"))
    }

    fn walk(d: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
        out
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    type Edit = Box<dyn Fn(&mut serde_json::Value)>;

    fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        f(&mut v);
        fs::write(path, serde_json::to_vec(&v).unwrap()).unwrap();
    }

    #[test]
    fn wrong_passphrase_is_wrong_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (ks, root, _) = populated(dir.path());
        drop(ks);
        assert!(matches!(Keystore::open(dir.path(), &pass("wrong")), Err(KeyError::WrongSecret)));
        assert!(matches!(Keystore::open(dir.path(), &pass("correct horse ")), Err(KeyError::WrongSecret)));
        // A key file for a passphrase keystore is the wrong kind of secret, not corruption.
        let kf = dir.path().join("kek");
        crate::create_key_file(&kf).unwrap();
        assert!(matches!(Keystore::open(dir.path(), &Unlock::KeyFile(kf)), Err(KeyError::WrongSecret)));
        let ks = Keystore::open(dir.path(), &pass("correct horse")).unwrap();
        assert_eq!(ks.root().unwrap().kid(), &root);
    }

    #[test]
    fn wrong_key_file_is_wrong_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let (k1, k2) = (dir.path().join("k1"), dir.path().join("k2"));
        crate::create_key_file(&k1).unwrap();
        crate::create_key_file(&k2).unwrap();
        Keystore::create(&store, &Unlock::KeyFile(k1.clone()), FAST).unwrap();
        assert!(matches!(Keystore::open(&store, &Unlock::KeyFile(k2)), Err(KeyError::WrongSecret)));
        assert!(matches!(Keystore::open(&store, &pass("x")), Err(KeyError::WrongSecret)));
        let missing = dir.path().join("k3");
        assert!(matches!(Keystore::open(&store, &Unlock::KeyFile(missing.clone())), Err(KeyError::NotFound(_))));
        assert!(matches!(
            Keystore::create(&dir.path().join("s2"), &Unlock::KeyFile(missing), FAST),
            Err(KeyError::NotFound(_))
        ));
        Keystore::open(&store, &Unlock::KeyFile(k1)).unwrap();
    }

    #[test]
    fn default_kdf_params_work() {
        let dir = tempfile::tempdir().unwrap();
        Keystore::create(dir.path(), &pass("pw"), KdfParams::default()).unwrap();
        Keystore::open(dir.path(), &pass("pw")).unwrap();
        let raw = fs::read_to_string(dir.path().join(HEADER_FILE)).unwrap();
        assert!(raw.contains("\"m_kib\": 19456"), "{raw}");
        assert!(matches!(Keystore::create(&dir.path().join("e"), &pass(""), FAST), Err(KeyError::InvalidArgument(_))));
        let tiny = KdfParams { m_kib: 1, t: 1, p: 1 };
        assert!(matches!(
            Keystore::create(&dir.path().join("t"), &pass("pw"), tiny),
            Err(KeyError::InvalidArgument(_))
        ));
    }

    #[test]
    fn damaged_header_is_corrupt_not_wrong_secret() {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path());
        let h = dir.path().join(HEADER_FILE);
        let good = fs::read(&h).unwrap();
        let flip_char = |s: &str| {
            let mut c: Vec<char> = s.chars().collect();
            c[5] = if c[5] == 'A' { 'B' } else { 'A' };
            c.into_iter().collect::<String>()
        };
        let edits: Vec<Edit> = vec![
            Box::new(move |v| v["master"] = flip_char(v["master"].as_str().unwrap()).into()),
            Box::new(move |v| v["kek"]["salt"] = flip_char(v["kek"]["salt"].as_str().unwrap()).into()),
            Box::new(|v| v["kek"]["params"]["m_kib"] = 128.into()),
            Box::new(|v| v["v"] = 2.into()),
            Box::new(|v| v["extra"] = 1.into()),
        ];
        for (i, edit) in edits.iter().enumerate() {
            fs::write(&h, &good).unwrap();
            edit_json(&h, edit);
            let r = Keystore::open(dir.path(), &pass("correct horse"));
            assert!(matches!(r, Err(KeyError::Corrupt { .. })), "edit {i}: {r:?}");
        }
        // Out-of-bounds parameters with a matching checksum: refused before Argon2 runs.
        fs::write(&h, &good).unwrap();
        let mut hd: Header = serde_json::from_slice(&good).unwrap();
        hd.kek = KekSource::Argon2id { salt: b64(&[1; 16]), params: KdfParams { m_kib: u32::MAX, t: 1, p: 1 } };
        hd.sum = hd.compute_sum();
        fs::write(&h, serde_json::to_vec(&hd).unwrap()).unwrap();
        assert!(matches!(Keystore::open(dir.path(), &pass("correct horse")), Err(KeyError::Corrupt { .. })));
        for garbage in [&b""[..], b"{", b"null", &good[..good.len() / 2]] {
            fs::write(&h, garbage).unwrap();
            assert!(matches!(Keystore::open(dir.path(), &pass("correct horse")), Err(KeyError::Corrupt { .. })));
        }
        fs::write(&h, &good).unwrap();
        Keystore::open(dir.path(), &pass("correct horse")).unwrap();
    }

    #[test]
    fn missing_and_existing_keystores() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(Keystore::open(dir.path(), &pass("pw")), Err(KeyError::NotFound(_))));
        let (ks, created) = Keystore::open_or_create(dir.path(), &pass("pw"), FAST).unwrap();
        assert!(created);
        drop(ks);
        assert!(matches!(Keystore::create(dir.path(), &pass("pw"), FAST), Err(KeyError::AlreadyExists(_))));
        let (_, created) = Keystore::open_or_create(dir.path(), &pass("pw"), FAST).unwrap();
        assert!(!created);
        assert!(matches!(Keystore::open_or_create(dir.path(), &pass("no"), FAST), Err(KeyError::WrongSecret)));
    }

    #[test]
    fn tampered_key_file_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let (ks, _, kid) = populated(dir.path());
        let path = key_file(dir.path(), &kid);
        let good = fs::read(&path).unwrap();
        assert_eq!(good.len(), KEY_MAGIC.len() + 24 + 32 + 16);
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x01;
            fs::write(&path, &b).unwrap();
            assert!(matches!(ks.handle(&kid), Err(KeyError::Corrupt { .. })), "byte {i}");
            assert!(matches!(ks.active_signing(None), Err(KeyError::Corrupt { .. })), "byte {i}");
        }
        for bad in [&good[..good.len() - 1], &good[..10], &[][..], &[0u8; 2000][..]] {
            fs::write(&path, bad).unwrap();
            assert!(matches!(ks.handle(&kid), Err(KeyError::Corrupt { .. })));
        }
        fs::remove_file(&path).unwrap();
        assert!(matches!(ks.handle(&kid), Err(KeyError::Corrupt { .. })));
        fs::write(&path, &good).unwrap();
        ks.handle(&kid).unwrap();
    }

    #[test]
    fn a_key_file_opens_only_as_the_key_and_role_it_was_sealed_for() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, root, a) = populated(dir.path());
        let b = ks.generate_signing(NOW, None, &KeyPolicy::default()).unwrap();
        let (pa, pb) = (key_file(dir.path(), &a), key_file(dir.path(), &b));
        let b_good = fs::read(&pb).unwrap();
        // Signing key a's file renamed to b's name.
        fs::rename(&pa, &pb).unwrap();
        assert!(matches!(ks.handle(&b), Err(KeyError::Corrupt { .. })));
        // The root key's file under b's name.
        fs::copy(key_file(dir.path(), &root), &pb).unwrap();
        assert!(matches!(ks.handle(&b), Err(KeyError::Corrupt { .. })));
        // b's own seed sealed with the right kid but the root role.
        let seed = {
            fs::write(&pb, &b_good).unwrap();
            ks.handle(&b).unwrap().seed()
        };
        let wrong_role =
            [KEY_MAGIC, &seal(&ks.seed_key().unwrap(), &seed_aad(&b, KeyRole::Root), seed.as_ref()).unwrap()].concat();
        fs::write(&pb, wrong_role).unwrap();
        assert!(matches!(ks.handle(&b), Err(KeyError::Corrupt { .. })));
        fs::write(&pb, &b_good).unwrap();
        assert_eq!(ks.handle(&b).unwrap().kid(), &b);
    }

    #[test]
    fn edited_records_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, _, kid) = populated(dir.path());
        ks.revoke(&kid, NOW + 1).unwrap();
        drop(ks);
        let p = dir.path().join(RECORDS_FILE);
        let good = fs::read(&p).unwrap();
        let edits: Vec<Edit> = vec![
            // Un-revoking a key.
            Box::new(|v| v["keys"][1]["state"] = "active".into()),
            Box::new(|v| v["keys"][1]["valid_until"] = 1.into()),
            Box::new(|v| v["keys"].as_array_mut().unwrap().truncate(1)),
            Box::new(|v| v["mac"] = "AAAA".into()),
            Box::new(|v| v["v"] = 9.into()),
        ];
        for (i, edit) in edits.iter().enumerate() {
            fs::write(&p, &good).unwrap();
            edit_json(&p, edit);
            let r = Keystore::open(dir.path(), &pass("correct horse"));
            assert!(matches!(r, Err(KeyError::Corrupt { .. })), "edit {i}: {r:?}");
        }
        fs::remove_file(&p).unwrap();
        assert!(matches!(Keystore::open(dir.path(), &pass("correct horse")), Err(KeyError::Corrupt { .. })));
        fs::write(&p, &good).unwrap();
        Keystore::open(dir.path(), &pass("correct horse")).unwrap();
    }

    #[test]
    fn rotation_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, root, first) = populated(dir.path());
        let sig = ks.active_signing(None).unwrap().sign(b"hello").unwrap();
        let second = ks.generate_signing(NOW + 10, None, &KeyPolicy::default()).unwrap();
        // Each operation is on disk when it returns: a second instance sees it at once.
        let other = Keystore::open(dir.path(), &pass("correct horse")).unwrap();
        assert_eq!(other.records(), ks.records());
        ks.activate(&second, NOW + 20).unwrap();
        let hn = ks.generate_signing(NOW + 30, Some("hn"), &KeyPolicy::default()).unwrap();
        ks.activate(&hn, NOW + 30).unwrap();
        let spare = ks.generate_signing(NOW + 40, None, &KeyPolicy::default()).unwrap();
        ks.retire(&spare, NOW + 41).unwrap();
        ks.revoke(&first, NOW + 50).unwrap();
        let before = ks.records().to_vec();
        drop(ks);

        let ks = Keystore::open(dir.path(), &pass("correct horse")).unwrap();
        assert_eq!(ks.records(), before);
        let state = |k: &KeyId| ks.record(k).unwrap().state;
        assert_eq!(
            [state(&root), state(&first), state(&second), state(&hn), state(&spare)],
            [KeyState::Active, KeyState::Revoked, KeyState::Active, KeyState::Active, KeyState::Retired]
        );
        assert_eq!(ks.active_signing(None).unwrap().kid(), &second);
        assert_eq!(ks.active_signing(Some("hn")).unwrap().kid(), &hn);
        assert!(matches!(ks.active_signing(Some("hcm")), Err(KeyError::NotFound(_))));
        assert!(matches!(ks.handle(&first), Err(KeyError::NotFound(_))), "a revoked key gives no handle");
        let retired = ks.handle(&spare).unwrap();
        assert_eq!(retired.kid(), &spare);
        assert!(matches!(ks.handle(&KeyId::try_from(&[0u8; 4][..]).unwrap()), Err(KeyError::NotFound(_))));

        let trusted = ks.trusted_keys();
        assert_eq!(trusted.len(), 4, "every signing key, revoked included; not the root");
        assert!(trusted.iter().all(|t| t.kid != root));
        assert!(trusted.iter().any(|t| t.kid == first && t.state == KeyState::Revoked));

        // The revoked key's seed still decrypts the same (Ed25519 is deterministic): nothing was
        // re-encrypted or lost on the way.
        let first_rec = ks.record(&first).unwrap().clone();
        let h = ks.load(&first_rec).unwrap();
        assert_eq!(h.sign(b"hello").unwrap(), sig);
    }

    #[test]
    fn a_failed_write_changes_nothing_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, _, kid) = populated(dir.path());
        let before = ks.records().to_vec();
        let p = dir.path().join(RECORDS_FILE);
        fs::remove_file(&p).unwrap();
        fs::create_dir_all(p.join("blocker")).unwrap();
        assert!(matches!(ks.retire(&kid, NOW + 1), Err(KeyError::Io { .. })));
        assert!(ks.generate_signing(NOW, None, &KeyPolicy::default()).is_err());
        assert_eq!(ks.records(), before);
    }

    #[test]
    fn hsm_keys_are_recorded_and_rotate_but_give_no_software_handle() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, _, soft) = populated(dir.path());
        // A public key standing in for one generated on a token.
        let pk = SigningHandle::generate().unwrap().public_key();
        let kid = ks.register_hsm_signing(pk, "vneid-hn-2026", NOW + 1, None, &KeyPolicy::default()).unwrap();
        assert_eq!(kid, key_id_for(&pk));
        assert!(matches!(
            ks.register_hsm_signing(pk, "again", NOW, None, &KeyPolicy::default()),
            Err(KeyError::InvalidArgument(_))
        ));
        assert!(matches!(
            ks.register_hsm_signing(
                SigningHandle::generate().unwrap().public_key(),
                "",
                NOW,
                None,
                &KeyPolicy::default()
            ),
            Err(KeyError::InvalidArgument(_))
        ));
        assert_eq!(ks.record(&kid).unwrap().state, KeyState::Next);
        ks.activate(&kid, NOW + 10).unwrap();
        assert_eq!(ks.active_record(None).unwrap().kid, kid);
        assert_eq!(ks.record(&soft).unwrap().state, KeyState::Retired);
        let e = ks.active_signing(None).unwrap_err();
        assert!(matches!(&e, KeyError::NotFound(m) if m.contains("HSM")), "{e}");
        #[cfg(feature = "pkcs11")]
        assert!(matches!(ks.active_signer(None, None, 1), Err(KeyError::NotFound(_))));
        assert!(ks.trusted_keys().iter().any(|t| t.kid == kid && t.state == KeyState::Active));
        // The label survives a reopen under the records' MAC, and software keys still load.
        drop(ks);
        let ks = Keystore::open(dir.path(), &pass("correct horse")).unwrap();
        assert_eq!(ks.record(&kid).unwrap().hsm_label.as_deref(), Some("vneid-hn-2026"));
        assert_eq!(ks.handle(&soft).unwrap().kid(), &soft);
        #[cfg(feature = "pkcs11")]
        assert_eq!(
            ks.active_signer(Some("none"), None, 1).unwrap_err().to_string(),
            "not found: active signing key for node Some(\"none\")"
        );
        // A software key's record is written without the field (older keystores read the same).
        let raw = fs::read_to_string(dir.path().join(RECORDS_FILE)).unwrap();
        assert_eq!(raw.matches("hsm_label").count(), 1, "{raw}");
    }

    #[test]
    fn root_key_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut ks = Keystore::create(dir.path(), &pass("pw"), FAST).unwrap();
        assert!(matches!(ks.root(), Err(KeyError::NotFound(_))));
        let r1 = ks.generate_root(NOW).unwrap();
        assert!(matches!(ks.generate_root(NOW), Err(KeyError::InvalidTransition(_))));
        assert!(matches!(ks.activate(&r1, NOW), Err(KeyError::InvalidTransition(_))));
        ks.revoke(&r1, NOW + 1).unwrap();
        let r2 = ks.generate_root(NOW + 2).unwrap();
        assert_eq!(ks.root().unwrap().kid(), &r2);
        assert!(ks.trusted_keys().is_empty());
        for bad in ["", &"n".repeat(65)] {
            assert!(matches!(
                ks.generate_signing(NOW, Some(bad), &KeyPolicy::default()),
                Err(KeyError::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn generation_redraws_on_a_key_id_collision() {
        let dir = tempfile::tempdir().unwrap();
        let mut ks = Keystore::create(dir.path(), &pass("pw"), FAST).unwrap();
        let taken = ks
            .generate(|h| KeyRecord::new_root(h.kid().clone(), h.public_key(), NOW), || Ok(Zeroizing::new([1; 32])))
            .unwrap();
        let mut draws = [[1u8; 32], [2u8; 32]].into_iter();
        let policy = KeyPolicy::default();
        let fresh = ks
            .generate(
                |h| KeyRecord::new_signing(h.kid().clone(), h.public_key(), NOW, None, &policy),
                || Ok(Zeroizing::new(draws.next().unwrap())),
            )
            .unwrap();
        assert_ne!(fresh, taken);
        assert_eq!(fresh, *SigningHandle::from_seed(Zeroizing::new([2; 32])).kid());
        // Only colliding draws: give up with an error, not a loop or a duplicate.
        let r = ks.generate(
            |h| KeyRecord::new_signing(h.kid().clone(), h.public_key(), NOW, None, &policy),
            || Ok(Zeroizing::new([2; 32])),
        );
        assert!(matches!(r, Err(KeyError::Crypto(_))));
        assert_eq!(ks.records().len(), 2);
    }

    #[test]
    fn no_file_holds_a_secret_in_clear_and_all_are_private() {
        for unlock_by_file in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = dir.path().join("store");
            let kf = dir.path().join("kek");
            let unlock = if unlock_by_file {
                crate::create_key_file(&kf).unwrap();
                Unlock::KeyFile(kf.clone())
            } else {
                pass("pw")
            };
            let mut ks = Keystore::create(&store, &unlock, FAST).unwrap();
            let root = ks.generate_root(NOW).unwrap();
            let kid = ks.generate_signing(NOW, None, &KeyPolicy::default()).unwrap();
            ks.activate(&kid, NOW).unwrap();
            let mut secrets: Vec<Vec<u8>> = vec![
                ks.handle(&kid).unwrap().seed().to_vec(),
                ks.handle(&root).unwrap().seed().to_vec(),
                ks.master.to_vec(),
                ks.seed_key().unwrap().to_vec(),
                ks.records_key().unwrap().to_vec(),
            ];
            if unlock_by_file {
                secrets.push(fs::read(&kf).unwrap());
            }
            for path in walk(&store) {
                #[cfg(unix)]
                assert_eq!(
                    crate::fsio::tests::mode(&path),
                    if path.is_dir() { 0o700 } else { 0o600 },
                    "{}",
                    path.display()
                );
                if path.is_dir() {
                    continue;
                }
                let bytes = fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes).to_lowercase();
                for s in &secrets {
                    assert!(!bytes.windows(32).any(|w| w == s.as_slice()), "{} holds a secret", path.display());
                    assert!(!text.contains(&hex(s)), "{} holds a secret in hex", path.display());
                    assert!(
                        !String::from_utf8_lossy(&bytes).contains(&b64(s)),
                        "{} holds a secret in base64",
                        path.display()
                    );
                }
            }
            #[cfg(unix)]
            assert_eq!(crate::fsio::tests::mode(&store), 0o700);
            let d = format!("{ks:?} {:?}", ks.root().unwrap());
            for s in &secrets {
                assert!(!d.contains(&hex(s)) && !d.contains(&b64(s)));
            }
        }
    }

    #[test]
    fn rekey_keeps_keys_and_derived_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ks, root, kid) = populated(dir.path());
        let secret = ks.derive_secret("issuer/records/v1").unwrap();
        assert_ne!(*secret, *ks.derive_secret("issuer/blind-index/v1").unwrap());
        ks.rekey(&pass("new passphrase"), FAST).unwrap();
        assert!(matches!(Keystore::open(dir.path(), &pass("correct horse")), Err(KeyError::WrongSecret)));
        let ks = Keystore::open(dir.path(), &pass("new passphrase")).unwrap();
        assert_eq!(*ks.derive_secret("issuer/records/v1").unwrap(), *secret);
        assert_eq!(ks.root().unwrap().kid(), &root);
        assert_eq!(ks.active_signing(None).unwrap().kid(), &kid);
        // To a key file and back.
        let kf = dir.path().join("kek");
        crate::create_key_file(&kf).unwrap();
        let mut ks = ks;
        ks.rekey(&Unlock::KeyFile(kf.clone()), FAST).unwrap();
        let ks = Keystore::open(dir.path(), &Unlock::KeyFile(kf)).unwrap();
        assert_eq!(*ks.derive_secret("issuer/records/v1").unwrap(), *secret);
        // Another keystore derives other secrets under the same label.
        let other = tempfile::tempdir().unwrap();
        let (o, _, _) = populated(other.path());
        assert_ne!(*o.derive_secret("issuer/records/v1").unwrap(), *secret);
    }
}
