//! Storage: the [`Store`] trait, the records it keeps, and its engines.
//!
//! The trait has **one method per atomic change**. Each takes the audit entry that records the
//! change and, where the change is to an application, the version the caller read
//! ([`AppChange::expected_version`]); the engine writes the record, its indexes and the audit
//! entry together or not at all, and answers only once the change is durable. A change whose
//! precondition no longer holds (another request changed the application, a code was already
//! redeemed, a status index is taken) fails with a typed [`Conflict`] and writes nothing. The
//! service layer decides what the rules are; an engine only keeps the invariants that need
//! atomicity (uniqueness, versions, single use).
//!
//! Engines: [`embedded`] (redb, the default: one node, no other service). Every engine must pass
//! the [`conformance`] suite; the tests run it against each.
//!
//! Records carry no personal data in clear: application records are sealed by the service before
//! they reach the store (`sealed`), and look-ups by personal data go through keyed blind indexes
//! ([`Digest`]). The clear parts ([`AppMeta`], [`CredentialRow`], audit entries) hold ids, states,
//! dates and codes.

pub mod audit_chain;
pub mod conformance;
pub mod embedded;
pub mod postgres;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{ApplicationId, CredentialId, TokenId};

/// What a store change can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The change's precondition does not hold any more; nothing was written.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The record the change is about does not exist.
    #[error("not found")]
    NotFound,
    /// Too many writes in flight: nothing was written; retry after a moment.
    #[error("too many writes in flight")]
    Busy,
    /// The disk is full: nothing was acknowledged.
    #[error("no space left on the data volume")]
    DiskFull,
    /// A stored record does not decode.
    #[error("stored record is corrupted: {0}")]
    Corrupt(&'static str),
    /// A transient failure the engine retries itself (serialization failure, deadlock); never
    /// returned to callers unless retries ran out.
    #[error("transient conflict between concurrent transactions")]
    Transient,
    /// The engine failed (I/O, lost connection, a stopped writer). Whether an unacknowledged
    /// change was applied is unknown; a retry with the same inputs is safe where the change is
    /// idempotent.
    #[error("storage engine: {0}")]
    Engine(String),
}

/// A precondition that failed. Each is something the service turns into its own refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// Another open application exists for the same person.
    ApplicationExists,
    /// The application's version is not the one the change was computed from.
    ApplicationChanged,
    /// The e-ID number drawn is already taken.
    EidTaken,
    /// The status index drawn is already taken.
    StatusIndexTaken,
    /// The pre-authorized code is unknown, expired, renewed or no longer for this application.
    InvalidGrant,
    /// The access token is unknown, or its offer was renewed.
    InvalidToken,
    /// A credential was already issued with this access token.
    AlreadyIssued(CredentialId),
    /// The credential's status is not the one the change was computed from.
    StatusChanged,
    /// The change would leave no active admin token.
    LastAdmin,
    /// The caller's idempotency key was used by a change that committed first.
    IdempotencyKeyUsed,
    /// The status list to open exists already (another node opened it first).
    StatusListExists,
    /// A nonce is unknown, already used, expired, or bound to another access token.
    InvalidNonce,
    /// The registry feed position is not the one a change was computed at: another run (or
    /// node) applied this change, or a later one, first.
    RegistryPositionMoved,
    /// A registry change record is not at the version a settlement was computed from.
    RegistryRecordChanged,
    /// This credential already has an entry in its key's re-issuance (it was re-offered or
    /// skipped before): nothing was written, so no one is re-offered twice.
    AlreadyReoffered,
}

impl From<Conflict> for StoreError {
    fn from(c: Conflict) -> Self {
        StoreError::Conflict(c)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A 32-byte digest used as a key: a SHA-256 of a secret (token, code) or a keyed blind index
/// of personal data. Hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to tell two apart in a log; a digest of a secret is not itself secret.
        write!(f, "Digest({}…)", hex::encode(&self.0[..4]))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.as_bytes(), &mut b).map_err(serde::de::Error::custom)?;
        Ok(Digest(b))
    }
}

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages tokens and keys, reads the audit log. Does not decide applications.
    Admin,
    /// Works applications at a reception point.
    Officer,
}

/// A staff bearer token (stored under the SHA-256 of the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: TokenId,
    pub role: Role,
    /// A label such as the officer's badge number; not personal data of applicants.
    pub name: String,
    #[serde(default)]
    pub reception_point: Option<String>,
    pub created_at: u64,
    #[serde(default)]
    pub revoked: bool,
}

