//! Outcomes: "verified, and it is invalid because …" ([`Reason`]) is kept apart from "could not
//! even start verifying" ([`Error`]: a bad bundle or trust list on the verifier's own side).

use core::fmt;

use crate::types::{KeyId, Purpose};

/// Why a credential or presentation is not accepted. The codes are stable: apps and the CLI
/// show them, and tests match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The input is not a well-formed proof of a format we know (bad prefix, base45, CBOR,
    /// JSON, header, missing or surplus fields, sizes over the bounds).
    Malformed,
    /// The issuer key id is not in the trust list.
    UnknownKey,
    /// The trust list marks the issuer key as revoked.
    KeyRevoked,
    /// The key was not allowed to sign at the credential's issue time, or what it signed is past
    /// the key's validity period.
    KeyNotValid,
    /// The issuer's signature does not verify.
    BadSignature,
    /// The holder's signature (device binding) does not verify.
    BadHolderSignature,
    /// The credential is past its expiry.
    Expired,
    /// The credential's issue time is in the future.
    NotYetValid,
    /// The holder signed the presentation too long ago (a screenshot or a replay).
    PresentationExpired,
    /// The presentation's time is ahead of the verifier's clock beyond the allowed skew.
    PresentationNotYetValid,
    /// The credential was issued for another purpose than the one the verifier asked for.
    WrongPurpose,
    /// The status list marks the credential as revoked.
    Revoked,
    /// The status list marks the credential as suspended.
    Suspended,
    /// The verifier's status list for this credential is missing or too old to decide.
    StatusUnknown,
    /// The verifier's trust list is past its next-update time plus the allowed grace.
    TrustListStale,
}

impl Reason {
    pub const ALL: [Reason; 15] = [
        Reason::Malformed,
        Reason::UnknownKey,
        Reason::KeyRevoked,
        Reason::KeyNotValid,
        Reason::BadSignature,
        Reason::BadHolderSignature,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::PresentationExpired,
        Reason::PresentationNotYetValid,
        Reason::WrongPurpose,
        Reason::Revoked,
        Reason::Suspended,
        Reason::StatusUnknown,
        Reason::TrustListStale,
    ];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::UnknownKey => "unknown_key",
            Reason::KeyRevoked => "key_revoked",
            Reason::KeyNotValid => "key_not_valid",
            Reason::BadSignature => "bad_signature",
            Reason::BadHolderSignature => "bad_holder_signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::PresentationExpired => "presentation_expired",
            Reason::PresentationNotYetValid => "presentation_not_yet_valid",
            Reason::WrongPurpose => "wrong_purpose",
            Reason::Revoked => "revoked",
            Reason::Suspended => "suspended",
            Reason::StatusUnknown => "status_unknown",
            Reason::TrustListStale => "trust_list_stale",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejected credential or presentation: the reason, a short English detail for logs and
/// developers (never personal data), and what was learned before the rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: &'static str,
    pub kid: Option<KeyId>,
    pub purpose: Option<Purpose>,
}

impl Rejection {
    pub fn new(reason: Reason, detail: &'static str) -> Self {
        Self { reason, detail, kid: None, purpose: None }
    }
    pub(crate) fn malformed(detail: &'static str) -> Self {
        Self::new(Reason::Malformed, detail)
    }
    pub(crate) fn with_kid(mut self, kid: &KeyId) -> Self {
        self.kid = Some(kid.clone());
        self
    }
    pub(crate) fn with_purpose(mut self, p: Purpose) -> Self {
        self.purpose = Some(p);
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.code(), self.detail)
    }
}

impl std::error::Error for Rejection {}

impl From<crate::cbor::CborError> for Rejection {
    fn from(e: crate::cbor::CborError) -> Self {
        Rejection::malformed(e.0)
    }
}

/// The verifier's own trust material could not be used, so nothing can be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The trust list is not well formed, or breaks a rule (duplicate key ids, …).
    TrustListMalformed(&'static str),
    /// The trust list's signature does not verify under the pinned root key.
    TrustListSignature,
    /// A status list token is not well formed or not signed by a listed key.
    StatusListInvalid(&'static str),
    /// The bundle file is not well formed.
    BundleMalformed(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TrustListMalformed(d) => write!(f, "trust list malformed: {d}"),
            Error::TrustListSignature => f.write_str("trust list signature does not verify under the root key"),
            Error::StatusListInvalid(d) => write!(f, "status list invalid: {d}"),
            Error::BundleMalformed(d) => write!(f, "bundle malformed: {d}"),
        }
    }
}

impl std::error::Error for Error {}
