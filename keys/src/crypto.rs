//! The keystore's cryptography: randomness, key-encryption keys, sealing, and keyed derivation.
//!
//! Labels are fixed, versioned byte strings (`vneid-keystore/v1/…`), so that no two uses of one
//! key can be confused and a later format can change them.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::KeyError;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// `N` random bytes from the operating system, or an error (never a panic) if it fails.
pub(crate) fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, KeyError> {
    let mut b = Zeroizing::new([0u8; N]);
    OsRng.try_fill_bytes(b.as_mut()).map_err(|_| KeyError::Crypto("the system random generator failed"))?;
    Ok(b)
}

/// Argon2id parameters for a passphrase-derived KEK, stored in `keystore.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended minimum for Argon2id (19 MiB, 2 passes, 1 lane). Tests pass smaller
    /// parameters to stay fast.
    fn default() -> Self {
        Self { m_kib: 19_456, t: 2, p: 1 }
    }
}

impl KdfParams {
    /// Upper bounds, so a damaged `keystore.json` cannot make us allocate terabytes or spin for
    /// hours: 4 GiB, 64 passes, 16 lanes.
    const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    const MAX_T: u32 = 64;
    const MAX_P: u32 = 16;

    fn argon2(&self) -> Option<argon2::Argon2<'static>> {
        if self.m_kib > Self::MAX_M_KIB || self.t > Self::MAX_T || self.p > Self::MAX_P {
            return None;
        }
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32)).ok()?;
        Some(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }

    /// Refuses parameters Argon2 refuses or that exceed the bounds.
    pub(crate) fn check(&self) -> Result<(), KeyError> {
        self.argon2().map(|_| ()).ok_or(KeyError::InvalidArgument("Argon2id parameters out of bounds"))
    }
}

/// How a keystore is unlocked: what the key-encryption key (KEK) comes from.
pub enum Unlock {
    /// A passphrase, stretched with Argon2id under the keystore's salt and [`KdfParams`].
    Passphrase(Zeroizing<String>),
    /// A 32-byte random file (see [`crate::create_key_file`]); the KEK is derived from its bytes
    /// under a fixed label.
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

/// How `keystore.json` says its KEK is obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum KekSource {
    Argon2id {
        /// 16 random bytes, base64url.
        salt: String,
        params: KdfParams,
    },
    KeyFile,
}

impl KekSource {
    /// A fresh source for `unlock`: a new random salt for a passphrase.
    pub(crate) fn new(unlock: &Unlock, kdf: KdfParams) -> Result<Self, KeyError> {
        Ok(match unlock {
            Unlock::Passphrase(p) => {
                if p.is_empty() {
                    return Err(KeyError::InvalidArgument("empty passphrase"));
                }
                kdf.check()?;
                KekSource::Argon2id { salt: b64(random::<16>()?.as_ref()), params: kdf }
            }
            Unlock::KeyFile(_) => KekSource::KeyFile,
        })
    }

    /// Derives the KEK. `header` names `keystore.json` in corruption errors.
    pub(crate) fn derive(&self, unlock: &Unlock, header: &Path) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let mut kek = Zeroizing::new([0u8; 32]);
        match (unlock, self) {
            (Unlock::Passphrase(p), KekSource::Argon2id { salt, params }) => {
                let salt = unb64(salt).filter(|s| s.len() >= 8).ok_or(KeyError::corrupt(header, "bad salt"))?;
                let argon = params.argon2().ok_or(KeyError::corrupt(header, "Argon2id parameters out of bounds"))?;
                argon
                    .hash_password_into(p.as_bytes(), &salt, kek.as_mut())
                    .map_err(|_| KeyError::corrupt(header, "Argon2id refused its parameters"))?;
            }
            (Unlock::KeyFile(path), KekSource::KeyFile) => {
                let raw = read_key_file(path)?;
                kek = prf(raw.as_ref(), &[b"vneid-keystore/v1/kek/key-file"])?;
            }
            // A passphrase for a key-file keystore or the reverse: the caller has the wrong
            // secret, the file is fine.
            _ => return Err(KeyError::WrongSecret),
        }
        Ok(kek)
    }
}

