//! The wallet folder: `device.key` and `credentials.json`, written atomically and durably.
//!
//! Layout of `HOME` (created with mode 0700):
//!
//! - `device.key`: the raw 32-byte Ed25519 seed, mode 0600. Written once and never replaced
//!   (it is linked into place, which fails if a key is already there), because replacing it
//!   would orphan every credential bound to the old key. The wallet refuses to use a key file
//!   that other users can read, as ssh does.
//! - `credentials.json`: one [`CredentialSet`], replaced as a whole on every `receive`.
//!
//! Every write goes to a temporary file in the same folder, is fsynced, renamed (or linked)
//! over the target, and the folder is fsynced, so a crash leaves the old file or the new one,
//! never a torn one.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use verifier::build::qr::{decode_credential, QrCredential};
use verifier::{KeyId, Purpose, Rejection};
use zeroize::Zeroizing;

use crate::device::{DeviceKey, SEED_LEN};
use crate::{Error, Result};

const KEY_FILE: &str = "device.key";
const CREDENTIALS_FILE: &str = "credentials.json";
/// The store's format version.
const STORE_VERSION: u32 = 1;
/// A credentials file larger than this is not ours (an SD-JWT is at most 64 KiB).
const MAX_STORE: u64 = 1 << 20;

/// A wallet folder.
#[derive(Debug, Clone)]
pub struct Wallet {
    home: PathBuf,
}

impl Wallet {
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self { home: home.into() }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn key_path(&self) -> PathBuf {
        self.home.join(KEY_FILE)
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.home.join(CREDENTIALS_FILE)
    }

    /// Creates the folder and the device key unless they exist. Returns the key and whether it
    /// was created now.
    pub fn init(&self) -> Result<(DeviceKey, bool)> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.home)
            .map_err(|source| Error::Write { path: self.home.clone(), source })?;
        match self.device_key() {
            Err(Error::NotInitialized(_)) => {}
            other => return other.map(|k| (k, false)),
        }
        let key = DeviceKey::generate();
        let path = self.key_path();
        match write_atomic(&path, key.seed().as_slice(), 0o600, Replace::Never) {
            Ok(()) => Ok((key, true)),
            // Another `init` won the race: use its key, never ours.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.device_key().map(|k| (k, false)),
            Err(source) => Err(Error::Write { path, source }),
        }
    }

    /// Loads the device key.
    pub fn device_key(&self) -> Result<DeviceKey> {
        let path = self.key_path();
        let read_err = |source| Error::Read { path: path.clone(), source };
        let meta = match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NotInitialized(self.home.clone())),
            other => other.map_err(read_err)?,
        };
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::KeyPermissions(path));
        }
        let bytes = Zeroizing::new(fs::read(&path).map_err(read_err)?);
        let seed: Zeroizing<[u8; SEED_LEN]> = Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
            Error::CorruptStore { path: path.clone(), detail: format!("must hold exactly {SEED_LEN} bytes") }
        })?);
        Ok(DeviceKey::from_seed(&seed))
    }

    /// The stored credential set, if any.
    pub fn credentials(&self) -> Result<Option<CredentialSet>> {
        let path = self.credentials_path();
        let read_err = |source| Error::Read { path: path.clone(), source };
        let file = match File::open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            other => other.map_err(read_err)?,
        };
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(file, MAX_STORE + 1), &mut bytes).map_err(read_err)?;
        let corrupt = |detail: String| Error::CorruptStore { path: path.clone(), detail };
        if bytes.len() as u64 > MAX_STORE {
            return Err(corrupt("too large".into()));
        }
        let set: CredentialSet = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if set.v != STORE_VERSION {
            return Err(corrupt(format!("unsupported store version {}", set.v)));
        }
        for (purpose, q) in &set.qr {
            let (_, cred) = q.decode().map_err(|r| corrupt(format!("{purpose} credential: {r}")))?;
            if cred.purpose != *purpose {
                return Err(corrupt(format!("{purpose} credential is for {}", cred.purpose)));
            }
        }
        Ok(Some(set))
    }

    /// Replaces the stored credential set, atomically and durably.
    pub fn save_credentials(&self, set: &CredentialSet) -> Result<()> {
        let path = self.credentials_path();
        let mut json = serde_json::to_vec_pretty(set)
            .map_err(|e| Error::Write { path: path.clone(), source: io::Error::other(e) })?;
        json.push(b'\n');
        write_atomic(&path, &json, 0o600, Replace::Always).map_err(|source| Error::Write { path, source })
    }
}

/// What the wallet keeps from one issuance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSet {
    v: u32,
    issuer: String,
    received_at: u64,
    sd_jwt: String,
    qr: BTreeMap<Purpose, StoredQr>,
}

impl CredentialSet {
    /// Only [`crate::issuance`] builds one, after checking what it received.
    pub(crate) fn new(issuer: String, received_at: u64, sd_jwt: String, qr: BTreeMap<Purpose, StoredQr>) -> Self {
        Self { v: STORE_VERSION, issuer, received_at, sd_jwt, qr }
    }

