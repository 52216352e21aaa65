//! The level-2 e-ID wire formats and their offline verification.
//!
//! A landlord's, a bank's or a residence office's app embeds this crate to check the QR code on
//! a holder's phone **with no network**, against trust material synced earlier: the issuer's
//! trust list (signed by a root key the app pins) and its status lists, kept together in a
//! [`Bundle`].
//!
//! # Quick start
//!
//! ```
//! # let (bundle_json, pinned_root, qr_text, now) = verifier::testkit::quickstart();
//! use verifier::{Bundle, Outcome, Purpose, QrCheck};
//!
//! // Once after each sync: check the bundle against the root key the app pins.
//! let store = Bundle::from_json(&bundle_json)?.open_pinned(&pinned_root)?;
//! // At the door: `now` is the app's clock (UNIX seconds); the library reads none.
//! match store.verify_qr(&qr_text, &QrCheck::for_verifier(Purpose::Landlord, now)) {
//!     Outcome::Valid(v) => println!("{:?}, warnings {:?}", v.claims.name_latin, v.warnings),
//!     Outcome::Invalid(r) => println!("refuse: {r}"),
//!     Outcome::CannotDecide(u) => println!("sync first: {}", u.advice()),
//! }
//! # Ok::<(), verifier::Error>(())
//! ```
//!
//! # Three outcomes
//!
//! [`TrustStore::verify_qr`] and [`TrustStore::verify_sd_jwt`] answer with an [`Outcome`]:
//! **valid** (possibly with [`Warning`]s), **invalid** (a [`Rejection`] with a stable [`Reason`]
//! code), or **cannot decide** (an [`Undecided`]: the app's own trust material is too old or
//! incomplete, with what to do). A verifier never calls an honest holder a fraud because its
//! own bundle is stale. How old is too old depends on who verifies: see [`Policy::for_verifier`]
//! (a landlord who syncs weekly accepts status lists up to 7 days old; a bank, 24 hours).
//! [`Error`] is apart from all three: the trust material could not be loaded at all.
//!
//! # Design
//!
//! This crate is also the single definition of every format the system puts on a wire: the
//! issuer and the wallet build, through [`build`], what it parses. So it stays small and pure:
//!
//! - **No I/O and no clock.** Bytes, trust material and `now` come in as parameters.
//! - **No panics on input, bounded sizes.** Every length read from input is checked against
//!   what is left and against a fixed maximum before anything is allocated; a bundle's status
//!   lists hold at most 64 MiB decompressed in total.
//! - **No private keys.** Builders return the bytes to sign and take the signature back, so keys
//!   stay behind the `keys` crate's signing handles.
//! - **Formats, crypto and policy apart.** Private modules parse each format (CBOR, base45,
//!   COSE, JWS, SD-JWT, status list, trust list), one checks Ed25519 signatures strictly, and
//!   [`TrustStore`] with [`Policy`] decides what is acceptable.
//!
//! The offline QR proof is a CWT in a COSE_Sign1, one minimal credential per [`Purpose`], bound
//! to the holder's device key by a holder signature over the credential, the purpose and a short
//! time window; long names and addresses are shortened by a documented rule so that every
//! applicant's QR fits ([`PersonClaims::restrict_to`]). The wallet's full credential is an
//! SD-JWT VC. The byte layouts are in `docs/formats.md`.
#![deny(missing_docs)]

mod base45;
mod bundle;
mod cbor;
mod cose;
mod crypto;
mod error;
mod jws;
mod oid4vci;
mod qr;
mod sdjwt;
mod statuslist;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod testkit;
mod trustlist;
mod types;

pub use bundle::Bundle;
pub use error::{Error, Outcome, Reason, Rejection, Undecided, UndecidedReason, Warning};
pub use qr::{inspect_qr, CardKind, Claim, PersonClaims, QrCheck, Sex, StatusRef, UnverifiedQr, VerifiedQr};
pub use sdjwt::{KeyBinding, VerifiedSdJwt};
pub use trustlist::{KeyState, Policy, StatusListInfo, StatusListRef, TrustList, TrustStore, TrustedKey, DAY};
pub use types::{Date, KeyId, PublicKey, Purpose};

/// Building what this crate verifies: for the issuer, the wallet and the key custody, not for
/// verifier apps.
///
/// Each module re-exports the builders and constants of one format. Builders never see a private
/// key: they return the bytes to sign (`to_be_signed`, `signing_input`) and take the signature
/// back (`finish`, [`jws::assemble`]), so keys stay behind signing handles.
pub mod build {
    /// The per-purpose QR credential (COSE_Sign1 over CWT claims) and the holder's presentation.
    pub mod qr {
        pub use crate::cose::UnsignedSign1;
        pub use crate::qr::{
            decode_credential, encode_presentation, holder_signing_input, QrCredential, CLAIMS_KEY, DEFAULT_WINDOW,
            MAX_CHALLENGE, MAX_TEXT, PREFIX,
        };
        #[doc(no_inline)]
        pub use crate::{CardKind, Claim, PersonClaims, Sex, StatusRef};
    }