/// The current credential offer of an approved application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferMeta {
    /// Bumped by every renewal; codes and access tokens of an older generation are dead.
    pub generation: u32,
    pub code: Digest,
    pub expires_at: u64,
}

/// The clear, non-personal part of an application: what reports, lists and checks read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppMeta {
    pub reception_point: String,
    pub state: enrollment::workflow::Status,
    pub submitted_on: verifier::Date,
    pub due_on: verifier::Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<OfferMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialId>,
}

/// An application as stored: its version, the clear summary and the sealed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub id: ApplicationId,
    /// 1 at submission, +1 with every change.
    pub version: u64,
    pub meta: AppMeta,
    pub sealed: Vec<u8>,
}

/// A new application with the blind indexes that identify its person.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub id: ApplicationId,
    pub meta: AppMeta,
    pub sealed: Vec<u8>,
    /// An open application under any of these keys makes the submission a
    /// [`Conflict::ApplicationExists`].
    pub identity: Vec<Digest>,
}

/// The common part of every change to an application: the new clear summary and sealed record,
/// computed from the version read.
#[derive(Debug, Clone)]
pub struct AppChange {
    pub id: ApplicationId,
    pub expected_version: u64,
    pub meta: AppMeta,
    pub sealed: Vec<u8>,
}

/// A pre-authorized code (stored under its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRow {
    pub application: ApplicationId,
    pub generation: u32,
    pub expires_at: u64,
    /// The access token the code was last redeemed for: a retried token request (its response
    /// was lost) replaces it, so one code has at most one live access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Digest>,
    /// A keyed hash of the offer's transaction code (`tx_code`), never the code: a redemption
    /// ([`Store::redeem_code_with_tx_code`]) must present a code with the same hash. `None` on
    /// codes written before transaction codes existed; the service refuses those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<Digest>,
    /// How many wrong transaction codes were presented for this code. Only
    /// [`Store::redeem_code_with_tx_code`] changes it, and only upwards; at its `max_wrong` the
    /// code is dead.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wrong_tx_codes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An access token (stored under its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRow {
    pub application: ApplicationId,
    pub generation: u32,
    /// The nonce of the pre-1.0 token response (`c_nonce`). Empty since OpenID4VCI 1.0: nonces
    /// come from the Nonce Endpoint ([`NonceRow`]).
    #[serde(default)]
    pub nonce: String,
    pub expires_at: u64,
    /// Set when the credential is issued: a retried request gets the same credential back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialId>,
}

/// An issued credential batch: everything needed to sign it again for the same holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRow {
    pub id: CredentialId,
    pub application: ApplicationId,
    pub kid: String,
    /// The holder's device key (base64url Ed25519).
    pub holder: String,
    pub issued_at: u64,
    pub expires_at: u64,
    pub status_list: u32,
    pub status_idx: u64,
    /// Every holder key of a batch (OpenID4VCI batch issuance: one SD-JWT VC per key, all with
    /// `status_idx`), in the order of the first request's proofs; `holder`, which the QR
    /// credentials are bound to, is the first. Empty on rows written before batches, meaning
    /// `[holder]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
    /// The blind index (`Sealer::blind_index("card", number)`) of the residence card the
    /// credential rests on: registry changes find credentials by it
    /// ([`Store::credentials_by_card`]). `None` on rows written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Digest>,
}

/// A nonce handed out by the Nonce Endpoint (stored under the SHA-256 of its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceRow {
    /// Usable up to and including this second.
    pub expires_at: u64,
    /// The access token (SHA-256) of the session that asked for it, when the request carried
    /// one: only that session may use it. `None`: the first credential request that uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Digest>,
}

/// A token request with a transaction code ([`Store::redeem_code_with_tx_code`]).
#[derive(Debug, Clone)]
pub struct TxRedemption {
    /// The code's key (SHA-256 of the pre-authorized code).
    pub code_hash: Digest,
    /// The code row as the service read it; its `application`, `generation` and `tx_code` must
    /// still be the stored ones (its `access` and `wrong_tx_codes` may have moved since).
    pub seen: CodeRow,
    /// The keyed hash of the transaction code presented.
    pub tx_code: Digest,
    /// Wrong codes after which the code is dead.
    pub max_wrong: u32,
    /// The new access token, stored under `access_hash` if the code is right.
    pub access_hash: Digest,
    pub access: AccessRow,
}