/// Reads a key file: exactly 32 bytes, or it is not the right secret.
fn read_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeyError::NotFound(format!("key file {}", path.display())),
        _ => KeyError::Io { path: path.to_path_buf(), source: e },
    })?;
    // Read one byte more than we need, to tell a 32-byte file from a longer one, and no more.
    let mut buf = Zeroizing::new(Vec::with_capacity(33));
    file.take(33).read_to_end(&mut buf).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
    let mut out = Zeroizing::new([0u8; 32]);
    if buf.len() != 32 {
        return Err(KeyError::WrongSecret);
    }
    out.copy_from_slice(&buf);
    Ok(out)
}

/// HMAC-SHA-256 of the concatenated `parts` under `key`: the keyed derivation and MAC used
/// throughout. HMAC takes keys of any length, so the error path is unreachable in practice.
pub(crate) fn prf(key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| KeyError::Crypto("HMAC key refused"))?;
    for p in parts {
        mac.update(p);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

/// Checks an HMAC-SHA-256 tag in constant time.
pub(crate) fn verify_mac(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return false;
    };
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(tag).is_ok()
}

/// XChaCha20-Poly1305: `nonce || ciphertext || tag`, with a random 24-byte nonce (random nonces
/// are safe at this size, which is why XChaCha rather than ChaCha).
pub(crate) fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, KeyError> {
    let nonce = random::<NONCE_LEN>()?;
    // The cipher wipes its copy of the key on drop.
    let ct = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(nonce.as_ref()), Payload { msg: plain, aad })
        .map_err(|_| KeyError::Crypto("encryption failed"))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens what [`seal`] made; `None` when the key, the associated data or a byte is wrong.
pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

pub(crate) fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_binds_key_and_associated_data() {
        let key = [7u8; 32];
        let s = seal(&key, b"aad", b"secret").unwrap();
        assert_eq!(open(&key, b"aad", &s).unwrap().as_slice(), b"secret");
        assert!(open(&key, b"other", &s).is_none());
        assert!(open(&[8u8; 32], b"aad", &s).is_none());
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 0x80;
            assert!(open(&key, b"aad", &t).is_none(), "byte {i}");
        }
        assert!(open(&key, b"aad", &s[..39]).is_none());
        assert_ne!(seal(&key, b"aad", b"secret").unwrap(), s, "fresh nonce each time");
    }

    #[test]
    fn kdf_params_are_bounded() {
        KdfParams::default().check().unwrap();
        KdfParams { m_kib: 64, t: 1, p: 1 }.check().unwrap();
        for bad in [
            KdfParams { m_kib: 4, t: 1, p: 1 },
            KdfParams { m_kib: u32::MAX, t: 1, p: 1 },
            KdfParams { m_kib: 64, t: 0, p: 1 },
            KdfParams { m_kib: 64, t: 1_000, p: 1 },
            KdfParams { m_kib: 1024, t: 1, p: 64 },
        ] {
            assert!(matches!(bad.check(), Err(KeyError::InvalidArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn key_files_must_be_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, [1u8; 33]).unwrap();
        assert!(matches!(KekSource::KeyFile.derive(&Unlock::KeyFile(p.clone()), &p), Err(KeyError::WrongSecret)));
        std::fs::write(&p, [1u8; 31]).unwrap();
        assert!(matches!(KekSource::KeyFile.derive(&Unlock::KeyFile(p.clone()), &p), Err(KeyError::WrongSecret)));
        std::fs::write(&p, [1u8; 32]).unwrap();
        let a = KekSource::KeyFile.derive(&Unlock::KeyFile(p.clone()), &p).unwrap();
        assert_ne!(a.as_ref(), &[1u8; 32], "the KEK is derived, not the file itself");
        let missing = dir.path().join("none");
        assert!(matches!(KekSource::KeyFile.derive(&Unlock::KeyFile(missing), &p), Err(KeyError::NotFound(_))));
    }

    #[test]
    fn unlock_debug_hides_the_passphrase() {
        let d = format!("{:?}", Unlock::Passphrase(Zeroizing::new("hunter2".into())));
        assert!(!d.contains("hunter2"));
    }
}
