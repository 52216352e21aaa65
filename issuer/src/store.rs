//! Storage on sled, the embedded default. Each operation that changes state runs as one sled
//! transaction over all the trees it touches (the record, its indexes, its audit entry), then
//! flushes before returning, so an acknowledged change is durable and a crash never leaves half
//! of one behind.
//!
//! Trees: `meta`, `tokens` (bearer token hashes), `apps` (sealed application records),
//! `app_meta` (the clear, non-personal summary used for deadlines and reports), `app_index`
//! (blind indexes for duplicate checks), `biometrics` (sealed, apart from the records), `codes`
//! and `access` (hashes of pre-authorized codes and access tokens), `credentials`, `status`
//! (allocated status list indices and their values), `audit` (append-only).

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record is corrupted: {0}")]
    Corrupt(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

pub type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// Aborts a transaction with an error.
pub fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

pub fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own plain structs cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

pub fn from_json<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|_| StoreError::Corrupt("JSON does not match the schema"))
}

/// One audit log entry. Carries ids and codes, never personal data or secrets.
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
}

impl AuditEntry {
    pub fn new(at: u64, actor: &str, action: &str, subject: &str, detail: Option<String>) -> Self {
        Self { at, actor: actor.into(), action: action.into(), subject: subject.into(), detail }
    }
}

#[derive(Debug, Clone)]
pub struct Trees {
    pub meta: sled::Tree,
    pub tokens: sled::Tree,
    pub apps: sled::Tree,
    pub app_meta: sled::Tree,
    pub app_index: sled::Tree,
    pub biometrics: sled::Tree,
    pub codes: sled::Tree,
    pub access: sled::Tree,
    pub credentials: sled::Tree,
    /// e-ID numbers in use → application id.
    pub eids: sled::Tree,
    pub status: sled::Tree,
    pub audit: sled::Tree,
}

#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    pub t: Trees,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).open()?;
        let t = Trees {
            meta: db.open_tree("meta")?,
            tokens: db.open_tree("tokens")?,
            apps: db.open_tree("apps")?,
            app_meta: db.open_tree("app_meta")?,
            app_index: db.open_tree("app_index")?,
            biometrics: db.open_tree("biometrics")?,
            codes: db.open_tree("codes")?,
            access: db.open_tree("access")?,
            credentials: db.open_tree("credentials")?,
            eids: db.open_tree("eids")?,
            status: db.open_tree("status")?,
            audit: db.open_tree("audit")?,
        };
        Ok(Self { db, t })
    }

    /// Waits until everything written so far is on disk. Call before acknowledging.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// A fresh monotonic id (for audit keys).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    pub fn get_json<T: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
        tree.get(key)?.map(|v| from_json(&v)).transpose()
    }

    /// Runs `f` as one transaction over the given trees. sled retries on conflicts.
    pub fn transact<const N: usize, R>(
        &self,
        trees: [&sled::Tree; N],
        f: impl Fn(&[TransactionalTree]) -> TxResult<R>,
    ) -> Result<R, StoreError> {
        let trees: Vec<sled::Tree> = trees.iter().map(|t| (*t).clone()).collect();
        Ok(trees.as_slice().transaction(|tx| f(tx))?)
    }

    /// Appends an audit entry inside a transaction (the audit tree must be part of it).
    pub fn audit_tx(audit: &TransactionalTree, id: u64, entry: &AuditEntry) -> TxResult<()> {
        audit.insert(&id.to_be_bytes(), to_json(entry))?;
        Ok(())
    }

    /// All audit entries from `after` (exclusive), oldest first, at most `limit`.
    pub fn audit_page(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for kv in self.t.audit.range(start.to_be_bytes()..).take(limit) {
            let (k, v) = kv?;
            let id = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| StoreError::Corrupt("audit key"))?);
            out.push((id, from_json(&v)?));
        }
        Ok(out)
    }
}