/// The audit entries of a token request with a transaction code: the engine writes the one
/// that fits the outcome, in the same transaction.
#[derive(Debug, Clone)]
pub struct TxAudit {
    /// Written when the code is redeemed.
    pub redeemed: AuditEntry,
    /// Written for every wrong transaction code.
    pub wrong: AuditEntry,
    /// Written too when a wrong code is the one that kills the code.
    pub locked: AuditEntry,
}

/// What a token request with a transaction code came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxOutcome {
    /// The transaction code was right: the access token is stored.
    Redeemed,
    /// The transaction code was wrong: counted (this is the `wrong`-th), and when `wrong`
    /// reached `max_wrong` the code is dead.
    Wrong { wrong: u32, locked: bool },
}

/// Issuing a credential: the access token it consumes, the application change, the credential.
#[derive(Debug, Clone)]
pub struct Issuance {
    pub access: Digest,
    pub app: AppChange,
    pub credential: CredentialRow,
    /// The proofs' nonces, used up with the issuance under the rules of
    /// [`Store::consume_nonces`] (checked at `now`): one unknown, expired or of another session
    /// refuses the issuance with [`Conflict::InvalidNonce`], and nothing is written.
    pub nonces: Vec<Digest>,
    pub now: u64,
}

/// What answers a retried request that carried an `Idempotency-Key`: written in the same
/// transaction as the change it answers, so either both are durable or neither.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// Whose key it is (a staff token id): keys are per caller.
    pub scope: String,
    /// SHA-256 of the key.
    pub key: Digest,
    /// SHA-256 of what was asked (route and inputs): the same key with another request is refused.
    pub fingerprint: Digest,
    /// The use case's result, sealed by the service (it may hold personal data or a secret).
    pub outcome: Vec<u8>,
    pub created_at: u64,
}

/// One audit log entry. Carries ids and codes, never personal data or secrets.
///
/// The log is a hash chain ([`audit_chain`]): the engine fills each entry's
/// [`AuditEntry::link`] (whatever the caller put there is replaced), the embedded engine in the
/// change's own transaction, PostgreSQL when it links the staged entry a moment after the
/// change commits; an entry edited, removed or moved after it is linked no longer links.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: u64,
    /// Who: a token id, `system`, or `wallet`.
    pub actor: String,
    /// What: `application.submitted`, `key.rotated`, `credential.issued`, …
    pub action: String,
    /// Which: an application, credential or key id.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Not part of the log: when set, the engine writes this record with the change, and
    /// refuses the change with [`Conflict::IdempotencyKeyUsed`] if the key has a record already
    /// (decided before anything is written).
    #[serde(skip)]
    pub idempotency: Option<IdempotencyRecord>,
    /// Where the entry sits in the hash chain; set by the engine when it appends the entry
    /// (`None` on entries written before the chain existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<AuditLink>,
}

impl AuditEntry {
    pub fn new(at: u64, actor: &str, action: &str, subject: &str, detail: Option<String>) -> Self {
        Self {
            at,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail,
            idempotency: None,
            link: None,
        }
    }
}

/// An audit entry's place in the hash chain: its sequence number, the hash of the entry before
/// it, and its own hash ([`audit_chain::entry_hash`] over the three and the entry's content).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditLink {
    pub seq: u64,
    pub prev: Digest,
    pub hash: Digest,
}

/// A status list: its size and how many indices are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListRow {
    pub id: u32,
    pub capacity: u64,
    pub allocated: u64,
}

/// A signed trust list as published (all nodes serve the newest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedTrustList {
    pub seq: u64,
    pub jws: String,
}

// ----- registry changes -----

/// One credential status compare-and-set inside a registry change (Token Status List values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMove {
    pub credential: CredentialId,
    /// The status the change was computed from.
    pub expected: u8,
    pub new: u8,
}

/// A credential on a changed card, and what the change did (or will do) to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredential {
    pub credential: CredentialId,
    pub application: ApplicationId,
    pub reception_point: String,
    /// Its status when the change was applied, and the status this change puts it in (equal
    /// when the change leaves it alone). Token Status List values.
    pub from: u8,
    pub to: u8,
    /// Whether `to` is in force (an expiry waits for the end of the card's last valid day).
    pub done: bool,
}

