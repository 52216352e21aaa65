//! The signing seam ([`Signer`]), the software handle behind it, and key ids.

use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};
use verifier::{KeyId, PublicKey};
use zeroize::Zeroizing;

use crate::crypto::random;
use crate::KeyError;

/// Bytes of SHA-256 kept as the key id.
pub const KEY_ID_LEN: usize = 4;
const _: () = assert!(KEY_ID_LEN >= 1 && KEY_ID_LEN <= KeyId::MAX_LEN);

/// Something that signs with an Ed25519 key it never reveals.
///
/// This is the seam where key storage can change without the issuer noticing: [`SigningHandle`]
/// holds the key in memory, and `Pkcs11Signer` (feature `pkcs11`) holds sessions on an HSM and a key object
/// handle, with `sign` a `C_Sign` call using `CKM_EDDSA`. Such a device can fail (session lost,
/// PIN locked), hence the `Result`; it reports [`KeyError::Device`].
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The id verifiers look the key up by, in the trust list and in signed headers.
    fn kid(&self) -> &KeyId;
    /// The Ed25519 public key.
    fn public_key(&self) -> PublicKey;
    /// A pure Ed25519 (RFC 8032) signature over `msg`.
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], KeyError>;
}

/// The key id of a public key: the first [`KEY_ID_LEN`] (4) bytes of SHA-256 over its 32 bytes.
///
/// Four bytes keep the QR proof small (the kid is in every one). They are short enough to
/// collide, and the trust list must never list a kid twice, so the keystore draws a new key when a
/// fresh key's id is already taken.
pub fn key_id_for(pk: &PublicKey) -> KeyId {
    let h = Sha256::digest(pk.as_bytes());
    // Invariant: `KeyId` accepts 1 to `KeyId::MAX_LEN` bytes and we give it `KEY_ID_LEN`, which
    // the const assertion above keeps in that range, so this cannot fail. (An infallible
    // constructor from a short array in `verifier` would remove this branch.)
    #[allow(clippy::expect_used)]
    KeyId::try_from(&h[..KEY_ID_LEN]).expect("KEY_ID_LEN is within KeyId's bounds")
}

/// A software signing handle: an Ed25519 key in memory, wiped when the handle is dropped.
///
/// It is deliberately not `Clone` (share it through an `Arc<dyn Signer>`), so that one copy of
/// the key exists per handle.
pub struct SigningHandle {
    kid: KeyId,
    /// `SigningKey` zeroizes itself on drop (ed25519-dalek's `zeroize` feature).
    key: SigningKey,
}

impl std::fmt::Debug for SigningHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningHandle").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningHandle {
    /// A fresh random key from the operating system's generator, for ephemeral uses (tests, the
    /// wallet simulator). Keys that must survive a restart come from a [`crate::Keystore`].
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self::from_seed(random::<32>()?))
    }

    /// The key with this 32-byte seed (RFC 8032 secret key). The seed is wiped when dropped.
    pub fn from_seed(seed: Zeroizing<[u8; 32]>) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let kid = key_id_for(&PublicKey::from_bytes(key.verifying_key().to_bytes()));
        Self { kid, key }
    }

    /// The seed, for sealing into the keystore. Crate-private: nothing outside sees it.
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032 section 7.1, TEST 1 (empty message).
        let seed: [u8; 32] =
            unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").try_into().unwrap();
        let h = SigningHandle::from_seed(Zeroizing::new(seed));
        assert_eq!(
            h.public_key().as_bytes().as_slice(),
            unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let sig = h.sign(b"").unwrap();
        assert_eq!(
            sig.as_slice(),
            unhex(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
        assert!(verifier::build::crypto::Ed25519Key::from_public(&h.public_key()).unwrap().verify(b"", &sig));
    }

    #[test]
    fn key_id_is_four_bytes_of_sha256() {
        let h = SigningHandle::generate().unwrap();
        let digest = Sha256::digest(h.public_key().as_bytes());
        assert_eq!(h.kid().as_bytes(), &digest[..4]);
        assert_eq!(h.kid(), &key_id_for(&h.public_key()));
        assert_ne!(SigningHandle::generate().unwrap().kid(), h.kid());
    }

    #[test]
    fn debug_shows_no_secret() {
        let seed = [0x5a; 32];
        let h = SigningHandle::from_seed(Zeroizing::new(seed));
        let d = format!("{h:?}");
        assert!(d.contains(&h.kid().to_string()));
        assert!(!d.contains("5a5a") && !d.contains("90, 90") && !d.contains("WlpaWlpa"), "{d}");
    }
}
