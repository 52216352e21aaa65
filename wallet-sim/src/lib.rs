//! A simulated holder wallet: the phone side of the level-2 e-ID.
//!
//! It does what a VNeID-style wallet app does, with files instead of a phone's secure hardware:
//!
//! - **A device key** ([`device`]): one Ed25519 key per wallet. Every credential the issuer
//!   sends is bound to it (`cnf` in the SD-JWT VC and in each QR credential), and every QR
//!   presentation is signed with it, so a copied credential is useless without the key. Here
//!   the 32-byte seed lives in `HOME/device.key` (mode 0600, written once, never replaced); a
//!   real phone keeps it in its secure element or StrongBox/Secure Enclave and only ever hands
//!   out signatures. [`device::DeviceKey`] mimics that: it signs bytes and shows its public
//!   key, and its seed is zeroized when dropped.
//! - **Receiving** ([`issuance`]): the OpenID4VCI 1.0 pre-authorized code flow over HTTP(S), as
//!   a typestate (offer → metadata → token with the transaction code the holder received by SMS
//!   or e-mail → nonce → credential with `proofs`), each step consuming the previous one.
//!   What arrives is checked before anything is stored: each QR credential must decode, be
//!   bound to this device key and carry the purpose it is filed under; the SD-JWT VC must be
//!   bound to this device key and its disclosures must match its digests. The wallet does
//!   **not** verify the issuer's signatures: it holds no trust list (verifiers do). A forged
//!   credential would be stored, and rejected by every verifier.
//! - **The store** ([`store`]): `HOME/credentials.json` holds one credential set (issuer URL,
//!   time received, the SD-JWT VC, and per purpose the signed QR credential and its expiry).
//!   Receiving again replaces the whole set: the issuer re-issues every purpose together, and
//!   mixing sets from two issuances would mix status references. Every write is atomic and
//!   durable (temporary file, fsync, rename, fsync of the folder).
//! - **Presenting** ([`present`], [`render`]): the holder signature over the credential, the
//!   purpose, the time `t`, the window `d` and an optional verifier challenge, encoded with
//!   [`verifier::build::qr::encode_presentation`], drawn as a QR code at error correction M in
//!   alphanumeric mode (the text is base45, so it never needs byte mode).
//!
//! Every wire format comes from the `verifier` crate; this crate only moves bytes between it,
//! the files and the network. Time is a parameter everywhere (UNIX seconds): only the binary
//! reads the clock, so tests can present "five minutes ago".

use std::path::PathBuf;

use verifier::Purpose;

pub mod device;
pub mod issuance;
pub mod present;
pub mod render;
pub mod sdjwt;
pub mod show;
pub mod store;

pub use device::DeviceKey;
pub use present::{parse_challenge, parse_time, Challenge, PresentOptions, Presented};
pub use store::{CredentialSet, Wallet};

/// Everything that can go wrong in the wallet.
///
/// [`Error::is_usage`] separates what the person at the keyboard can fix (arguments, an
/// uninitialized or unreadable wallet folder) from operations that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file could not be written (durably).
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    /// `HOME/device.key` does not exist.
    #[error("no device key in {0}: run `wallet-sim init` first")]
    NotInitialized(PathBuf),
    /// A store file exists but is not what this wallet wrote.
    #[error("{path} is corrupt: {detail}")]
    CorruptStore { path: PathBuf, detail: String },
    /// The device key file is readable by other users.
    #[error("{0} is readable by other users; it must be mode 0600")]
    KeyPermissions(PathBuf),
    /// A command-line value is not acceptable.
    #[error("invalid {what}: {detail}")]
    InvalidArgument { what: &'static str, detail: String },
    /// The credential offer URI is not usable.
    #[error("invalid credential offer: {0}")]
    Offer(&'static str),
    /// The issuer could not be reached, or the connection broke.
    #[error("cannot reach the issuer: {detail}")]
    Transport { url: String, detail: String },
    /// The issuer answered with an error (4xx/5xx), reported as it sent it.
    #[error("issuer refused at {url}: HTTP {status}, {code}: {message}")]
    Issuer { url: String, status: u16, code: String, message: String },
    /// The issuer answered, but not with what the protocol says.
    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },
    /// What the issuer sent is not acceptable: nothing was stored.
    #[error("received credential rejected: {0}")]
    Rejected(String),
    /// The wallet holds no credential for the purpose.
    #[error("no credential for purpose {0}: run `wallet-sim receive` first")]
    NoCredential(Purpose),
    /// The credential for the purpose has expired at the presentation time.
    #[error("the {purpose} credential expired at {expires_at} (UNIX time), before the presentation time {at}")]
    Expired { purpose: Purpose, expires_at: u64, at: u64 },
    /// The presentation does not fit in a QR code, or cannot be drawn.
    #[error("cannot make the QR code: {0}")]
    Qr(String),
}

impl Error {
    /// Whether the error is the caller's to fix (bad argument, missing or unreadable wallet
    /// files) rather than a failed operation; the binary exits 2 for these, 1 otherwise.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Read { .. }
                | Error::NotInitialized(_)
                | Error::CorruptStore { .. }
                | Error::KeyPermissions(_)
                | Error::InvalidArgument { .. }
                | Error::Offer(_)
        )
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