/// The renewal a replacement opened, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRenewal {
    /// The renewal application (for the new card).
    pub application: ApplicationId,
    /// `None` while it is open; `Some(state)` (issued or rejected) once the old credentials were
    /// revoked because of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<enrollment::workflow::Status>,
}

/// Whether the holder was told of a registry change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RegistryNoticeState {
    /// Nothing to tell (no credential changed).
    None,
    /// To be sent (the change took effect).
    Pending,
    /// Handed to the notifier.
    Sent { at: u64, via: String, lang: String },
    /// The notifier refused it (audited; not retried).
    Failed { at: u64, via: String },
}

/// What the issuer did with one change of the registry's feed: stored under the change's `seq`
/// with the change itself (so no change is applied twice), read by the officers' reports, and
/// holding the work the change left for later. No personal data: the card is a blind index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryChangeRecord {
    /// The change's feed position.
    pub seq: u64,
    /// 1 when applied, +1 with every settlement ([`Store::settle_registry_change`]).
    pub version: u32,
    /// Blind index of the changed card (`Sealer::blind_index("card", number)`).
    pub card: Digest,
    pub event: enrollment::registry_changes::CardEvent,
    /// The registry's own reason code.
    pub registry_reason: String,
    /// The issuer's reason for the credentials' change.
    pub reason: enrollment::registry_changes::ChangeReason,
    /// When the registry recorded the change, when this issuer applied it, and when its
    /// status changes take effect (UNIX seconds).
    pub registry_at: u64,
    pub applied_at: u64,
    pub effective_at: u64,
    /// The credentials found on the card.
    pub credentials: Vec<RegistryCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<RegistryRenewal>,
    /// A replacement whose renewal could not be opened (the person has another open
    /// application: this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_blocked_by: Option<ApplicationId>,
    pub notice: RegistryNoticeState,
    /// When the work left is due (UNIX seconds); `None` once everything is settled. Engines index
    /// it ([`Store::pending_registry_changes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_due: Option<u64>,
}

/// Applying one registry change ([`Store::apply_registry_change`]).
#[derive(Debug, Clone)]
pub struct RegistryApply {
    /// The feed position the change was computed at: the stored position must still be this.
    pub after: u64,
    /// The record (version 1); its `seq` becomes the position.
    pub record: RegistryChangeRecord,
    pub moves: Vec<StatusMove>,
    /// The renewal application a replacement opens, with its identity keys.
    pub renewal: Option<NewApplication>,
    /// Written in this order, in the same transaction.
    pub audit: Vec<AuditEntry>,
}

/// Settling work an applied registry change left ([`Store::settle_registry_change`]).
#[derive(Debug, Clone)]
pub struct RegistrySettle {
    /// The record as it becomes: its `version` is the stored version + 1.
    pub record: RegistryChangeRecord,
    pub moves: Vec<StatusMove>,
    pub audit: Vec<AuditEntry>,
}

/// What became of one credential signed by a revoked key ([`Store::record_reoffer`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReofferOutcome {
    /// A new offer (this generation of the application's offer) was made to the holder.
    Offered { generation: u32 },
    /// Nothing to re-offer, and why: `revoked` (the credential itself is), `expired`, or
    /// `superseded` (the application holds a newer credential).
    Skipped { reason: String },
}

/// One credential's entry in a key's re-issuance: written once, with its re-offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReofferEntry {
    /// The revoked key.
    pub kid: String,
    /// The credential it signed.
    pub credential: CredentialId,
    pub application: ApplicationId,
    pub at: u64,
    #[serde(flatten)]
    pub outcome: ReofferOutcome,
    /// The offer's secrets (pre-authorized code and transaction code), sealed by the service,
    /// until the notice carrying them is handed to the notifier ([`Store::reoffer_sent`]): a
    /// re-issuance interrupted between the two sends the same offer again instead of losing it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "sealed_b64")]
    pub notice: Option<Vec<u8>>,
}

/// The new offer written with a re-offer's entry: as [`Store::renew_offer`].
#[derive(Debug, Clone)]
pub struct Reoffer {
    pub app: AppChange,
    pub code_hash: Digest,
    pub code: CodeRow,
}

