//! The service's typed errors. Each variant is a class of outcome the HTTP layer maps to one
//! status (in `http::error`, the one place that knows HTTP); the stable codes inside are what
//! clients read and what the messages are looked up by.

use crate::store::{Conflict, StoreError};

/// One reason with its arguments (field name, …), localized when the response is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Reason {
    pub fn new(code: &'static str) -> Self {
        Self { code, args: Vec::new() }
    }

    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }
}

/// What the wallet-facing (OAuth / OpenID4VCI) endpoints refuse with: the standard `error`
/// codes wallets understand (RFC 6749 section 5.2, RFC 6750 section 3.1, OpenID4VCI 1.0
/// sections 6.3 and 8.3.1.2), each with the id of the message that becomes its localized
/// `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalletError {
    InvalidRequest,
    InvalidGrant,
    UnsupportedGrantType,
    /// The access token is unknown, expired or dead (HTTP 401).
    InvalidToken,
    /// The proof of possession does not verify; the verifier's reason code beside it.
    InvalidProof(&'static str),
    UnsupportedCredentialType,
    /// `invalid_request`: the offer needs a transaction code and the request has none.
    TxCodeRequired,
    /// `invalid_grant`: the transaction code is wrong; `left` more wrong codes kill the offer.
    TxCodeWrong {
        left: u32,
    },
    /// `invalid_grant`: too many wrong transaction codes; the officer must renew the offer.
    OfferLocked,
    /// `invalid_grant`: an offer from before transaction codes; the officer must renew it.
    OfferNeedsRenewal,
    /// `invalid_nonce`: a proof's nonce is unknown, used, expired or from another session.
    InvalidNonce,
    /// `invalid_credential_request`, with what is wrong (English, for developers).
    InvalidCredentialRequest(&'static str),
    /// `unknown_credential_configuration`.
    UnknownCredentialConfiguration,
    /// `unknown_credential_identifier` (this issuer hands out no credential identifiers).
    UnknownCredentialIdentifier,
    /// `invalid_encryption_parameters` (credential response encryption is not offered).
    InvalidEncryptionParameters,
    /// `credential_request_denied`: issuance is refused for good (e.g. the card expired).
    CredentialRequestDenied,
}

impl WalletError {
    pub fn code(self) -> &'static str {
        match self {
            WalletError::InvalidRequest | WalletError::TxCodeRequired => "invalid_request",
            WalletError::InvalidGrant
            | WalletError::TxCodeWrong { .. }
            | WalletError::OfferLocked
            | WalletError::OfferNeedsRenewal => "invalid_grant",
            WalletError::UnsupportedGrantType => "unsupported_grant_type",
            WalletError::InvalidToken => "invalid_token",
            WalletError::InvalidProof(_) => "invalid_proof",
            WalletError::UnsupportedCredentialType => "unsupported_credential_type",
            WalletError::InvalidNonce => "invalid_nonce",
            WalletError::InvalidCredentialRequest(_) => "invalid_credential_request",
            WalletError::UnknownCredentialConfiguration => "unknown_credential_configuration",
            WalletError::UnknownCredentialIdentifier => "unknown_credential_identifier",
            WalletError::InvalidEncryptionParameters => "invalid_encryption_parameters",
            WalletError::CredentialRequestDenied => "credential_request_denied",
        }
    }

    /// The Fluent id of the `error_description`: the code's own message, or a more precise one.
    pub fn message_id(self) -> String {
        match self {
            WalletError::TxCodeRequired => "api-tx-code-required".into(),
            WalletError::TxCodeWrong { .. } => "api-tx-code-wrong".into(),
            WalletError::OfferLocked => "api-offer-locked".into(),
            WalletError::OfferNeedsRenewal => "api-offer-needs-renewal".into(),
            w => crate::i18n::id_of(w.code()),
        }
    }
}

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No credentials, or unknown or revoked ones.
    #[error("unauthorized")]
    Unauthorized,
    /// Authenticated, but not allowed (role, reception point).
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// The request is malformed (HTTP 400); a stable code, maybe the field.
    #[error("bad request: {}", .0.code)]
    BadRequest(Reason),
    /// Understood but refused by a rule (HTTP 422): a summary code and the reasons, each with
    /// its field where there is one.
    #[error("refused: {code}")]
    Refused { code: &'static str, reasons: Vec<Reason> },
    /// The state of things does not allow it (HTTP 409).
    #[error("conflict: {}", .0.code)]
    Conflict(Reason),
    /// A wallet-facing refusal in OAuth terms.
    #[error("wallet request refused: {}", .0.code())]
    Wallet(WalletError),
    /// Too much work in flight: retry after a moment (HTTP 503).
    #[error("busy")]
    Busy,
    /// The data volume is full (HTTP 507); nothing was acknowledged.
    #[error("no space left")]
    DiskFull,
    /// Anything else; the detail goes to the log, never to the client.
    #[error("internal: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn bad_request(code: &'static str) -> Self {
        ServiceError::BadRequest(Reason::new(code))
    }

    pub fn conflict(code: &'static str) -> Self {
        ServiceError::Conflict(Reason::new(code))
    }

    pub fn refused(code: &'static str, reasons: Vec<Reason>) -> Self {
        ServiceError::Refused { code, reasons }
    }

    pub fn field(code: &'static str, field: &'static str) -> Self {
        ServiceError::Refused { code, reasons: vec![Reason::new(code).arg("field", field)] }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ServiceError::Internal(detail.to_string())
    }
}

impl From<StoreError> for ServiceError {
    /// Store failures that the use case did not handle itself: conflicts that can only come from
    /// a concurrent change, capacity, and engine failures.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Conflict::ApplicationChanged) => ServiceError::conflict("application_changed"),
            StoreError::Conflict(Conflict::ApplicationExists) => ServiceError::conflict("application_exists"),
            StoreError::Conflict(Conflict::StatusChanged) => ServiceError::conflict("status_changed"),
            StoreError::Conflict(Conflict::LastAdmin) => ServiceError::conflict("last_admin"),
            StoreError::Conflict(Conflict::InvalidGrant) => ServiceError::Wallet(WalletError::InvalidGrant),
            StoreError::Conflict(Conflict::InvalidToken) => ServiceError::Wallet(WalletError::InvalidToken),
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Busy => ServiceError::Busy,
            StoreError::DiskFull => ServiceError::DiskFull,
            e => ServiceError::Internal(e.to_string()),
        }
    }
}

impl From<crate::custody::CustodyError> for ServiceError {
    fn from(e: crate::custody::CustodyError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
