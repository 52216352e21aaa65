//! The device key: a signing handle in place of a phone's secure element.
//!
//! A real wallet never sees its private key: the secure element (or StrongBox / Secure
//! Enclave) generates it, keeps it, and signs what it is given. [`DeviceKey`] offers the same
//! two operations, [`DeviceKey::public`] and [`DeviceKey::sign`], so the rest of the crate is
//! written as it would be against hardware. The simulator keeps the seed in a file instead
//! (see [`crate::store`]); in memory it lives inside `ed25519_dalek::SigningKey`, which is
//! zeroized on drop, and every copy of the raw seed is held in [`Zeroizing`].

use core::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use verifier::PublicKey;
use zeroize::Zeroizing;

/// Length of the seed stored in `device.key`.
pub const SEED_LEN: usize = 32;

/// The holder's Ed25519 device key.
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key for a stored 32-byte seed.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The seed, for writing to the store; zeroized when dropped.
    pub(crate) fn seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::from_bytes(self.0.verifying_key().to_bytes())
    }

    /// Ed25519 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }
}

impl fmt::Debug for DeviceKey {
    /// Shows the public key only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verifier::build::crypto::Ed25519Key;

    #[test]
    fn signs_under_its_public_key() {
        let k = DeviceKey::from_seed(&[7; 32]);
        let sig = k.sign(b"hello");
        let vk = Ed25519Key::from_public(&k.public()).unwrap();
        assert!(vk.verify(b"hello", &sig));
        assert!(!vk.verify(b"hellO", &sig));
        assert_eq!(DeviceKey::from_seed(&k.seed()).public(), k.public());
        assert!(!format!("{k:?}").contains("07070707"));
    }
}