/// Sealed bytes as base64url in JSON.
mod sealed_b64 {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&B64.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => B64.decode(s).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// Where the issuer keeps its state. One method per atomic change; see the module docs.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// The engine's name, for logs and health.
    fn engine(&self) -> &'static str;

    /// A durable no-op through the same path as every write: answers once the write path has
    /// made something durable (health checks use it with a deadline).
    async fn ping(&self) -> Result<()>;

    // ----- staff tokens -----

    /// The token stored under `hash`.
    async fn token(&self, hash: &Digest) -> Result<Option<TokenRow>>;
    /// Every staff token (revoked ones included).
    async fn tokens(&self) -> Result<Vec<TokenRow>>;
    /// Adds a token.
    async fn create_token(&self, hash: Digest, row: TokenRow, audit: AuditEntry) -> Result<()>;
    /// Adds the first admin token unless one was ever created; `false` when it was.
    async fn bootstrap_admin(&self, hash: Digest, row: TokenRow, audit: AuditEntry) -> Result<bool>;
    /// Revokes a token; refuses to revoke the last active admin token.
    async fn revoke_token(&self, id: &TokenId, audit: AuditEntry) -> Result<TokenRow>;

    // ----- applications -----

    async fn application(&self, id: &ApplicationId) -> Result<Option<AppRow>>;
    /// The clear summaries, of one reception point or of all.
    async fn application_metas(&self, point: Option<&str>) -> Result<Vec<(ApplicationId, AppMeta)>>;
    /// The application last filed under a blind index of its person.
    async fn application_by_identity(&self, key: &Digest) -> Result<Option<(ApplicationId, AppMeta)>>;
    /// Files a new application (version 1).
    async fn insert_application(&self, new: NewApplication, audit: AuditEntry) -> Result<()>;
    /// Changes an application's record and summary; returns the new version.
    async fn update_application(&self, change: AppChange, audit: AuditEntry) -> Result<u64>;
    /// Records a capture: the sealed files replace any earlier capture of the application.
    async fn capture_biometrics(&self, change: AppChange, sealed_files: Vec<u8>, audit: AuditEntry) -> Result<u64>;
    /// The sealed biometric files of an application.
    async fn biometrics(&self, id: &ApplicationId) -> Result<Option<Vec<u8>>>;
    /// Approves: claims the e-ID number (by blind index) and writes the first offer's code.
    async fn approve(
        &self,
        change: AppChange,
        eid: Digest,
        code_hash: Digest,
        code: CodeRow,
        audit: AuditEntry,
    ) -> Result<u64>;
    /// Replaces the offer: the old code is removed; access tokens of the old generation die
    /// with it (they name their generation).
    async fn renew_offer(&self, change: AppChange, code_hash: Digest, code: CodeRow, audit: AuditEntry) -> Result<u64>;

    // ----- delivery -----

    async fn code(&self, hash: &Digest) -> Result<Option<CodeRow>>;
    /// Trades a code for an access token. `seen` is the code row as read; if the code changed
    /// or is gone since, [`Conflict::InvalidGrant`]. A previous access token of the same code is
    /// removed.
    async fn redeem_code(
        &self,
        code_hash: Digest,
        seen: CodeRow,
        access_hash: Digest,
        access: AccessRow,
        audit: AuditEntry,
    ) -> Result<()>;
    async fn access(&self, hash: &Digest) -> Result<Option<AccessRow>>;
    /// Issues: the credential row, its status index (unique), the access token marked with it,
    /// the application changed, its code removed. [`Conflict::AlreadyIssued`] when the access
    /// token already has a credential.
    async fn issue_credential(&self, issuance: Issuance, audit: AuditEntry) -> Result<()>;
    async fn credential(&self, id: &CredentialId) -> Result<Option<CredentialRow>>;

