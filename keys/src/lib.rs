//! Key custody for the e-ID issuer.
//!
//! # Handles, not keys
//!
//! Private keys never leave this crate. Callers get a [`Signer`]: something that tells its key id
//! and public key and signs bytes, nothing more. [`SigningHandle`] is the software implementation;
//! `Pkcs11Signer` (module `pkcs11`, feature `pkcs11`, on by default) holds an Ed25519 key
//! generated on a PKCS#11 token, so the issuer does not change when keys move into hardware.
//! Every secret (seeds, the master key, key-encryption keys, passphrases, PINs, key-file bytes)
//! lives in a zeroize-on-drop container, and no `Debug` impl prints one.
//!
//! # The keystore on disk
//!
//! A [`Keystore`] is a directory (mode 0700, every file 0600):
//!
//! - `keystore.json`: format version; how the key-encryption key (KEK) is obtained ([`Unlock`]:
//!   Argon2id over a passphrase, with salt and [`KdfParams`]; or a 32-byte key file made by
//!   [`create_key_file`]); the keystore's random **master key**, sealed with XChaCha20-Poly1305
//!   under the KEK; and a SHA-256 checksum of all that. The checksum tells a damaged file
//!   ([`KeyError::Corrupt`]) from a wrong secret ([`KeyError::WrongSecret`]): when the file is
//!   intact and the master key still does not open, the secret is wrong.
//! - `keys.json`: the public metadata of every key ([`KeyRecord`]), with an HMAC under a key
//!   derived from the master key, so an edited or damaged record (a revoked key turned active
//!   again) is refused instead of published.
//! - `keys/<kid>.key`: each 32-byte Ed25519 seed sealed with XChaCha20-Poly1305 under a key
//!   derived from the master key, with the key id and role as associated data: a file copied or
//!   renamed to another key's name does not open.
//!
//! The master key sits between the KEK and the seeds (envelope encryption) so that changing the
//! passphrase ([`Keystore::rekey`]) rewraps 32 bytes instead of re-encrypting every key, and so
//! that the secrets other components derive from the keystore ([`Keystore::derive_secret`]) stay
//! the same across such a change.
//!
//! Every write is atomic and durable: a temporary file, fsync, rename, fsync of the directory. A
//! crash leaves the old state or the new one, never half of each; and an operation returns `Ok`
//! only once its change is on disk, with the in-memory state changed after the disk, not before.
//! One process at a time may open a keystore for writing.
//!
//! # Key ids and rotation
//!
//! A key id is the first 4 bytes of the SHA-256 of the public key ([`key_id_for`]): short, because
//! it travels in every QR proof. Signing keys follow the trust list's [`verifier::KeyState`]:
//! generated `next` (published before they sign), `activate`d (the node's previous active key
//! retires at that moment), `retire`d (stop signing; what they signed stays valid until
//! `valid_until`), or `revoke`d from any other state. [`Keystore::trusted_keys`] lists every
//! signing key in every state for the trust list, which the root key signs
//! ([`sign_trust_list`]).
//!
//! Nothing here reads the clock: times are UNIX seconds passed in by the caller.
//!
//! # Rotation the admin sees coming
//!
//! [`rotation_report`] gives each key's state, periods and days left, and warns before a node's
//! active key stops signing. [`check_activation`] is the rule that a `next` key signs only once it
//! has been in a published trust list for the verifiers' sync interval (unless forced, an
//! emergency the caller audits), given the time the issuer recorded for its first publication.
//!
//! # Development and production
//!
//! [`dev_init`] makes a first start work out of the box with a key file next to the keystore.
//! Production unlocks with a passphrase from a [`SecretSource`] (a file, a descriptor, the
//! environment or the terminal; never an argument) or keeps signing keys in an HSM, and keeps the
//! root key on an offline machine, in a keystore of its own made by the `keys` tool (`keys root
//! init`). There the root signs trust lists the issuer prepared ([`review_trust_list`],
//! [`sign_trust_list`]); the issuer checks the signed list it gets back against the pinned root
//! and the list it prepared ([`accept_signed_trust_list`]) before publishing it. The ceremony is
//! in `docs/key-ceremony.md`.

#![warn(missing_docs)]