    /// SD-JWT VC: the builder and the constants of the wallet's full credential.
    pub mod sdjwt {
        pub use crate::sdjwt::{sd_hash, split, SdJwtBuilder, MAX_LEN, TYP, VCT};
    }

    /// Token Status List: the bit array the issuer signs, and its status values.
    pub mod statuslist {
        pub use crate::statuslist::{StatusList, INVALID, MAX_BYTES, MAX_TOTAL_BYTES, SUSPENDED, TYP, VALID};
    }

    /// The trust list the root key signs ([`crate::TrustList::signing_input`]).
    pub mod trustlist {
        pub use crate::trustlist::{MAX_KEYS, MAX_STATUS_LISTS, TYP};
        #[doc(no_inline)]
        pub use crate::{KeyState, StatusListRef, TrustList, TrustedKey};
    }

    /// Strict Ed25519 (RFC 8032 `verify_strict`), as every verifier checks signatures.
    pub mod crypto {
        pub use crate::crypto::Ed25519Key;
    }

    /// Compact JWS with EdDSA: signing input, assembly, and a parser that checks nothing but
    /// the shape (the verifier checks signatures).
    pub mod jws {
        pub use crate::jws::{assemble, canonical_json, signing_input, Jws, MAX_LEN};
    }

    /// The OpenID4VCI-style messages between issuer and wallet: the credential offer and the
    /// wallet's proof of possession of its device key.
    pub mod oid4vci {
        pub use crate::oid4vci::{
            check_proof, proof_signing_input, verify_proof, CheckedProof, CredentialOffer, TxCodeSpec,
            CONFIGURATION_ID, MAX_TX_CODE_DESCRIPTION, OFFER_SCHEME, PRE_AUTH_GRANT, PROOF_TYP,
        };
    }

    /// The bundle file's format name and size bound.
    pub mod bundle {
        pub use crate::bundle::{FORMAT, MAX_LEN};
    }
}

#[doc(hidden)]
pub mod fuzzing {
    //! Entry points for the fuzz targets (see `fuzz/`, cargo-fuzz on nightly) and for the smoke
    //! test that runs them on stable (`verifier/tests/fuzz_smoke.rs`): whatever the bytes, they
    //! must never panic, and they return in time bounded by the input's length.
    //!
    //! Parsers behind a signature check cannot be reached with random bytes (the fuzzer cannot
    //! forge Ed25519), so `signed` (with the `testkit` feature) signs the fuzzer's bytes with the
    //! test keys of `testkit::world` first and then verifies them: the claim parsers behind each
    //! signature are fuzzed too.
    use super::*;

    /// Every QR parsing step on arbitrary bytes.
    pub fn qr_text(data: &[u8]) {
        if let Ok(text) = core::str::from_utf8(data) {
            let _ = inspect_qr(text);
        }
        let _ = qr::Presentation::parse(data);
        let _ = qr::QrCredential::decode_payload(data);
        let _ = qr::decode_credential(data);
        let _ = cbor::Reader::new(data).item();
    }

    /// JWS, offer and status list parsing, and opening a bundle, on arbitrary bytes.
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

    /// Base45, the CBOR reader (item after item) and COSE_Sign1 on arbitrary bytes.
    pub fn cbor_cose(data: &[u8]) {
        let _ = base45::decode(data);
        let _ = cose::Sign1::read(&mut cbor::Reader::new(data));
        let mut r = cbor::Reader::new(data);
        while !r.is_empty() && r.item().is_ok() {}
    }

    /// The OpenID4VCI messages a wallet sends or receives: a proof of possession JWT (checked
    /// for audience and age) and a credential offer URI.
    pub fn oid4vci(data: &[u8]) {
        if let Ok(text) = core::str::from_utf8(data) {
            let _ = oid4vci::check_proof(text, "https://issuer.example.vn", 1_780_000_000, 300);
            if let Ok(offer) = oid4vci::CredentialOffer::from_uri(text) {
                let _ = offer.to_uri();
            }
        }
    }

    /// The verifications of a trust store on arbitrary text: trust list, status list token,
    /// SD-JWT VC, QR proof (with and without a key binding or a purpose).
    #[cfg(feature = "testkit")]
    pub fn verify_text(data: &[u8]) {
        let Ok(text) = core::str::from_utf8(data) else { return };
        let w = world();
        let _ = TrustList::verify(text, &testkit::pk(&w.root));
        let _ = TrustStore::from_signed(text, &testkit::pk(&w.root));
        let mut store = store();
        let _ = store.add_status_list(1, text);
        let store = self::store();
        let _ = store.verify_sd_jwt(text, testkit::NOW, &Policy::default(), None);
        let kb = KeyBinding { audience: "https://bank.example.vn", nonce: "n-0S6_WzA2Mj" };
        let _ = store.verify_sd_jwt(text, testkit::NOW, &Policy::default(), Some(kb));
        let _ = store.verify_qr(text, &QrCheck::for_verifier(Purpose::Bank, testkit::NOW));
    }

