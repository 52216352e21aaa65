//! Outcomes. A verification ends in exactly one of three ways ([`Outcome`]):
//!
//! - **valid**, possibly with [`Warning`]s;
//! - **invalid**: the proof was checked and is not acceptable ([`Rejection`], with a stable
//!   [`Reason`] code);
//! - **cannot decide**: the verifier's *own* trust material is too old or lacks what this proof
//!   needs ([`Undecided`], with an [`UndecidedReason`] and what to do about it). The holder is not
//!   at fault, and a sync fixes it.
//!
//! Apart from all three, [`Error`] says that trust material could not even be loaded (a bad
//! bundle or trust list): nothing was verified.

use core::fmt;

use crate::types::{KeyId, Purpose};

/// Why a credential or presentation is **invalid**. The codes are stable: apps and the CLI show
/// them, and tests match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The input is not a well-formed proof of a format we know (bad prefix, base45, CBOR,
    /// JSON, header, missing or surplus fields, sizes over the bounds).
    Malformed,
    /// The issuer key id is not in the (fresh) trust list.
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
    /// The status list marks the credential as revoked (or gives a status value this system does
    /// not define). Revocation is final, so an old status list that says so is still right.
    Revoked,
    /// The status list marks the credential as suspended.
    Suspended,
}

impl Reason {
    /// Every reason, in documentation order.
    pub const ALL: [Reason; 13] = [
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
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An **invalid** credential or presentation: the reason, a short English detail for logs and
/// developers (never personal data), and what was learned before the rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// Why, as a stable code.
    pub reason: Reason,
    /// A short English explanation for logs and developers; never personal data.
    pub detail: &'static str,
    /// The issuer key id the proof named, when it got that far.
    pub kid: Option<KeyId>,
    /// The purpose the credential was issued for, when it got that far.
    pub purpose: Option<Purpose>,
    /// Age in seconds of the status list that decided (`revoked`, `suspended`), if one did.
    pub status_list_age: Option<u64>,
}

impl Rejection {
    /// A rejection with nothing learned yet but the reason.
    pub fn new(reason: Reason, detail: &'static str) -> Self {
        Self { reason, detail, kid: None, purpose: None, status_list_age: None }
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

/// Why a verifier **cannot decide**: its own trust material is too old or incomplete for this
/// proof. The codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UndecidedReason {
    /// The trust list is past its `next_update` plus the policy's grace period.
    TrustListStale,
    /// The status list for the credential is older than the policy accepts, or past its `exp`.
    StatusStale,
    /// The bundle holds no status list for the credential (or the credential names none while
    /// the policy requires one).
    StatusUnknown,
}

impl UndecidedReason {
    /// Every reason, in documentation order.
    pub const ALL: [UndecidedReason; 3] =
        [UndecidedReason::TrustListStale, UndecidedReason::StatusStale, UndecidedReason::StatusUnknown];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            UndecidedReason::TrustListStale => "trust_list_stale",
            UndecidedReason::StatusStale => "status_stale",
            UndecidedReason::StatusUnknown => "status_unknown",
        }
    }

    /// What the verifier's operator should do, in one English sentence.
    pub fn advice(self) -> &'static str {
        match self {
            UndecidedReason::TrustListStale | UndecidedReason::StatusStale => {
                "the verifier's trust material is too old to decide: sync it (`verifier sync`) and verify again; \
                 the holder is not at fault"
            }
            UndecidedReason::StatusUnknown => {
                "the verifier has no status list for this credential: sync (`verifier sync`) and verify again; \
                 if it persists, the credential cannot be checked for revocation offline"
            }
        }
    }
}

impl fmt::Display for UndecidedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The verifier **cannot decide** on a proof: why, a short English detail, and what was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Undecided {
    /// Why, as a stable code.
    pub reason: UndecidedReason,
    /// A short English explanation for logs and developers; never personal data.
    pub detail: &'static str,
    /// The issuer key id the proof named, when it got that far.
    pub kid: Option<KeyId>,
    /// The purpose the credential was issued for, when it got that far.
    pub purpose: Option<Purpose>,
    /// Age in seconds of the status list that was too old, if that is the reason.
    pub status_list_age: Option<u64>,
}

impl Undecided {
    /// Nothing learned yet but the reason.
    pub fn new(reason: UndecidedReason, detail: &'static str) -> Self {
        Self { reason, detail, kid: None, purpose: None, status_list_age: None }
    }

    /// What to do about it (see [`UndecidedReason::advice`]).
    pub fn advice(&self) -> &'static str {
        self.reason.advice()
    }
}