    /// Trades a code for an access token if the transaction code is right, and counts it if it
    /// is wrong, atomically with the code row (so parallel guesses cannot get past the limit).
    /// In one transaction:
    /// 1. the code row under `r.code_hash` must exist and have the `application`, `generation`
    ///    and `tx_code` of `r.seen`, else [`Conflict::InvalidGrant`];
    /// 2. if its `wrong_tx_codes >= r.max_wrong`, [`Conflict::InvalidGrant`] (dead);
    /// 3. if its `tx_code` is not `Some(r.tx_code)`: `wrong_tx_codes += 1`, the row written
    ///    back, `audit.wrong` appended, and `audit.locked` too when the count reached
    ///    `r.max_wrong`; answers [`TxOutcome::Wrong`] (a change that stands, not a refusal);
    /// 4. else as [`Store::redeem_code`]: the previous access token of the code (`access`) is
    ///    removed, `r.access` stored under `r.access_hash`, the row's `access` set to it,
    ///    `audit.redeemed` appended; answers [`TxOutcome::Redeemed`].
    ///
    /// Conflicts write nothing. Live access tokens survive a wrong code (even the last one).
    /// See the conformance suite's `transaction_codes_are_counted_atomically`.
    async fn redeem_code_with_tx_code(&self, r: TxRedemption, audit: TxAudit) -> Result<TxOutcome>;

    // ----- nonces (OpenID4VCI Nonce Endpoint) -----

    /// Stores a fresh nonce under `hash` (SHA-256 of its value; the service draws 256 random
    /// bits, so a clash is an engine error) and, in the same transaction, removes at most 16
    /// nonces whose `expires_at` is before `purge_before` (so the table holds about the live
    /// nonces, whoever asks for many). No audit entry: a nonce is no change of an application,
    /// credential, key or status list. Durable when it answers.
    async fn create_nonce(&self, hash: Digest, row: NonceRow, purge_before: u64) -> Result<()>;

    /// Uses nonces, each once: every nonce in `hashes` must exist, have `expires_at >= now`,
    /// and have no `access` or `access == Some(access)`; then all are removed, atomically.
    /// Otherwise [`Conflict::InvalidNonce`] and nothing is removed (a request with one bad
    /// nonce uses none). Two concurrent uses of one nonce: exactly one succeeds. No audit entry.
    async fn consume_nonces(&self, hashes: Vec<Digest>, access: Digest, now: u64) -> Result<()>;

    // ----- status lists -----

    /// The status of an allocated index (`None`: not allocated).
    async fn status(&self, list: u32, idx: u64) -> Result<Option<u8>>;
    /// Changes a credential's status from `expected` to `new`.
    async fn set_status(&self, credential: &CredentialId, expected: u8, new: u8, audit: AuditEntry) -> Result<()>;
    /// The entries of a list whose status is not 0 (valid), in index order.
    async fn status_marks(&self, list: u32) -> Result<Vec<(u64, u8)>>;
    /// How many indices are allocated in a list.
    async fn status_allocated(&self, list: u32) -> Result<u64>;
    /// A number that changes whenever any status mark changes (publication compares it).
    async fn status_version(&self) -> Result<u64>;

    /// Every status list, oldest first.
    async fn status_lists(&self) -> Result<Vec<StatusListRow>>;
    /// Opens a new status list (its id must be new: [`Conflict::StatusListExists`] otherwise).
    async fn open_status_list(&self, id: u32, capacity: u64, audit: AuditEntry) -> Result<()>;

    // ----- keys and the trust list (shared by every node) -----

    /// Publishes the public records of one node's signing keys (replacing that node's earlier
    /// records; records of kids marked revoked in the store stay revoked). Bumps the keys
    /// version when anything changed.
    async fn publish_keys(&self, node: &str, keys: Vec<verifier::TrustedKey>) -> Result<()>;
    /// Every node's published signing keys.
    async fn keys(&self) -> Result<Vec<(String, verifier::TrustedKey)>>;
    /// Marks a published key revoked (from any node): the node that holds it stops signing.
    async fn revoke_key(&self, kid: &str, at: u64, audit: AuditEntry) -> Result<()>;
    /// A number that changes whenever the published keys or the status lists change (what the
    /// trust list names).
    async fn keys_version(&self) -> Result<u64>;
    /// Stores a signed trust list if its sequence number is higher than the stored one's;
    /// `false` when it is not (another node published a newer one).
    async fn publish_trust_list(&self, list: PublishedTrustList) -> Result<bool>;
    /// The newest published trust list.
    async fn trust_list(&self) -> Result<Option<PublishedTrustList>>;

    // ----- idempotency -----

    /// The record that answers a retry of `scope`'s request with idempotency key `key`.
    async fn idempotency(&self, scope: &str, key: &Digest) -> Result<Option<IdempotencyRecord>>;

    // ----- audit and settings -----