mod crypto;
mod dev;
mod fsio;
mod keystore;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
mod record;
mod rotation;
mod secret;
mod signer;
mod trust;

pub use crypto::{KdfParams, Unlock};
pub use dev::{dev_init, dev_init_node};
pub use fsio::create_key_file;
pub use keystore::Keystore;
#[cfg(feature = "pkcs11")]
pub use pkcs11::{KeyProtection, Pkcs11Signer, Pkcs11Token, TokenKey};
pub use record::{KeyPolicy, KeyRecord, KeyRole};
pub use rotation::{
    check_activation, rotation_report, Activation, KeyStatus, RotationPolicy, RotationReport, RotationWarning,
};
pub use secret::{SecretSource, MAX_SECRET_LEN, PASSPHRASE_ENV, PIN_ENV};
pub use signer::{key_id_for, Signer, SigningHandle, KEY_ID_LEN};
pub use trust::{accept_signed_trust_list, review_trust_list, sign_trust_list};

use std::path::PathBuf;

/// Everything that can go wrong in key custody.
///
/// The variants keep apart what an operator does something different about: a wrong secret
/// (try again), a damaged or tampered file (restore from backup), something that does not
/// exist, an operation the rotation rules refuse, and the operating system failing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The passphrase or key file does not unlock this keystore (or is for the other kind of
    /// unlock), while the keystore's own files are intact.
    #[error("wrong passphrase or key file")]
    WrongSecret,
    /// A keystore file does not parse, fails its checksum or MAC, or a sealed key does not open
    /// although the keystore unlocked: the file was damaged, edited, or copied from another key.
    #[error("keystore file {} is corrupted: {reason}", file.display())]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No keystore in the directory, no key file at the path, no key with this id, or no key in
    /// the state asked for (no active signing key for a node, no root key).
    #[error("not found: {0}")]
    NotFound(String),
    /// Something is already there: a keystore where one is to be created, a key file that would
    /// be overwritten (losing every key it unlocks).
    #[error("already exists: {}", .0.display())]
    AlreadyExists(PathBuf),
    /// The rotation rules refuse this operation (for example activating a retired key, or a
    /// second root key).
    #[error("invalid key state transition: {0}")]
    InvalidTransition(String),
    /// An argument the keystore refuses: KDF parameters out of bounds, an empty passphrase, an
    /// empty or overlong node name.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The operating system's random generator or a cipher failed.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// A signing device (an HSM behind [`Signer`]) failed or refused to sign.
    #[error("signing device: {0}")]
    Device(String),
    /// Reading or writing a file failed.
    #[error("I/O on {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A trust list that breaks its own rules (duplicate key ids, periods out of order, …) is
    /// not signed; a signed one that does not verify under the root key is not accepted.
    #[error("trust list: {0}")]
    TrustList(#[from] verifier::Error),
    /// A well-formed trust list refused for what it says: it lists the root key as a signing
    /// key, brings a revoked key back, goes back in sequence, is already out of date, or (when
    /// uploaded signed) is not the list the issuer prepared.
    #[error("trust list refused: {0}")]
    TrustListRefused(String),
    /// Activating a `next` key before it has been in a published trust list for the verifier
    /// sync interval: verifiers that synced on schedule may not know it yet
    /// ([`check_activation`]). Wait until `ready_at`, or force it as an emergency.
    #[error(
        "key {kid} is not in a published trust list long enough for verifiers to know it ({})",
        match ready_at { Some(t) => format!("ready at {t}"), None => "never published".to_owned() }
    )]
    NotYetSynced {
        /// The key.
        kid: verifier::KeyId,
        /// When it was first in a published trust list, if ever.
        first_published: Option<u64>,
        /// When the wait ends, if it was published.
        ready_at: Option<u64>,
    },
    /// The PKCS#11 token refused the user PIN (`CKR_PIN_INCORRECT`). Tokens lock the PIN after a
    /// few failures: check it before trying again.
    #[error("the token refused the PIN (wrong PIN); the token locks it after repeated failures")]
    WrongPin,
}

impl KeyError {
    pub(crate) fn corrupt(file: &std::path::Path, reason: &'static str) -> Self {
        KeyError::Corrupt { file: file.to_path_buf(), reason }
    }
}