impl fmt::Display for Undecided {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decide, {}: {}", self.reason.code(), self.detail)
    }
}

impl std::error::Error for Undecided {}

/// Something a verifier should know about a **valid** proof. Stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Warning {
    /// The status list used is older than the policy's `status_warn_age` (but within its
    /// `max_status_age`): a revocation since then would not show. Sync soon.
    StatusStale,
    /// The trust list is past its `next_update` (but within the grace period). Sync soon.
    TrustListDue,
}

impl Warning {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Warning::StatusStale => "status_stale",
            Warning::TrustListDue => "trust_list_due",
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What verifying a proof concluded: exactly one of three outcomes.
///
/// Show them apart: `Invalid` means refuse the proof; `CannotDecide` means the verifier's own
/// bundle must be synced first, and says nothing against the holder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Outcome<T> {
    /// Accepted. `T` carries the claims and any [`Warning`]s.
    Valid(T),
    /// Checked, and not acceptable.
    Invalid(Rejection),
    /// The verifier's trust material is too old or incomplete to decide.
    CannotDecide(Undecided),
}

impl<T> Outcome<T> {
    /// `"valid"`, `"invalid"` or `"cannot_decide"`.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Valid(_) => "valid",
            Outcome::Invalid(_) => "invalid",
            Outcome::CannotDecide(_) => "cannot_decide",
        }
    }

    /// Whether the proof was accepted.
    pub fn is_valid(&self) -> bool {
        matches!(self, Outcome::Valid(_))
    }

    /// The accepted value, if any.
    pub fn valid(self) -> Option<T> {
        match self {
            Outcome::Valid(v) => Some(v),
            _ => None,
        }
    }

    /// The rejection, if the proof is invalid.
    pub fn invalid(&self) -> Option<&Rejection> {
        match self {
            Outcome::Invalid(r) => Some(r),
            _ => None,
        }
    }

    /// Why the verifier cannot decide, if it cannot.
    pub fn undecided(&self) -> Option<&Undecided> {
        match self {
            Outcome::CannotDecide(u) => Some(u),
            _ => None,
        }
    }
}

/// Internal: why a check stopped, before it becomes an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Invalid(Rejection),
    Undecided(Undecided),
}

impl Refusal {
    pub(crate) fn with_kid(self, kid: &KeyId) -> Self {
        match self {
            Refusal::Invalid(r) => Refusal::Invalid(r.with_kid(kid)),
            Refusal::Undecided(mut u) => {
                u.kid = Some(kid.clone());
                Refusal::Undecided(u)
            }
        }
    }

    pub(crate) fn with_purpose(self, p: Purpose) -> Self {
        match self {
            Refusal::Invalid(r) => Refusal::Invalid(r.with_purpose(p)),
            Refusal::Undecided(mut u) => {
                u.purpose = Some(p);
                Refusal::Undecided(u)
            }
        }
    }

    pub(crate) fn into_outcome<T>(self) -> Outcome<T> {
        match self {
            Refusal::Invalid(r) => Outcome::Invalid(r),
            Refusal::Undecided(u) => Outcome::CannotDecide(u),
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Invalid(r)
    }
}

impl From<Undecided> for Refusal {
    fn from(u: Undecided) -> Self {
        Refusal::Undecided(u)
    }
}

impl From<crate::cbor::CborError> for Refusal {
    fn from(e: crate::cbor::CborError) -> Self {
        Refusal::Invalid(e.into())
    }
}

/// The verifier's own trust material could not be loaded, so nothing can be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The trust list is not well formed, or breaks a rule (duplicate key ids, …).
    TrustListMalformed(&'static str),
    /// The trust list's signature does not verify under the pinned root key.
    TrustListSignature,
    /// A status list token is not well formed, not signed by a listed key, or over the size
    /// bounds.
    StatusListInvalid(&'static str),
    /// The bundle file is not well formed.
    BundleMalformed(&'static str),
    /// The bundle is pinned to another root key than the one the app pinned
    /// ([`crate::Bundle::open_pinned`]): it belongs to another issuer, or was replaced.
    RootKeyMismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TrustListMalformed(d) => write!(f, "trust list malformed: {d}"),
            Error::TrustListSignature => f.write_str("trust list signature does not verify under the root key"),
            Error::StatusListInvalid(d) => write!(f, "status list invalid: {d}"),
            Error::BundleMalformed(d) => write!(f, "bundle malformed: {d}"),
            Error::RootKeyMismatch => f.write_str("bundle is pinned to another root key than the one expected"),
        }
    }
}

impl std::error::Error for Error {}