    /// The credential issuer's URL, as in the offer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// When the set was received, UNIX seconds.
    pub fn received_at(&self) -> u64 {
        self.received_at
    }

    /// The SD-JWT VC as issued, with every disclosure.
    pub fn sd_jwt(&self) -> &str {
        &self.sd_jwt
    }

    pub fn qr(&self, purpose: Purpose) -> Option<&StoredQr> {
        self.qr.get(&purpose)
    }

    pub fn qr_all(&self) -> impl Iterator<Item = (Purpose, &StoredQr)> {
        self.qr.iter().map(|(p, q)| (*p, q))
    }
}

/// One purpose's QR credential: the issuer-signed, tagged COSE_Sign1 bytes, and its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredQr {
    #[serde(with = "b64")]
    credential: Vec<u8>,
    expires_at: u64,
}

impl StoredQr {
    pub(crate) fn new(credential: Vec<u8>, expires_at: u64) -> Self {
        Self { credential, expires_at }
    }

    /// The tagged COSE_Sign1 bytes, exactly as the issuer signed them.
    pub fn credential(&self) -> &[u8] {
        &self.credential
    }

    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Takes the credential apart (signature not checked: the wallet has no trust list).
    pub fn decode(&self) -> Result<(KeyId, QrCredential), Rejection> {
        decode_qr_credential(&self.credential)
    }
}

/// Parses one tagged COSE_Sign1 QR credential with nothing after it, and its CWT payload.
pub(crate) fn decode_qr_credential(bytes: &[u8]) -> Result<(KeyId, QrCredential), Rejection> {
    decode_credential(bytes)
}

mod b64 {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s).map_err(serde::de::Error::custom)
    }
}

/// Whether [`write_atomic`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    Always,
    /// Fail with `AlreadyExists` if the target exists (checked atomically by `link`).
    Never,
}

/// Writes `data` to `path` so that a crash leaves either the old content or the new, and the
/// new content is on disk when this returns: temporary file in the same folder, fsync, rename
/// (or link), fsync of the folder. The file gets `mode` (less the umask).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32, replace: Replace) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    // A leftover of a crashed run with the same process id.
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        match replace {
            Replace::Always => fs::rename(&tmp, path)?,
            Replace::Never => {
                fs::hard_link(&tmp, path)?;
                fs::remove_file(&tmp)?;
            }
        }
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_is_idempotent_and_the_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path().join("home"));
        assert!(matches!(w.device_key(), Err(Error::NotInitialized(_))));
        let (k1, created) = w.init().unwrap();
        assert!(created);
        let (k2, created) = w.init().unwrap();
        assert!(!created);
        assert_eq!(k1.public(), k2.public());
        assert_eq!(w.device_key().unwrap().public(), k1.public());
        let meta = fs::metadata(w.key_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        assert_eq!(fs::metadata(w.home()).unwrap().permissions().mode() & 0o777, 0o700);
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(w.home()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(KEY_FILE)]);
    }

    #[test]
    fn a_key_others_can_read_or_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        w.init().unwrap();
        fs::set_permissions(w.key_path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(w.device_key(), Err(Error::KeyPermissions(_))));
        fs::set_permissions(w.key_path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(w.key_path(), [1u8; 31]).unwrap();
        let e = w.device_key().unwrap_err();
        assert!(matches!(e, Error::CorruptStore { .. }) && e.is_usage(), "{e}");
    }

    #[test]
    fn write_atomic_replaces_or_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one", 0o600, Replace::Always).unwrap();
        write_atomic(&p, b"two", 0o600, Replace::Always).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let e = write_atomic(&p, b"three", 0o600, Replace::Never).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temporary file left behind");
        // A folder that does not exist: an error, not a panic.
        assert!(write_atomic(&dir.path().join("no/such/f"), b"x", 0o600, Replace::Always).is_err());
    }

    #[test]
    fn no_credentials_then_roundtrip_then_corruption_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        assert!(w.credentials().unwrap().is_none());
        let set = crate::issuance::tests::sample_set(&DeviceKey::from_seed(&[3; 32]));
        w.save_credentials(&set).unwrap();
        let back = w.credentials().unwrap().unwrap();
        assert_eq!(back, set);
        let json = fs::read_to_string(w.credentials_path()).unwrap();
        assert!(json.contains("\"landlord\"") && json.contains("\"residence-office\""), "{json}");

        fs::write(w.credentials_path(), b"{not json").unwrap();
        let e = w.credentials().unwrap_err();
        assert!(matches!(e, Error::CorruptStore { .. }), "{e}");
        // A QR credential filed under the wrong purpose.
        let swapped = json.replacen("\"landlord\"", "\"bankX\"", 1).replacen("\"bank\"", "\"landlord\"", 1).replacen(
            "\"bankX\"",
            "\"bank\"",
            1,
        );
        fs::write(w.credentials_path(), swapped).unwrap();
        assert!(matches!(w.credentials(), Err(Error::CorruptStore { .. })));
    }
}