    /// The fuzzer's bytes, signed with the test keys, then verified: the first byte chooses what
    /// the rest becomes (0: a trust list's payload signed by the root; 1: a status list token's
    /// payload signed by the issuer key; 2: an SD-JWT VC whose issuer-signed payload is the text
    /// before the first `~`, disclosures after it; 3: a QR credential's CWT claims, signed into a
    /// COSE_Sign1 and presented by the holder; 4: a proof of possession's payload signed by the
    /// holder).
    #[cfg(feature = "testkit")]
    pub fn signed(data: &[u8]) -> bool {
        use serde_json::json;
        let Some((&which, rest)) = data.split_first() else { return false };
        let w = world();
        let sign_jws = |header: serde_json::Value, payload: &[u8], key: &ed25519_dalek::SigningKey| {
            let input = jws::signing_input(&header, payload);
            jws::assemble(&input, &testkit::sign(key, input.as_bytes()))
        };
        // Whether the signed input verified: the smoke test checks its seeds do, so the fuzzer
        // starts from inputs that get past the signature.
        match which % 5 {
            0 => {
                let header = json!({"alg": "EdDSA", "typ": trustlist::TYP, "kid": testkit::kid(&w.root).to_string()});
                let jws = sign_jws(header, rest, &w.root);
                let listed = TrustList::verify(&jws, &testkit::pk(&w.root)).is_ok();
                if let Ok(store) = TrustStore::from_signed(&jws, &testkit::pk(&w.root)) {
                    let _ = store.status_list_info(1);
                }
                listed
            }
            1 => {
                let header =
                    json!({"alg": "EdDSA", "typ": statuslist::TYP, "kid": testkit::kid(&w.issuer).to_string()});
                let token = sign_jws(header, rest, &w.issuer);
                let mut store = store();
                let added = store.add_status_list(1, &token).is_ok();
                if added {
                    let _ = store.status_list_info(1);
                    let _ = store.verify_qr("VN1:", &QrCheck::for_verifier(Purpose::Landlord, testkit::NOW));
                }
                added
            }
            2 => {
                let text = String::from_utf8_lossy(rest);
                let (payload, tail) = text.split_once('~').unwrap_or((&text, ""));
                let header = json!({"alg": "EdDSA", "typ": sdjwt::TYP, "kid": testkit::kid(&w.issuer).to_string()});
                let jwt = sign_jws(header, payload.as_bytes(), &w.issuer);
                let sd_jwt = format!("{jwt}~{tail}");
                matches!(store().verify_sd_jwt(&sd_jwt, testkit::NOW, &Policy::default(), None), Outcome::Valid(_))
            }
            3 => {
                let u = cose::UnsignedSign1::new(&testkit::kid(&w.issuer), rest.to_vec());
                let sig = testkit::sign(&w.issuer, &u.to_be_signed());
                let cred = u.finish(&sig);
                let mut valid = false;
                for purpose in Purpose::ALL {
                    let text = testkit::present(w, &cred, purpose, testkit::NOW - 10, &w.holder, b"");
                    valid |= matches!(
                        store().verify_qr(&text, &QrCheck::for_verifier(purpose, testkit::NOW)),
                        Outcome::Valid(_)
                    );
                    let _ = inspect_qr(&text);
                }
                valid
            }
            _ => {
                let holder = testkit::pk(&w.holder);
                let header = json!({"alg": "EdDSA", "typ": oid4vci::PROOF_TYP,
                                    "jwk": {"kty": "OKP", "crv": "Ed25519", "x": holder.to_string()}});
                let jwt = sign_jws(header, rest, &w.holder);
                oid4vci::check_proof(&jwt, "https://issuer.example.vn", testkit::NOW, 300).is_ok()
            }
        }
    }

    /// The test world, built once (it signs a trust list and a status list).
    #[cfg(feature = "testkit")]
    fn world() -> &'static testkit::World {
        static W: std::sync::OnceLock<testkit::World> = std::sync::OnceLock::new();
        W.get_or_init(testkit::world)
    }

    /// The test world's trust store (its status list added), opened once and cloned.
    #[cfg(feature = "testkit")]
    fn store() -> TrustStore {
        static S: std::sync::OnceLock<Option<TrustStore>> = std::sync::OnceLock::new();
        // Invariant: the test world's bundle opens (the crate's own tests check it); if it did
        // not, an empty-handed fuzz run would be the only consequence, so fall back to the
        // trust list alone.
        S.get_or_init(|| world().bundle.open().ok()).clone().unwrap_or_else(|| {
            TrustStore::from_signed(&world().bundle.trust_list, &testkit::pk(&world().root))
                .unwrap_or_else(|_| unreachable_store())
        })
    }

    #[cfg(feature = "testkit")]
    #[allow(clippy::panic)]
    fn unreachable_store() -> TrustStore {
        // Invariant: testkit::world signs its trust list with its own root.
        panic!("the test world's trust list does not verify")
    }
}
