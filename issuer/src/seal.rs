//! Personal data at rest: every application record is sealed with XChaCha20-Poly1305 under a
//! data key from the keystore, with the record's id as associated data (so a sealed blob cannot
//! be moved to another id). Look-ups that must not reveal the looked-up value (passport number,
//! residence card number) go through a keyed blind index (HMAC-SHA-256).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Seals and opens records; holds the keys, never exposes them.
pub struct Sealer {
    aead: XChaCha20Poly1305,
    index_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("sealed record does not open (wrong key, or corrupted)")]
pub struct SealError;

impl Sealer {
    /// `data_key` encrypts records; `index_key` keys the blind indexes.
    pub fn new(data_key: &Zeroizing<[u8; 32]>, index_key: Zeroizing<[u8; 32]>) -> Self {
        Self { aead: XChaCha20Poly1305::new(data_key.as_ref().into()), index_key }
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        // Encryption into a Vec only fails for inputs beyond 256 GiB.
        let ct = self.aead.encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
        let mut out = Vec::with_capacity(24 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < 24 + 16 {
            return Err(SealError);
        }
        let (nonce, ct) = sealed.split_at(24);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| SealError)
    }

    /// A keyed digest for equality look-ups: the same input gives the same index; without the
    /// key it reveals nothing.
    pub fn blind_index(&self, domain: &str, value: &str) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.as_ref()).unwrap_or_else(|_| unreachable_hmac());
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> Hmac<Sha256> {
    // Invariant: HMAC-SHA-256 takes keys of any length, so `new_from_slice` cannot fail.
    panic!("HMAC rejected a 32-byte key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_bind_to_aad() {
        let s = Sealer::new(&Zeroizing::new([7u8; 32]), Zeroizing::new([9u8; 32]));
        let sealed = s.seal(b"app:1", b"passport M12345678");
        assert!(!sealed.windows(9).any(|w| w == b"M12345678"));
        assert_eq!(&s.open(b"app:1", &sealed).unwrap()[..], b"passport M12345678");
        assert!(s.open(b"app:2", &sealed).is_err());
        let mut bad = sealed.clone();
        bad[30] ^= 1;
        assert!(s.open(b"app:1", &bad).is_err());
        assert_eq!(s.blind_index("p", "x"), s.blind_index("p", "x"));
        assert_ne!(s.blind_index("p", "x"), s.blind_index("q", "x"));
    }
}
