//! The level-2 e-ID wire formats and their offline verification.
//!
//! This crate is the single definition of every format the system puts on a wire: the issuer
//! and the wallet build what this crate parses. It is also what a landlord's or a bank's app
//! embeds, so it is small and pure:
//!
//! - **No I/O and no clock.** Bytes, trust material and `now` come in as parameters; a verifier
//!   on a phone syncs a [`Bundle`] while online and verifies with no network later.
//! - **No panics on input, bounded sizes.** Every length read from input is checked against
//!   what is left and against a fixed maximum before anything is allocated.
//! - **No private keys.** Builders return the bytes to sign ([`cose::UnsignedSign1::to_be_signed`],
//!   [`jws::signing_input`]) and take the signature back, so keys stay behind the `keys` crate's
//!   signing handles.
//! - **Formats, crypto and policy apart.** [`cbor`], [`base45`], [`cose`], [`jws`] and the
//!   format modules parse; [`crypto`] checks Ed25519 signatures (strictly); [`TrustStore`] and
//!   [`Policy`] decide what is acceptable.
//!
//! Outcomes keep "could not verify" ([`Error`]: the verifier's own trust material is unusable)
//! apart from "verified, and it is invalid" ([`Rejection`] with a stable [`Reason`] code).
//!
//! The offline QR proof ([`qr`]) is a CWT in a COSE_Sign1, one minimal credential per
//! [`Purpose`], bound to the holder's device key by a holder signature over the credential, the
//! purpose and a short time window. The wallet's full credential is an SD-JWT VC ([`sdjwt`]).

pub mod base45;
pub mod bundle;
pub mod cbor;
pub mod cose;
pub mod crypto;
mod error;
pub mod jws;
pub mod oid4vci;
pub mod qr;
pub mod sdjwt;
pub mod statuslist;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod testkit;
pub mod trustlist;
mod types;

pub use bundle::Bundle;
pub use error::{Error, Reason, Rejection};
pub use qr::{PersonClaims, QrCheck, QrCredential, VerifiedQr};
pub use trustlist::{KeyState, Policy, TrustList, TrustStore, TrustedKey};
pub use types::{Date, KeyId, PublicKey, Purpose};

#[doc(hidden)]
pub mod fuzzing {
    //! Entry points for fuzz targets (see `fuzz/`): they must never panic.
    use super::*;

    pub fn qr_text(data: &[u8]) {
        if let Ok(text) = core::str::from_utf8(data) {
            if let Ok(bytes) = qr::decode_text(text) {
                let _ = qr::Presentation::parse(&bytes);
            }
        }
        let _ = qr::Presentation::parse(data);
        let _ = QrCredential::decode_payload(data);
    }

    pub fn jws_and_bundle(data: &[u8]) {
        if let Ok(text) = core::str::from_utf8(data) {
            let _ = jws::Jws::parse(text);
            let _ = oid4vci::CredentialOffer::from_uri(text);
            let _ = statuslist::StatusList::decode_lst(2, text);
        }
        if let Ok(b) = Bundle::from_json(data) {
            let _ = b.open();
        }
    }
}