    /// Appends an entry on its own; returns its sequence number.
    async fn append_audit(&self, entry: AuditEntry) -> Result<u64>;
    /// Entries after `after` (exclusive), oldest first, at most `limit`.
    async fn audit_page(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, AuditEntry)>>;
    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Writes a setting, with an audit entry when the change is one to record.
    async fn put_setting(&self, key: &str, value: Vec<u8>, audit: Option<AuditEntry>) -> Result<()>;

    // ----- operations: the audit chain's head, backups -----

    /// The newest audit entry's link ([`AuditEntry::link`]): its sequence number and hash, the
    /// chain's head. `None` while the log has no chained entry. Read from what is committed.
    async fn audit_head(&self) -> Result<Option<AuditLink>>;

    /// Writes a consistent copy of the whole store to `dest` (a new file, 0600, made durable
    /// before this returns) while the store stays online, and returns its length in bytes.
    /// What is sealed stays sealed: the copy holds the stored bytes. The copy is the engine's
    /// own format, restored by the engine's own `restore` (offline, into an empty store):
    /// the embedded engine copies its database file between two group commits (writes wait,
    /// reads go on); PostgreSQL copies every table in one `REPEATABLE READ` transaction.
    async fn backup(&self, dest: &std::path::Path) -> Result<u64>;

    /// Free bytes on the volume the engine writes to, when it is this node's to watch (the
    /// embedded engine's data folder); `None` when the engine's disk is elsewhere (PostgreSQL:
    /// the database server's own). Readiness fails below the write floor.
    fn free_bytes(&self) -> Option<u64>;
    // ----- registry changes (the national registry's change feed; service::registry_sync) -----

    /// The feed position reached: the `seq` of the last registry change applied; 0 before any.
    async fn registry_position(&self) -> Result<u64>;

    /// Applies one change of the registry's feed, exactly once, in one transaction. Decided
    /// first, in this order (a refusal writes nothing, not even its audit entries):
    /// 1. the stored position must be `c.after`, and `c.record.seq > c.after`, else
    ///    [`Conflict::RegistryPositionMoved`];
    /// 2. each of `c.moves`: the credential must exist ([`StoreError::NotFound`]) with status
    ///    `expected` ([`Conflict::StatusChanged`]);
    /// 3. `c.renewal`, when given, as [`Store::insert_application`]: an open application under one
    ///    of its identity keys is [`Conflict::ApplicationExists`].
    ///
    /// Then it writes the new statuses (the status version moves if any did), the renewal
    /// application (version 1) with its identity keys, the record under its `seq` (found again by
    /// its `card`, and among the pending while `pending_due` is set), the position
    /// `c.record.seq`, and `c.audit` in order. Two runs applying the same change: one wins, the
    /// other is told [`Conflict::RegistryPositionMoved`].
    async fn apply_registry_change(&self, c: RegistryApply) -> Result<()>;

    /// Settles work an applied change left (its revocation at the end of a card's last valid day,
    /// the old credentials once the renewal closed, the holder's notice), in one transaction: the
    /// stored record under `s.record.seq` must exist ([`StoreError::NotFound`]) at version
    /// `s.record.version - 1` ([`Conflict::RegistryRecordChanged`]), and `s.moves` as in
    /// [`Store::apply_registry_change`]; then the statuses, the record (leaving the pending ones
    /// when its `pending_due` is `None`) and `s.audit` are written. A refusal writes nothing.
    async fn settle_registry_change(&self, s: RegistrySettle) -> Result<()>;

    /// The record of the applied change at `seq`.
    async fn registry_change(&self, seq: u64) -> Result<Option<RegistryChangeRecord>>;

    /// Records with `seq > after`, in `seq` order, at most `limit`.
    async fn registry_changes(&self, after: u64, limit: usize) -> Result<Vec<RegistryChangeRecord>>;

    /// Every record about one card (its blind index), in `seq` order.
    async fn registry_changes_for_card(&self, card: &Digest) -> Result<Vec<RegistryChangeRecord>>;

