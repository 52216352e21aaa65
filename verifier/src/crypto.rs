//! Signature checks. Only Ed25519, only `verify_strict` (no malleable signatures, no small-order
//! keys), so every implementation that follows RFC 8032 strictly agrees with us.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::types::PublicKey;

/// A public key decoded once (point decompression is a third of a verification's cost), so a
/// trust store verifies many proofs without redoing it.
#[derive(Debug, Clone)]
pub struct Ed25519Key(VerifyingKey);

impl Ed25519Key {
    /// Fails for byte strings that are not a valid curve point, or are a weak (small-order) key.
    pub fn from_public(pk: &PublicKey) -> Option<Self> {
        let vk = VerifyingKey::from_bytes(pk.as_bytes()).ok()?;
        (!vk.is_weak()).then_some(Self(vk))
    }

    /// Like [`Self::from_public`], from 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Self::from_public(&PublicKey::try_from(b).ok()?)
    }

    /// Whether `sig` is a valid Ed25519 signature of `msg` under this key (`verify_strict`: no
    /// malleable signature, no small-order `R`); false for a signature that is not 64 bytes.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.0.verify_strict(msg, &Signature::from_bytes(&sig)).is_ok()
    }

    /// The key's 32 bytes.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_bytes(self.0.to_bytes())
    }
}