    /// Records with work due: `pending_due <= due_by` and `seq > after`, in `seq` order, at
    /// most `limit`.
    async fn pending_registry_changes(
        &self,
        due_by: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RegistryChangeRecord>>;

    /// Every credential resting on a card: those whose [`CredentialRow::card`] is `card`, in id
    /// order (indexed when the credential is issued).
    async fn credentials_by_card(&self, card: &Digest) -> Result<Vec<CredentialRow>>;

    // ----- custody: when keys were first published, credentials by key, re-issuance -----

    /// Stores a signed trust list as [`Store::publish_trust_list`] does (only if its `seq` is
    /// higher than the stored one's; `false` otherwise, and then nothing at all is written) and,
    /// in the same transaction, appends `audit` and records `at` as the **first publication** of
    /// every key id in `kids` that has none yet. A first publication, once recorded, never moves:
    /// it is when verifiers could first learn the key, which the rule for activating a `next` key
    /// waits on (`keys::check_activation`).
    async fn publish_trust_list_naming(
        &self,
        list: PublishedTrustList,
        kids: Vec<String>,
        at: u64,
        audit: AuditEntry,
    ) -> Result<bool>;
    /// When each key id was first in a published trust list (UNIX seconds), in key id order.
    async fn keys_first_published(&self) -> Result<Vec<(String, u64)>>;
    /// The credentials signed by `kid` ([`CredentialRow::kid`]), in credential id order, starting
    /// after `after` (exclusive), at most `limit`. Paging by id means a caller that reads them all
    /// reads each credential once (the embedded engine scans, PostgreSQL uses an index).
    async fn credentials_by_kid(
        &self,
        kid: &str,
        after: Option<&CredentialId>,
        limit: usize,
    ) -> Result<Vec<CredentialRow>>;
    /// Records one step of a key's re-issuance, **at most once per (kid, credential)**: the
    /// entry, and for a re-offer the new offer of the credential's application (as
    /// [`Store::renew_offer`]: the application written at the version it was computed from, its
    /// old code removed, the new code stored), and the audit entry, together. An entry for the
    /// same kid and credential already there: [`Conflict::AlreadyReoffered`], and nothing is
    /// written (so a re-issuance that is interrupted and run again, or run by two nodes at once,
    /// re-offers each credential once). A version that moved: [`Conflict::ApplicationChanged`].
    async fn record_reoffer(&self, entry: ReofferEntry, offer: Option<Reoffer>, audit: AuditEntry) -> Result<()>;
    /// Marks a re-offer's notice as handed to the notifier: drops the entry's sealed notice and
    /// appends `audit`. [`StoreError::NotFound`] when there is no such entry.
    async fn reoffer_sent(&self, kid: &str, credential: &CredentialId, audit: AuditEntry) -> Result<()>;
    /// Every entry of `kid`'s re-issuance, in credential id order.
    async fn reoffers(&self, kid: &str) -> Result<Vec<ReofferEntry>>;
}

/// Bounds the writes in flight: a write waits at most `wait` for a place, then fails with
/// [`StoreError::Busy`] (the HTTP layer answers 503 with `Retry-After`). Engines hold a permit
/// for the whole of each write, so no load can queue unbounded work behind the disk.
///
/// The gate also carries the commit timer the engines report each durable commit to (the
/// `issuer_store_commit_seconds` metric), since every engine already holds it.
#[derive(Debug, Clone)]
pub struct WriteGate {
    places: Arc<tokio::sync::Semaphore>,
    max: usize,
    wait: Duration,
    commits: Option<prometheus::Histogram>,
}

impl WriteGate {
    pub fn new(max_in_flight: usize, wait: Duration) -> Self {
        let max = max_in_flight.max(1);
        Self { places: Arc::new(tokio::sync::Semaphore::new(max)), max, wait, commits: None }
    }

    /// Reports each commit's duration (group commit with its fdatasync, or PostgreSQL's
    /// `COMMIT`) to `histogram`.
    pub fn with_commit_timer(mut self, histogram: prometheus::Histogram) -> Self {
        self.commits = Some(histogram);
        self
    }

    /// Called by engines after each commit (successful or not).
    pub fn observe_commit(&self, took: Duration) {
        if let Some(h) = &self.commits {
            h.observe(took.as_secs_f64());
        }
    }

    /// A place for one write, or `Busy` after the wait.
    pub async fn enter(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(StoreError::Busy),
        }
    }

    /// Writes in flight now.
    pub fn in_flight(&self) -> usize {
        self.max - self.places.available_permits()
    }
}

impl Default for WriteGate {
    fn default() -> Self {
        Self::new(1024, Duration::from_secs(2))
    }
}

/// JSON for records: our own plain structs always serialize.
pub(crate) fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(b: &[u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(b).map_err(|_| StoreError::Corrupt(what))
}
