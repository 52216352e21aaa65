//! The embedded engine: redb, with group commit on one writer thread.
//!
//! # Why redb, and how durability is kept
//!
//! The issuer's first engine was sled 0.34. It broke both invariants that matter here (see
//! ARCHITECTURE.md, "Choices and why"): its flush is `sync_file_range`, not fsync, so an
//! acknowledged change could be lost on power loss; and `flush_async` from many tasks wedged its
//! I/O threads for good (upstream sled issue 1308). redb is a maintained embedded ACID engine
//! whose `Durability::Immediate` commit ends with `fdatasync`.
//!
//! An fdatasync costs about 0.2 ms here, so one per request would cap a node at a few thousand
//! writes per second and waste the disk's bandwidth. Instead every change runs on **one writer
//! thread**, and the writer applies every change waiting in its queue inside **one** redb write
//! transaction, makes the whole group durable with one fdatasync, and only then answers the
//! waiting requests (**group commit**). While that fsync runs, new changes queue up and form the
//! next group.
//!
//! The group's fdatasync is that of a **redo log** ([`wal`]): the inserts and removes the group
//! made are appended to `issuer.wal` and synced, and only then is the transaction committed in
//! memory (`Durability::None`), so readers never see a change before it is durable. Every 32 MB of
//! log or 2 s, a group is committed with `Durability::Immediate` instead (a checkpoint), and
//! the log starts again. After a crash, opening the store applies the log past the last
//! checkpoint before anything else. A durable redb commit rewrites every page the group touched
//! at random places; the log is one sequential write, so a group's commit costs a fraction of the
//! time and the pages of many groups are written once per checkpoint.
//!
//! A change that refuses (its precondition failed) must leave nothing behind, although it shares
//! a transaction with others. So every change is written in two phases, through [`Tx`]: first
//! it reads and decides (tables opened with [`Tx::read`]), then it writes (tables opened with
//! [`Tx::write`]) and may no longer refuse. A change that fails after it began writing (an I/O
//! error, or a bug) cannot be undone alone: the writer aborts the whole group, answers every
//! change in it with an engine error (nothing was acknowledged), and carries on. The conformance
//! suite's "a refused change writes nothing" checks hold every change to the rule.
//!
//! Readers use redb read transactions on the calling task and see only committed groups, which
//! are durable (in the log or in redb) before they are committed.
//!
//! The number of writes in flight is bounded by a [`WriteGate`]; the writer thread never blocks
//! on anything but the disk, so the service cannot wedge on its store.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use async_trait::async_trait;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle as _};

use super::*;

mod registry;
mod wal;

/// Faults a test injects where the disk can fail a group, one at a time, for one store's files
/// (test builds only).
#[cfg(test)]
mod fault {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Fault {
        /// The redo log's fdatasync fails after the record was written whole (key: the log).
        LogSync,
        /// The in-memory commit fails after the redo record is durable (key: the database).
        Commit,
    }

    static ARMED: Mutex<Vec<(PathBuf, Fault)>> = Mutex::new(Vec::new());

    /// The next `fault` at `path` happens.
    pub(super) fn arm(path: &Path, fault: Fault) {
        ARMED.lock().unwrap_or_else(|p| p.into_inner()).push((path.to_path_buf(), fault));
    }

    /// Whether `fault` is armed at `path`; it happens once.
    pub(super) fn take(path: &Path, fault: Fault) -> bool {
        let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
        match armed.iter().position(|(p, f)| p == path && *f == fault) {
            Some(i) => {
                armed.remove(i);
                true
            }
            None => false,
        }
    }
}

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
/// id → version (8 bytes, big-endian) followed by the sealed record.
const APPS: TableDefinition<&str, &[u8]> = TableDefinition::new("apps");
const APP_META: TableDefinition<&str, &[u8]> = TableDefinition::new("app_meta");
const IDENTITY: TableDefinition<&[u8], &str> = TableDefinition::new("identity");
const EIDS: TableDefinition<&[u8], &str> = TableDefinition::new("eids");
const BIOMETRICS: TableDefinition<&str, &[u8]> = TableDefinition::new("biometrics");
const CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("codes");
const ACCESS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("access");
const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");
/// (list, index) → status value: every allocated index.
const STATUS: TableDefinition<(u32, u64), u8> = TableDefinition::new("status");
/// (list, index) → status value, for the entries that are not 0 (valid) only: what a status
/// list token is built from, without reading every allocated index.
const STATUS_MARKS: TableDefinition<(u32, u64), u8> = TableDefinition::new("status_marks");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// kid → {node, key}: every node's published signing keys.
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
/// id → capacity.
const STATUS_LISTS: TableDefinition<u32, u64> = TableDefinition::new("status_lists");
/// scope, 0, SHA-256 of the key → the record.
const IDEMPOTENCY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("idempotency");
/// SHA-256 of a nonce → its row (JSON).
const NONCES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nonces");
/// (expires_at, SHA-256 of the nonce) → 0: the nonces in expiry order, to purge the expired.
const NONCE_EXPIRY: TableDefinition<(u64, &[u8]), u8> = TableDefinition::new("nonce_expiry");
/// Expired nonces removed with each new one.
const NONCE_PURGE: usize = 16;
/// seq → the record of an applied registry change (JSON); see [`registry`].
const REGISTRY_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("registry_changes");
/// (card blind index, seq) → 0: the records about each card.
const REGISTRY_BY_CARD: TableDefinition<(&[u8], u64), u8> = TableDefinition::new("registry_by_card");
/// seq → when its pending work is due: the records with work left.
const REGISTRY_PENDING: TableDefinition<u64, u64> = TableDefinition::new("registry_pending");
/// (card blind index, credential id) → 0: the credentials resting on each card.
const CARD_CREDENTIALS: TableDefinition<(&[u8], &str), u8> = TableDefinition::new("card_credentials");
/// kid → when it was first in a published trust list.
const KEY_PUBLICATIONS: TableDefinition<&str, u64> = TableDefinition::new("key_publications");
/// (revoked kid, credential id) → its re-issuance entry (JSON).
const REOFFERS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("reoffers");

const K_BOOTSTRAPPED: &str = "admin_bootstrapped";
const K_STATUS_VERSION: &str = "status_version";
const K_KEYS_VERSION: &str = "keys_version";
const K_TRUST_LIST: &str = "trust_list";
/// The audit chain's head: the newest entry's [`AuditLink`].
const K_AUDIT_HEAD: &str = "audit_head";
const K_REGISTRY_POSITION: &str = "registry_position";
/// The redo log's epoch (see [`wal`]), 8 bytes little-endian.
const K_WAL_EPOCH: &str = "wal_epoch";

/// Most changes in one group commit.
const MAX_GROUP: usize = 4096;
/// Under load, a group smaller than this waits up to [`GATHER_WAIT`] for one more change.
const GATHER_BELOW: usize = 16;
const GATHER_WAIT: std::time::Duration = std::time::Duration::from_micros(200);

fn engine_err(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    match &e {
        redb::Error::Io(io) if io.raw_os_error() == Some(ENOSPC) => StoreError::DiskFull,
        // An earlier I/O error latched the database: the writer reopens it (see `reopen`);
        // until then, "retry in a moment" is the honest answer.
        redb::Error::PreviousIo | redb::Error::DatabaseClosed => StoreError::Busy,
        _ => StoreError::Engine(e.to_string()),
    }
}

/// `ENOSPC`: no space left on the device.
const ENOSPC: i32 = 28;

/// Free space below which the writer refuses a group with [`StoreError::DiskFull`] before
/// writing anything (the default of [`Options::min_free_bytes`]).
pub const MIN_FREE_BYTES: u64 = 16 << 20;

/// Settings of the embedded engine.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Before each group commit the writer checks the data volume's free space; below this many
    /// bytes it answers the whole group [`StoreError::DiskFull`] without writing. Running out of
    /// space inside a commit is handled too (the database is reopened, see the module docs), but
    /// refusing early keeps the database from ever seeing the error. 0 turns the check off.
    pub min_free_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { min_free_bytes: MIN_FREE_BYTES }
    }
}

/// The open database, swapped when the writer reopens it after an I/O error; readers take a
/// clone of the `Arc` for the length of one read transaction.
#[derive(Debug, Default)]
struct Slot {
    db: std::sync::RwLock<Option<Arc<Database>>>,
    /// Why there is no database right now (while it is being reopened).
    down: std::sync::Mutex<Option<StoreError>>,
}

impl Slot {
    fn get(&self) -> Result<Arc<Database>> {
        if let Some(db) = self.db.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(db.clone());
        }
        Err(self.down.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or(StoreError::Busy))
    }

    fn put(&self, db: Arc<Database>) {
        *self.db.write().unwrap_or_else(|p| p.into_inner()) = Some(db);
        *self.down.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn take(&self, why: StoreError) -> Option<Arc<Database>> {
        *self.down.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.db.write().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Free bytes on the volume holding `path` (for an unprivileged process), if the system says.
fn free_bytes(path: &Path) -> Option<u64> {
    rustix::fs::statvfs(path).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// A change waiting for the writer: it runs inside a write transaction, then hears whether its
/// group was made durable.
trait Job: Send {
    /// Runs the change in the group's transaction; `true` if it stands.
    fn apply(&mut self, tx: &Tx<'_>) -> bool;
    /// Answers the caller with the change's result, or the commit's failure.
    fn finish(self: Box<Self>, durable: Result<()>);
}

struct Change<T, F> {
    f: Option<F>,
    idempotency: Option<IdempotencyRecord>,
    result: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<T: Send, F: FnOnce(&Tx<'_>) -> Result<T> + Send> Job for Change<T, F> {
    fn apply(&mut self, tx: &Tx<'_>) -> bool {
        let r = match self.f.take() {
            Some(f) => with_idempotency(tx, self.idempotency.take(), f),
            None => Err(StoreError::Engine("change applied twice".into())),
        };
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, durable: Result<()>) {
        let out = match (self.result, durable) {
            // The group did not become durable: neither did this change, nor what a refusal was
            // decided on.
            (_, Err(e)) => Err(e),
            (Some(r), Ok(())) => r,
            (None, Ok(())) => Err(StoreError::Engine("change not applied".into())),
        };
        // The caller may have gone away (client disconnected): the change stands regardless.
        let _ = self.reply.send(out);
    }
}

/// The embedded engine. Cheap to share (`Arc`); the writer thread stops when it is dropped.
pub struct Embedded {
    slot: Arc<Slot>,
    jobs: mpsc::Sender<Msg>,
    gate: WriteGate,
    path: PathBuf,
    /// Durable group commits so far (for metrics and tests).
    groups: Arc<AtomicU64>,
    /// Times the writer reopened the database after an I/O error.
    reopened: Arc<AtomicU64>,
    /// The writer thread, joined when the store is dropped (after its last checkpoint).
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Embedded {
    /// Stops the writer and waits for it: it answers what is queued, checkpoints, and lets go of
    /// the file, so a process that drops its store leaves no redo record behind.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.jobs, mpsc::channel().0));
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// What the writer thread is asked to do.
enum Msg {
    /// A change, to apply in the next group.
    Job(Box<dyn Job>),
    /// A copy of the database file, made between two groups.
    Backup(PathBuf, tokio::sync::oneshot::Sender<Result<u64>>),
}

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Why the embedded store did not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error(
        "another issuer is already using the data folder {0} (only one process may open it): stop it, or give this one \
         another --data folder"
    )]
    InUse(PathBuf),
    #[error("cannot create the data folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database {path}: {detail}")]
    Engine { path: PathBuf, detail: String },
}

impl Embedded {
    /// Opens (or creates) the database `issuer.redb` in `dir` (made 0700 on Unix), with the
    /// default [`Options`].
    pub fn open(dir: &Path, gate: WriteGate) -> std::result::Result<Self, OpenError> {
        Self::open_with(dir, gate, Options::default())
    }

    /// Opens (or creates) the database `issuer.redb` in `dir` (made 0700 on Unix).
    pub fn open_with(dir: &Path, gate: WriteGate, options: Options) -> std::result::Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Folder { path: dir.into(), source })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| OpenError::Folder { path: dir.into(), source })?;
        }
        let path = dir.join("issuer.redb");
        let db = Database::builder().create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => OpenError::InUse(dir.into()),
            e => OpenError::Engine { path: path.clone(), detail: e.to_string() },
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let engine = |e: StoreError| OpenError::Engine { path: path.clone(), detail: e.to_string() };
        create_tables(&db).map_err(engine)?;
        let log = recover_log(&db, &path).map_err(engine)?;
        let slot = Arc::new(Slot::default());
        slot.put(Arc::new(db));
        let (jobs, rx) = mpsc::channel::<Msg>();
        let groups = Arc::new(AtomicU64::new(0));
        let reopened = Arc::new(AtomicU64::new(0));
        let writer = {
            let w = Writer {
                slot: slot.clone(),
                path: path.clone(),
                dir: dir.to_path_buf(),
                groups: groups.clone(),
                reopened: reopened.clone(),
                gate: gate.clone(),
                options,
                wal: std::cell::RefCell::new(log),
                reopen: std::cell::Cell::new(false),
            };
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || w.run(&rx))
                .map_err(|e| OpenError::Engine { path: path.clone(), detail: e.to_string() })?
        };
        Ok(Self { slot, jobs, gate, path, groups, reopened, writer: Some(writer) })
    }

    /// Times the writer reopened the database after an I/O error (a full disk, most often).
    pub fn reopened(&self) -> u64 {
        self.reopened.load(Ordering::Relaxed)
    }

    /// Rebuilds an embedded store in `dir` (which must hold no database) from a file written by
    /// [`Store::backup`]; the copy is checked by opening it (redb repairs what the copy caught
    /// between two commits) and reading every table. Offline: nothing else may use `dir`.
    pub fn restore(backup: &Path, dir: &Path) -> std::result::Result<(), OpenError> {
        let path = dir.join("issuer.redb");
        if path.exists() {
            return Err(OpenError::Engine {
                path,
                detail: "a database is already there: restore into an empty folder".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Folder { path: dir.into(), source })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| OpenError::Folder { path: dir.into(), source })?;
        }
        let io = |e: std::io::Error| OpenError::Engine { path: path.clone(), detail: e.to_string() };
        // A redo log left without its database belongs to no database now.
        match std::fs::remove_file(path.with_extension("wal")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        copy_durably(backup, &path).map_err(io)?;
        let db = Database::builder()
            .create(&path)
            .map_err(|e| OpenError::Engine { path: path.clone(), detail: e.to_string() })?;
        create_tables(&db).map_err(|e| OpenError::Engine { path: path.clone(), detail: e.to_string() })?;
        Ok(())
    }

    /// Durable group commits made so far.
    pub fn groups(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }

    /// The write gate (writes in flight).
    pub fn gate(&self) -> &WriteGate {
        &self.gate
    }

    /// Runs `f` as one change on the writer thread; answers once it is durable.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.write_recorded(None, f).await
    }

    /// [`Self::write`], recording an idempotency record with the change (refused if the key is
    /// taken).
    async fn write_recorded<T, F>(&self, idempotency: Option<IdempotencyRecord>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let permit = self.gate.enter().await?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Box::new(Change { f: Some(f), idempotency, result: None, reply, _permit: permit });
        self.jobs.send(Msg::Job(job)).map_err(|_| StoreError::Engine("the store writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Engine("the store writer has stopped".into()))?
    }

    fn read<T>(&self, f: impl FnOnce(&redb::ReadTransaction) -> Result<T>) -> Result<T> {
        let db = self.slot.get()?;
        let txn = db.begin_read().map_err(engine_err)?;
        f(&txn)
    }
}

fn create_tables(db: &Database) -> Result<()> {
    let txn = db.begin_write().map_err(engine_err)?;
    {
        txn.open_table(META).map_err(engine_err)?;
        txn.open_table(TOKENS).map_err(engine_err)?;
        txn.open_table(APPS).map_err(engine_err)?;
        txn.open_table(APP_META).map_err(engine_err)?;
        txn.open_table(IDENTITY).map_err(engine_err)?;
        txn.open_table(EIDS).map_err(engine_err)?;
        txn.open_table(BIOMETRICS).map_err(engine_err)?;
        txn.open_table(CODES).map_err(engine_err)?;
        txn.open_table(ACCESS).map_err(engine_err)?;
        txn.open_table(CREDENTIALS).map_err(engine_err)?;
        txn.open_table(STATUS).map_err(engine_err)?;
        txn.open_table(STATUS_MARKS).map_err(engine_err)?;
        txn.open_table(AUDIT).map_err(engine_err)?;
        txn.open_table(KEYS).map_err(engine_err)?;
        txn.open_table(STATUS_LISTS).map_err(engine_err)?;
        txn.open_table(IDEMPOTENCY).map_err(engine_err)?;
        txn.open_table(NONCES).map_err(engine_err)?;
        txn.open_table(NONCE_EXPIRY).map_err(engine_err)?;
        txn.open_table(REGISTRY_CHANGES).map_err(engine_err)?;
        txn.open_table(REGISTRY_BY_CARD).map_err(engine_err)?;
        txn.open_table(REGISTRY_PENDING).map_err(engine_err)?;
        txn.open_table(CARD_CREDENTIALS).map_err(engine_err)?;
        txn.open_table(KEY_PUBLICATIONS).map_err(engine_err)?;
        txn.open_table(REOFFERS).map_err(engine_err)?;
    }
    txn.commit().map_err(engine_err)
}

/// A change's view of the group's transaction: it decides with [`Tx::read`] tables, then
/// writes with [`Tx::write`] tables, and must not refuse once it has written. Every insert and
/// remove made through a [`Tx::write`] table is recorded in `log`, the group's redo record
/// ([`wal`]).
pub(crate) struct Tx<'a> {
    txn: &'a redb::WriteTransaction,
    wrote: std::cell::Cell<bool>,
    log: &'a std::cell::RefCell<Vec<u8>>,
}

impl<'a> Tx<'a> {
    /// A table to decide with: it can only be read, so nothing reaches redb without being
    /// recorded in the redo log (writes go through [`Tx::write`]).
    fn read<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
    ) -> Result<impl ReadableTable<K, V> + 'a> {
        self.txn.open_table(def).map_err(engine_err)
    }

    /// A table to write: from now on the change stands.
    fn write<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<'static, K, V>,
    ) -> Result<Logged<'a, K, V>> {
        self.wrote.set(true);
        let table = self.txn.open_table(def).map_err(engine_err)?;
        Ok(Logged { table, def, log: self.log })
    }
}

/// A table opened for writing: its inserts and removes go to redb and to the group's redo
/// record; reads go straight to redb (`Deref`).
pub(crate) struct Logged<'a, K: redb::Key + 'static, V: redb::Value + 'static> {
    table: redb::Table<'a, K, V>,
    def: TableDefinition<'static, K, V>,
    log: &'a std::cell::RefCell<Vec<u8>>,
}

impl<'a, K: redb::Key + 'static, V: redb::Value + 'static> Logged<'a, K, V> {
    fn insert<'k, 'v>(
        &mut self,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
        value: impl std::borrow::Borrow<V::SelfType<'v>>,
    ) -> std::result::Result<Option<redb::AccessGuard<'_, V>>, redb::StorageError> {
        wal::put(
            &mut self.log.borrow_mut(),
            self.def.name(),
            K::as_bytes(key.borrow()).as_ref(),
            V::as_bytes(value.borrow()).as_ref(),
        );
        self.table.insert(key, value)
    }

    fn remove<'k>(
        &mut self,
        key: impl std::borrow::Borrow<K::SelfType<'k>>,
    ) -> std::result::Result<Option<redb::AccessGuard<'_, V>>, redb::StorageError> {
        wal::remove(&mut self.log.borrow_mut(), self.def.name(), K::as_bytes(key.borrow()).as_ref());
        self.table.remove(key)
    }
}

impl<'a, K: redb::Key + 'static, V: redb::Value + 'static> std::ops::Deref for Logged<'a, K, V> {
    type Target = redb::Table<'a, K, V>;
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

/// Applies one recorded operation again (after a crash, from the redo log).
fn replay_op(txn: &redb::WriteTransaction, op: &wal::Op<'_>) -> Result<()> {
    fn apply<K: redb::Key + 'static, V: redb::Value + 'static>(
        txn: &redb::WriteTransaction,
        def: TableDefinition<'static, K, V>,
        op: &wal::Op<'_>,
    ) -> Result<()> {
        let mut t = txn.open_table(def).map_err(engine_err)?;
        match op.value {
            Some(v) => t.insert(K::from_bytes(op.key), V::from_bytes(v)).map_err(engine_err)?,
            None => t.remove(K::from_bytes(op.key)).map_err(engine_err)?,
        };
        Ok(())
    }
    macro_rules! by_name {
        ($($def:ident),* $(,)?) => {
            $( if op.table == $def.name() { return apply(txn, $def, op); } )*
        };
    }
    by_name!(
        META,
        TOKENS,
        APPS,
        APP_META,
        IDENTITY,
        EIDS,
        BIOMETRICS,
        CODES,
        ACCESS,
        CREDENTIALS,
        STATUS,
        STATUS_MARKS,
        AUDIT,
        KEYS,
        STATUS_LISTS,
        IDEMPOTENCY,
        NONCES,
        NONCE_EXPIRY,
        REGISTRY_CHANGES,
        REGISTRY_BY_CARD,
        REGISTRY_PENDING,
        CARD_CREDENTIALS,
        KEY_PUBLICATIONS,
        REOFFERS,
    );
    Err(StoreError::Corrupt("redo log names an unknown table"))
}

/// The redo log's epoch stored with the last durable commit (0 before the first checkpoint).
fn wal_epoch(txn: &redb::WriteTransaction) -> Result<u64> {
    let t = txn.open_table(META).map_err(engine_err)?;
    let v = t.get(K_WAL_EPOCH).map_err(engine_err)?;
    Ok(v.and_then(|v| v.value().try_into().ok()).map_or(0, u64::from_le_bytes))
}

/// Makes everything committed so far durable in redb itself, with `txn`'s own changes, under a
/// fresh redo-log epoch; the log then starts again, empty.
fn checkpoint(mut txn: redb::WriteTransaction, wal: &mut wal::Wal) -> Result<()> {
    let epoch = loop {
        let mut b = [0u8; 8];
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut b)
            .map_err(|e| StoreError::Engine(format!("no random epoch: {e}")))?;
        let e = u64::from_le_bytes(b);
        if e != 0 {
            break e;
        }
    };
    txn.open_table(META)
        .map_err(engine_err)?
        .insert(K_WAL_EPOCH, epoch.to_le_bytes().as_slice())
        .map_err(engine_err)?;
    txn.set_durability(Durability::Immediate).map_err(engine_err)?;
    txn.commit().map_err(engine_err)?;
    tracing::debug!(epoch, "checkpoint");
    wal.restart(epoch);
    Ok(())
}

/// Opens the redo log beside `path` and applies what it holds past the database's last durable
/// commit, then checkpoints (see [`wal`]).
fn recover_log(db: &Database, path: &Path) -> Result<wal::Wal> {
    let txn = db.begin_write().map_err(engine_err)?;
    let epoch = wal_epoch(&txn)?;
    tracing::debug!(epoch, "opening the redo log");
    let (mut log, payloads) =
        wal::Wal::open(&path.with_extension("wal"), epoch).map_err(|e| StoreError::Engine(format!("redo log: {e}")))?;
    for p in &payloads {
        for op in wal::ops(p).ok_or(StoreError::Corrupt("redo log record"))? {
            replay_op(&txn, &op)?;
        }
    }
    if !payloads.is_empty() {
        tracing::info!(groups = payloads.len(), "applied the redo log's groups past the last checkpoint");
    }
    checkpoint(txn, &mut log)?;
    Ok(log)
}

/// The writer thread's state.
struct Writer {
    slot: Arc<Slot>,
    /// The database file, and its folder (for free space).
    path: PathBuf,
    dir: PathBuf,
    groups: Arc<AtomicU64>,
    reopened: Arc<AtomicU64>,
    gate: WriteGate,
    options: Options,
    /// The redo log (only this thread touches it).
    wal: std::cell::RefCell<wal::Wal>,
    /// Set when the database must be reopened whatever it answers (see [`Writer::recover`]).
    reopen: std::cell::Cell<bool>,
}

/// Answers a message the writer will not carry out.
fn refuse(msg: Msg, why: StoreError) {
    match msg {
        Msg::Job(job) => job.finish(Err(why)),
        Msg::Backup(_, reply) => {
            let _ = reply.send(Err(why));
        }
    }
}

impl Writer {
    /// Applies every waiting change in one transaction, makes the group durable with one commit
    /// (one fdatasync), then answers it. Between groups it makes the backups asked for. Runs
    /// until the store is dropped.
    fn run(&self, rx: &mpsc::Receiver<Msg>) {
        let mut carried: std::collections::VecDeque<Box<dyn Job>> = std::collections::VecDeque::new();
        // Whether the last group had company: only then is it worth waiting for more.
        let mut busy = false;
        loop {
            let first = match carried.pop_front() {
                Some(j) => j,
                None => match rx.recv() {
                    Ok(Msg::Job(j)) => j,
                    Ok(Msg::Backup(dest, reply)) => {
                        let _ = reply.send(self.backup(&dest));
                        continue;
                    }
                    Err(_) => {
                        // The store was dropped: a checkpoint leaves no record to apply at the
                        // next open (and the file stands alone for offline tools).
                        if let Err(e) = self.checkpoint_now() {
                            tracing::warn!(error = %e, "no checkpoint at shutdown; the next open applies the redo log");
                        }
                        return;
                    }
                },
            };
            if self.options.min_free_bytes > 0
                && free_bytes(&self.dir).is_some_and(|free| free < self.options.min_free_bytes)
            {
                // Refused before anything is written: the database never sees the full disk.
                first.finish(Err(StoreError::DiskFull));
                while let Ok(msg) = rx.try_recv() {
                    refuse(msg, StoreError::DiskFull);
                }
                continue;
            }
            let db = match self.slot.get() {
                Ok(db) => db,
                Err(e) => {
                    first.finish(Err(e));
                    continue;
                }
            };
            let txn = match db.begin_write().map_err(engine_err).and_then(|mut t| {
                // Durable through the redo log, or a checkpoint (see `commit_group`).
                t.set_durability(Durability::None).map_err(engine_err)?;
                Ok(t)
            }) {
                Ok(t) => t,
                Err(e) => {
                    first.finish(Err(e));
                    drop(db);
                    self.recover(rx);
                    continue;
                }
            };
            let mut applied: Vec<Box<dyn Job>> = Vec::new();
            let mut refused: Vec<Box<dyn Job>> = Vec::new();
            let mut failed_group = false;
            let mut backups = Vec::new();
            let mut next = Some(first);
            let log = std::cell::RefCell::new(Vec::new());
            while let Some(mut job) = next.take() {
                let tx = Tx { txn: &txn, wrote: std::cell::Cell::new(false), log: &log };
                if job.apply(&tx) {
                    applied.push(job);
                } else if tx.wrote.get() {
                    // Failed half-way: the group's transaction holds half a change.
                    tracing::error!("a change failed after it began writing; its group is rolled back");
                    job.finish(Err(StoreError::Engine("the change failed while writing; nothing was saved".into())));
                    failed_group = true;
                    break;
                } else {
                    // Refused before writing: nothing of it is in the transaction. Its answer
                    // waits for the group all the same: it was decided on the changes before
                    // it, which are not durable yet (an idempotency key taken by one of them).
                    refused.push(job);
                }
                if applied.len() < MAX_GROUP {
                    let mut more = || loop {
                        match rx.try_recv() {
                            Ok(Msg::Job(j)) => return Some(j),
                            // Made after this group, so it holds the group.
                            Ok(Msg::Backup(d, r)) => backups.push((d, r)),
                            Err(_) => return None,
                        }
                    };
                    next = carried.pop_front().or_else(&mut more);
                    if next.is_none() && busy && applied.len() < GATHER_BELOW {
                        // Under load, a moment's wait lets the group grow: fewer commits, fewer
                        // pages written twice.
                        next = match rx.recv_timeout(GATHER_WAIT) {
                            Ok(Msg::Job(j)) => Some(j),
                            Ok(Msg::Backup(d, r)) => {
                                backups.push((d, r));
                                None
                            }
                            Err(_) => None,
                        };
                    }
                }
            }
            busy = applied.len() > 1;
            let mut failed = failed_group;
            if failed_group {
                let _ = txn.abort();
                for job in applied.into_iter().chain(refused) {
                    job.finish(Err(StoreError::Engine(
                        "another change of the same group failed; nothing was saved".into(),
                    )));
                }
            } else if applied.is_empty() {
                let _ = txn.abort();
                for job in refused {
                    job.finish(Ok(()));
                }
            } else {
                let t0 = std::time::Instant::now();
                let durable = self.commit_group(txn, &log.into_inner());
                self.gate.observe_commit(t0.elapsed());
                if durable.is_ok() {
                    self.groups.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed = true;
                    tracing::error!(error = ?durable.as_ref().err(), "group commit failed; its changes are not acknowledged");
                }
                for job in applied {
                    job.finish(durable.clone());
                }
                // A refusal decided on changes that did not become durable is no answer: retry.
                for job in refused {
                    job.finish(durable.clone());
                }
            }
            drop(db);
            if failed {
                self.recover(rx);
            }
            for (dest, reply) in backups {
                let _ = reply.send(self.backup(&dest));
            }
        }
    }

    /// After a failed group: if the database latched an I/O error (redb fails every later
    /// operation once a write failed, e.g. for lack of space, until it is closed), reopens it.
    /// Readers get `Busy` (or `DiskFull`) while it is closed; changes that arrive meanwhile are
    /// refused the same way, so nothing waits on a disk that may stay full. Reopening runs
    /// redb's repair, which brings the file back to its last durable commit: nothing
    /// acknowledged is lost, and nothing unacknowledged half-applied.
    fn recover(&self, rx: &mpsc::Receiver<Msg>) {
        let probe = match self.slot.get() {
            // A commit failed after its redo record was durable: the log, not memory, says what
            // happened to that group, so the database is reopened and the log applied.
            Ok(_) if self.reopen.take() => Err(redb::Error::PreviousIo),
            Ok(db) => db.begin_write().map_err(redb::Error::from).map(|t| {
                let _ = t.abort();
            }),
            Err(_) => return,
        };
        let Err(e) = probe else { return };
        let why = match engine_err(e) {
            StoreError::Busy => {
                if free_bytes(&self.dir).is_some_and(|f| f < (1 << 20)) {
                    StoreError::DiskFull
                } else {
                    StoreError::Busy
                }
            }
            other => other,
        };
        tracing::error!(reason = %why, "the database failed an I/O operation; reopening it");
        let Some(mut db) = self.slot.take(why.clone()) else { return };
        // Readers hold the database for one read transaction at most: wait for them.
        let t0 = std::time::Instant::now();
        let db = loop {
            match Arc::try_unwrap(db) {
                Ok(db) => break db,
                Err(again) => {
                    db = again;
                    if t0.elapsed() > std::time::Duration::from_secs(30) {
                        tracing::error!("readers still hold the database after 30 s; giving up reopening it");
                        self.slot.put(db);
                        return;
                    }
                    while let Ok(msg) = rx.try_recv() {
                        refuse(msg, why.clone());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        };
        drop(db);
        let mut wait = std::time::Duration::from_millis(50);
        loop {
            // Reopened, the database is at its last durable commit: it takes changes again only
            // once the redo log's acknowledged groups are applied on top.
            let reopened = Database::builder()
                .create(&self.path)
                .map_err(|e| StoreError::Engine(e.to_string()))
                .and_then(|db| create_tables(&db).and_then(|()| recover_log(&db, &self.path)).map(|log| (db, log)));
            match reopened {
                Ok((db, log)) => {
                    *self.wal.borrow_mut() = log;
                    self.slot.put(Arc::new(db));
                    self.reopened.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("database reopened; writes resume");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reopening the database failed; retrying");
                    let until = std::time::Instant::now() + wait;
                    while std::time::Instant::now() < until {
                        match rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
                            Ok(msg) => refuse(msg, why.clone()),
                            Err(mpsc::RecvTimeoutError::Timeout) => break,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    wait = (wait * 2).min(std::time::Duration::from_secs(2));
                }
            }
        }
    }

    /// Makes a group durable, then visible: its redo record is appended to the log (one
    /// sequential write and fdatasync) before the transaction is committed in memory; or, when
    /// a checkpoint is due, the transaction is committed durably in redb (see [`wal`]).
    fn commit_group(&self, txn: redb::WriteTransaction, record: &[u8]) -> Result<()> {
        let mut log = self.wal.borrow_mut();
        if log.due() || log.len() + record.len() as u64 > 4 * wal::CHECKPOINT_BYTES {
            return checkpoint(txn, &mut log);
        }
        if let Err(e) = log.append(record) {
            let _ = txn.abort();
            // What reached the file is in doubt: its record is overwritten, and a checkpoint at
            // once starts a new epoch, so a restart cannot apply a group its callers were told
            // failed.
            log.spoil();
            drop(log);
            if let Err(e) = self.checkpoint_now() {
                tracing::error!(error = %e, "no checkpoint after a failed redo-log append");
            }
            return Err(if e.raw_os_error() == Some(ENOSPC) {
                StoreError::DiskFull
            } else {
                StoreError::Engine(format!("redo log: {e}"))
            });
        }
        drop(log);
        // The record is durable; redb does not promise a failed commit was not applied. The log
        // decides: the database is reopened and the log applied (the callers get an error, as
        // after a crash between the fdatasync and the answer).
        let failed = |e: StoreError| {
            self.reopen.set(true);
            e
        };
        #[cfg(test)]
        if fault::take(&self.path, fault::Fault::Commit) {
            let _ = txn.abort();
            return Err(failed(StoreError::Engine("injected: the commit failed".into())));
        }
        txn.commit().map_err(engine_err).map_err(failed)
    }

    /// Checkpoints between two groups (an empty durable commit under a new epoch).
    fn checkpoint_now(&self) -> Result<()> {
        let db = self.slot.get()?;
        let txn = db.begin_write().map_err(engine_err)?;
        checkpoint(txn, &mut self.wal.borrow_mut())
    }

    /// Copies the database file to `dest` between two groups, after a checkpoint: every
    /// acknowledged change is in the file and no write is under way, so the copy is the
    /// database as of the last commit (opening it runs redb's repair, as after a crash at that
    /// instant). A second checkpoint after the copy means no redo record is ever written under
    /// the copy's epoch, so a copy restored beside an old log never takes records from it.
    fn backup(&self, dest: &Path) -> Result<u64> {
        self.checkpoint_now()?;
        let copied = copy_durably(&self.path, dest).map_err(|e| {
            if e.raw_os_error() == Some(ENOSPC) {
                StoreError::DiskFull
            } else {
                StoreError::Engine(format!("backup to {}: {e}", dest.display()))
            }
        });
        // The copy is whole either way: records written under its epoch after a failed
        // checkpoint are changes made after the copy, in order (and a restore removes a stray
        // log), so the backup is not reported as failed.
        if let Err(e) = self.checkpoint_now() {
            tracing::warn!(error = %e, "no checkpoint after the backup's copy (the copy is whole)");
        }
        copied
    }
}

/// Copies `from` to a new file `to` (0600), fsyncs it and its folder.
fn copy_durably(from: &Path, to: &Path) -> std::io::Result<u64> {
    use std::io::Write as _;
    let mut src = std::fs::File::open(from)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut dst = opts.open(to)?;
    let n = std::io::copy(&mut src, &mut dst)?;
    dst.flush()?;
    dst.sync_all()?;
    if let Some(dir) = to.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(n)
}

// ----- helpers inside transactions -----

fn idempotency_key(scope: &str, key: &Digest) -> Vec<u8> {
    let mut k = Vec::with_capacity(scope.len() + 33);
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k.extend_from_slice(&key.0);
    k
}

/// Runs a change with its idempotency record: the key must be free (decided first), and the
/// record is written with the change.
fn with_idempotency<T>(
    tx: &Tx<'_>,
    record: Option<IdempotencyRecord>,
    f: impl FnOnce(&Tx<'_>) -> Result<T>,
) -> Result<T> {
    let Some(record) = record else { return f(tx) };
    let key = idempotency_key(&record.scope, &record.key);
    if tx.read(IDEMPOTENCY)?.get(key.as_slice()).map_err(engine_err)?.is_some() {
        return Err(Conflict::IdempotencyKeyUsed.into());
    }
    let out = f(tx)?;
    tx.write(IDEMPOTENCY)?.insert(key.as_slice(), to_json(&record).as_slice()).map_err(engine_err)?;
    Ok(out)
}

/// Appends an audit entry, linked to the chain's head (kept in `META`, updated with it).
fn audit_append(tx: &Tx<'_>, entry: &AuditEntry) -> Result<u64> {
    let head: Option<AuditLink> = {
        let t = tx.read(META)?;
        let v = t.get(K_AUDIT_HEAD).map_err(engine_err)?;
        v.map(|v| from_json(v.value(), "audit head")).transpose()?
    };
    let mut t = tx.write(AUDIT)?;
    let seq = t.last().map_err(engine_err)?.map_or(1, |(k, _)| k.value() + 1);
    let mut entry = entry.clone();
    entry.idempotency = None;
    let link = audit_chain::link(seq, head.map_or(audit_chain::GENESIS, |h| h.hash), &mut entry);
    t.insert(seq, to_json(&entry).as_slice()).map_err(engine_err)?;
    drop(t);
    tx.write(META)?.insert(K_AUDIT_HEAD, to_json(&link).as_slice()).map_err(engine_err)?;
    Ok(seq)
}

fn encode_app(version: u64, sealed: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + sealed.len());
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(sealed);
    v
}

fn decode_app(b: &[u8]) -> Result<(u64, Vec<u8>)> {
    let (v, sealed) = b.split_at_checked(8).ok_or(StoreError::Corrupt("application row"))?;
    let v = u64::from_be_bytes(v.try_into().map_err(|_| StoreError::Corrupt("application row"))?);
    Ok((v, sealed.to_vec()))
}

/// Decides an application change: the version must be the one the change was computed from.
/// Returns the summary it replaces.
fn check_change(tx: &Tx<'_>, change: &AppChange) -> Result<AppMeta> {
    let apps = tx.read(APPS)?;
    let current = match apps.get(change.id.as_str()).map_err(engine_err)? {
        Some(v) => decode_app(v.value())?.0,
        None => return Err(StoreError::NotFound),
    };
    if current != change.expected_version {
        return Err(Conflict::ApplicationChanged.into());
    }
    let metas = tx.read(APP_META)?;
    let old = match metas.get(change.id.as_str()).map_err(engine_err)? {
        Some(v) => from_json(v.value(), "application summary")?,
        None => return Err(StoreError::Corrupt("application without summary")),
    };
    Ok(old)
}

/// Writes a checked application change; returns the new version.
fn write_change(tx: &Tx<'_>, change: &AppChange) -> Result<u64> {
    let version = change.expected_version + 1;
    tx.write(APPS)?.insert(change.id.as_str(), encode_app(version, &change.sealed).as_slice()).map_err(engine_err)?;
    tx.write(APP_META)?.insert(change.id.as_str(), to_json(&change.meta).as_slice()).map_err(engine_err)?;
    Ok(version)
}

fn get_json<'k, K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<K, &[u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
    what: &'static str,
) -> Result<Option<T>> {
    let t = txn.open_table(def).map_err(engine_err)?;
    let v = t.get(key).map_err(engine_err)?;
    v.map(|v| from_json(v.value(), what)).transpose()
}

/// A JSON row read inside a change.
fn tx_json<'k, K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
    tx: &Tx<'_>,
    def: TableDefinition<'static, K, &[u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
    what: &'static str,
) -> Result<Option<T>> {
    let t = tx.read(def)?;
    let v = t.get(key).map_err(engine_err)?;
    v.map(|v| from_json(v.value(), what)).transpose()
}

fn meta_u64(tx: &Tx<'_>, key: &str) -> Result<u64> {
    let t = tx.read(META)?;
    let v = t.get(key).map_err(engine_err)?;
    Ok(v.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_be_bytes))
}

fn set_meta_u64(tx: &Tx<'_>, key: &str, value: u64) -> Result<()> {
    tx.write(META)?.insert(key, value.to_be_bytes().as_slice()).map_err(engine_err)?;
    Ok(())
}

/// Decides whether nonces can be used now by the session `access`: their keys and expiry.
fn check_nonces(tx: &Tx<'_>, hashes: &[Digest], access: Digest, now: u64) -> Result<Vec<(Digest, u64)>> {
    let mut rows = Vec::with_capacity(hashes.len());
    for h in hashes {
        let row: Option<NonceRow> = tx_json(tx, NONCES, h.0.as_slice(), "nonce")?;
        let Some(row) = row else { return Err(Conflict::InvalidNonce.into()) };
        if row.expires_at < now || row.access.is_some_and(|a| a != access) || rows.iter().any(|(d, _)| d == h) {
            return Err(Conflict::InvalidNonce.into());
        }
        rows.push((*h, row.expires_at));
    }
    Ok(rows)
}

/// Uses up checked nonces.
fn remove_nonces(tx: &Tx<'_>, rows: &[(Digest, u64)]) -> Result<()> {
    let mut nonces = tx.write(NONCES)?;
    let mut order = tx.write(NONCE_EXPIRY)?;
    for (h, at) in rows {
        nonces.remove(h.0.as_slice()).map_err(engine_err)?;
        order.remove((*at, h.0.as_slice())).map_err(engine_err)?;
    }
    Ok(())
}

/// A node's published signing key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct KeyRow {
    node: String,
    key: verifier::TrustedKey,
}

fn allocated_key(list: u32) -> String {
    format!("status_allocated/{list}")
}

#[async_trait]
impl Store for Embedded {
    fn engine(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> Result<()> {
        self.write(|_| Ok(())).await
    }

    async fn token(&self, hash: &Digest) -> Result<Option<TokenRow>> {
        let key = hash.0;
        self.read(|txn| get_json(txn, TOKENS, key.as_slice(), "token"))
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>> {
        self.read(|txn| {
            let t = txn.open_table(TOKENS).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.iter().map_err(engine_err)? {
                let (_, v) = kv.map_err(engine_err)?;
                out.push(from_json(v.value(), "token")?);
            }
            Ok(out)
        })
    }

    async fn create_token(&self, hash: Digest, row: TokenRow, audit: AuditEntry) -> Result<()> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            tx.write(TOKENS)?.insert(hash.0.as_slice(), to_json(&row).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn bootstrap_admin(&self, hash: Digest, row: TokenRow, audit: AuditEntry) -> Result<bool> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            if meta_u64(tx, K_BOOTSTRAPPED)? != 0 {
                return Ok(false);
            }
            set_meta_u64(tx, K_BOOTSTRAPPED, row.created_at.max(1))?;
            tx.write(TOKENS)?.insert(hash.0.as_slice(), to_json(&row).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(true)
        })
        .await
    }

    async fn revoke_token(&self, id: &TokenId, audit: AuditEntry) -> Result<TokenRow> {
        let id = id.clone();
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let mut found = None;
            let mut active_admins = 0;
            {
                let t = tx.read(TOKENS)?;
                for kv in t.iter().map_err(engine_err)? {
                    let (k, v) = kv.map_err(engine_err)?;
                    let row: TokenRow = from_json(v.value(), "token")?;
                    if row.role == Role::Admin && !row.revoked {
                        active_admins += 1;
                    }
                    if row.id == id {
                        found = Some((k.value().to_vec(), row));
                    }
                }
            }
            let (key, mut row) = found.ok_or(StoreError::NotFound)?;
            if row.role == Role::Admin && !row.revoked && active_admins <= 1 {
                return Err(Conflict::LastAdmin.into());
            }
            row.revoked = true;
            tx.write(TOKENS)?.insert(key.as_slice(), to_json(&row).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(row)
        })
        .await
    }

    async fn application(&self, id: &ApplicationId) -> Result<Option<AppRow>> {
        self.read(|txn| {
            let apps = txn.open_table(APPS).map_err(engine_err)?;
            let Some(v) = apps.get(id.as_str()).map_err(engine_err)? else { return Ok(None) };
            let (version, sealed) = decode_app(v.value())?;
            let meta = get_json(txn, APP_META, id.as_str(), "application summary")?
                .ok_or(StoreError::Corrupt("application without summary"))?;
            Ok(Some(AppRow { id: id.clone(), version, meta, sealed }))
        })
    }

    async fn application_metas(&self, point: Option<&str>) -> Result<Vec<(ApplicationId, AppMeta)>> {
        self.read(|txn| {
            let t = txn.open_table(APP_META).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.iter().map_err(engine_err)? {
                let (k, v) = kv.map_err(engine_err)?;
                let meta: AppMeta = from_json(v.value(), "application summary")?;
                if point.is_none_or(|p| p == meta.reception_point) {
                    let id = k.value().parse().map_err(|_| StoreError::Corrupt("application id"))?;
                    out.push((id, meta));
                }
            }
            Ok(out)
        })
    }

    async fn application_by_identity(&self, key: &Digest) -> Result<Option<(ApplicationId, AppMeta)>> {
        self.read(|txn| {
            let t = txn.open_table(IDENTITY).map_err(engine_err)?;
            let Some(id) = t.get(key.0.as_slice()).map_err(engine_err)? else { return Ok(None) };
            let id: ApplicationId = id.value().parse().map_err(|_| StoreError::Corrupt("application id"))?;
            let meta = get_json(txn, APP_META, id.to_string().as_str(), "application summary")?
                .ok_or(StoreError::Corrupt("identity index without application"))?;
            Ok(Some((id, meta)))
        })
    }

    async fn insert_application(&self, new: NewApplication, audit: AuditEntry) -> Result<()> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            {
                let index = tx.read(IDENTITY)?;
                let metas = tx.read(APP_META)?;
                // A concurrent submission for the same person loses here.
                for key in &new.identity {
                    let other = index.get(key.0.as_slice()).map_err(engine_err)?.map(|v| v.value().to_owned());
                    if let Some(other) = other {
                        if let Some(m) = metas.get(other.as_str()).map_err(engine_err)? {
                            let m: AppMeta = from_json(m.value(), "application summary")?;
                            if !m.state.is_closed() {
                                return Err(Conflict::ApplicationExists.into());
                            }
                        }
                    }
                }
                if tx.read(APPS)?.get(new.id.as_str()).map_err(engine_err)?.is_some() {
                    return Err(StoreError::Engine("application id drawn twice".into()));
                }
            }
            {
                let mut index = tx.write(IDENTITY)?;
                for key in &new.identity {
                    index.insert(key.0.as_slice(), new.id.as_str()).map_err(engine_err)?;
                }
            }
            tx.write(APPS)?.insert(new.id.as_str(), encode_app(1, &new.sealed).as_slice()).map_err(engine_err)?;
            tx.write(APP_META)?.insert(new.id.as_str(), to_json(&new.meta).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn update_application(&self, change: AppChange, audit: AuditEntry) -> Result<u64> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            check_change(tx, &change)?;
            let v = write_change(tx, &change)?;
            audit_append(tx, &audit)?;
            Ok(v)
        })
        .await
    }

    async fn capture_biometrics(&self, change: AppChange, sealed_files: Vec<u8>, audit: AuditEntry) -> Result<u64> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            check_change(tx, &change)?;
            let v = write_change(tx, &change)?;
            tx.write(BIOMETRICS)?.insert(change.id.as_str(), sealed_files.as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(v)
        })
        .await
    }

    async fn biometrics(&self, id: &ApplicationId) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let t = txn.open_table(BIOMETRICS).map_err(engine_err)?;
            Ok(t.get(id.as_str()).map_err(engine_err)?.map(|v| v.value().to_vec()))
        })
    }

    async fn approve(
        &self,
        change: AppChange,
        eid: Digest,
        code_hash: Digest,
        code: CodeRow,
        audit: AuditEntry,
    ) -> Result<u64> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            if tx.read(EIDS)?.get(eid.0.as_slice()).map_err(engine_err)?.is_some() {
                return Err(Conflict::EidTaken.into());
            }
            check_change(tx, &change)?;
            let v = write_change(tx, &change)?;
            tx.write(EIDS)?.insert(eid.0.as_slice(), change.id.as_str()).map_err(engine_err)?;
            tx.write(CODES)?.insert(code_hash.0.as_slice(), to_json(&code).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(v)
        })
        .await
    }

    async fn renew_offer(&self, change: AppChange, code_hash: Digest, code: CodeRow, audit: AuditEntry) -> Result<u64> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let old = check_change(tx, &change)?;
            let v = write_change(tx, &change)?;
            let mut codes = tx.write(CODES)?;
            if let Some(offer) = &old.offer {
                codes.remove(offer.code.0.as_slice()).map_err(engine_err)?;
            }
            codes.insert(code_hash.0.as_slice(), to_json(&code).as_slice()).map_err(engine_err)?;
            drop(codes);
            audit_append(tx, &audit)?;
            Ok(v)
        })
        .await
    }

    async fn code(&self, hash: &Digest) -> Result<Option<CodeRow>> {
        let key = hash.0;
        self.read(|txn| get_json(txn, CODES, key.as_slice(), "code"))
    }

    async fn redeem_code(
        &self,
        code_hash: Digest,
        seen: CodeRow,
        access_hash: Digest,
        access: AccessRow,
        audit: AuditEntry,
    ) -> Result<()> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let current: Option<CodeRow> = tx_json(tx, CODES, code_hash.0.as_slice(), "code")?;
            let Some(mut current) = current.filter(|c| *c == seen) else {
                return Err(Conflict::InvalidGrant.into());
            };
            let mut tokens = tx.write(ACCESS)?;
            if let Some(previous) = current.access {
                tokens.remove(previous.0.as_slice()).map_err(engine_err)?;
            }
            tokens.insert(access_hash.0.as_slice(), to_json(&access).as_slice()).map_err(engine_err)?;
            drop(tokens);
            current.access = Some(access_hash);
            tx.write(CODES)?.insert(code_hash.0.as_slice(), to_json(&current).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn access(&self, hash: &Digest) -> Result<Option<AccessRow>> {
        let key = hash.0;
        self.read(|txn| get_json(txn, ACCESS, key.as_slice(), "access token"))
    }

    async fn issue_credential(&self, issuance: Issuance, audit: AuditEntry) -> Result<()> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let Issuance { access, app, credential, nonces, now } = issuance;
            // Decide.
            let row: Option<AccessRow> = tx_json(tx, ACCESS, access.0.as_slice(), "access token")?;
            let Some(mut row) = row else { return Err(Conflict::InvalidToken.into()) };
            if let Some(issued) = row.credential {
                return Err(Conflict::AlreadyIssued(issued).into());
            }
            if row.application != app.id {
                return Err(Conflict::InvalidToken.into());
            }
            let key = (credential.status_list, credential.status_idx);
            if tx.read(STATUS)?.get(key).map_err(engine_err)?.is_some() {
                return Err(Conflict::StatusIndexTaken.into());
            }
            let old = check_change(tx, &app)?;
            if old.offer.as_ref().map(|o| o.generation) != Some(row.generation) {
                // The offer was renewed since this token was obtained.
                return Err(Conflict::InvalidToken.into());
            }
            let allocated = allocated_key(credential.status_list);
            let n = meta_u64(tx, &allocated)?;
            let used = check_nonces(tx, &nonces, access, now)?;
            // Write.
            remove_nonces(tx, &used)?;
            write_change(tx, &app)?;
            tx.write(STATUS)?.insert(key, 0u8).map_err(engine_err)?;
            set_meta_u64(tx, &allocated, n + 1)?;
            row.credential = Some(credential.id.clone());
            tx.write(ACCESS)?.insert(access.0.as_slice(), to_json(&row).as_slice()).map_err(engine_err)?;
            tx.write(CREDENTIALS)?
                .insert(credential.id.as_str(), to_json(&credential).as_slice())
                .map_err(engine_err)?;
            if let Some(card) = &credential.card {
                tx.write(CARD_CREDENTIALS)?
                    .insert((card.0.as_slice(), credential.id.as_str()), 0u8)
                    .map_err(engine_err)?;
            }
            if let Some(offer) = &old.offer {
                // The code has served its purpose; the access token stays for retries.
                tx.write(CODES)?.remove(offer.code.0.as_slice()).map_err(engine_err)?;
            }
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn credential(&self, id: &CredentialId) -> Result<Option<CredentialRow>> {
        self.read(|txn| get_json(txn, CREDENTIALS, id.as_str(), "credential"))
    }

    async fn redeem_code_with_tx_code(&self, r: TxRedemption, audit: TxAudit) -> Result<TxOutcome> {
        self.write(move |tx| {
            // Decide.
            let current: Option<CodeRow> = tx_json(tx, CODES, r.code_hash.0.as_slice(), "code")?;
            let Some(mut current) = current.filter(|c| {
                c.application == r.seen.application && c.generation == r.seen.generation && c.tx_code == r.seen.tx_code
            }) else {
                return Err(Conflict::InvalidGrant.into());
            };
            if current.wrong_tx_codes >= r.max_wrong {
                return Err(Conflict::InvalidGrant.into());
            }
            // Write.
            if current.tx_code != Some(r.tx_code) {
                current.wrong_tx_codes += 1;
                let wrong = current.wrong_tx_codes;
                tx.write(CODES)?.insert(r.code_hash.0.as_slice(), to_json(&current).as_slice()).map_err(engine_err)?;
                audit_append(tx, &audit.wrong)?;
                let locked = wrong >= r.max_wrong;
                if locked {
                    audit_append(tx, &audit.locked)?;
                }
                return Ok(TxOutcome::Wrong { wrong, locked });
            }
            let mut tokens = tx.write(ACCESS)?;
            if let Some(previous) = current.access {
                tokens.remove(previous.0.as_slice()).map_err(engine_err)?;
            }
            tokens.insert(r.access_hash.0.as_slice(), to_json(&r.access).as_slice()).map_err(engine_err)?;
            drop(tokens);
            current.access = Some(r.access_hash);
            tx.write(CODES)?.insert(r.code_hash.0.as_slice(), to_json(&current).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit.redeemed)?;
            Ok(TxOutcome::Redeemed)
        })
        .await
    }

    async fn create_nonce(&self, hash: Digest, row: NonceRow, purge_before: u64) -> Result<()> {
        self.write(move |tx| {
            // Decide.
            if tx.read(NONCES)?.get(hash.0.as_slice()).map_err(engine_err)?.is_some() {
                return Err(StoreError::Engine("nonce drawn twice".into()));
            }
            let expired: Vec<(u64, Vec<u8>)> = {
                let t = tx.read(NONCE_EXPIRY)?;
                let mut out = Vec::new();
                for kv in t.range((0u64, &[][..])..(purge_before, &[][..])).map_err(engine_err)?.take(NONCE_PURGE) {
                    let (k, _) = kv.map_err(engine_err)?;
                    let (at, h) = k.value();
                    out.push((at, h.to_vec()));
                }
                out
            };
            // Write.
            let mut nonces = tx.write(NONCES)?;
            let mut order = tx.write(NONCE_EXPIRY)?;
            for (at, h) in &expired {
                nonces.remove(h.as_slice()).map_err(engine_err)?;
                order.remove((*at, h.as_slice())).map_err(engine_err)?;
            }
            nonces.insert(hash.0.as_slice(), to_json(&row).as_slice()).map_err(engine_err)?;
            order.insert((row.expires_at, hash.0.as_slice()), 0u8).map_err(engine_err)?;
            Ok(())
        })
        .await
    }

    async fn consume_nonces(&self, hashes: Vec<Digest>, access: Digest, now: u64) -> Result<()> {
        self.write(move |tx| {
            let rows = check_nonces(tx, &hashes, access, now)?;
            remove_nonces(tx, &rows)
        })
        .await
    }

    async fn status(&self, list: u32, idx: u64) -> Result<Option<u8>> {
        self.read(|txn| {
            let t = txn.open_table(STATUS).map_err(engine_err)?;
            Ok(t.get((list, idx)).map_err(engine_err)?.map(|v| v.value()))
        })
    }

    async fn set_status(&self, credential: &CredentialId, expected: u8, new: u8, audit: AuditEntry) -> Result<()> {
        let id = credential.clone();
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let cred: CredentialRow =
                tx_json(tx, CREDENTIALS, id.as_str(), "credential")?.ok_or(StoreError::NotFound)?;
            let key = (cred.status_list, cred.status_idx);
            let current = tx.read(STATUS)?.get(key).map_err(engine_err)?.map(|v| v.value());
            if current != Some(expected) {
                return Err(Conflict::StatusChanged.into());
            }
            let version = meta_u64(tx, K_STATUS_VERSION)?;
            tx.write(STATUS)?.insert(key, new).map_err(engine_err)?;
            let mut marks = tx.write(STATUS_MARKS)?;
            if new == 0 {
                marks.remove(key).map_err(engine_err)?;
            } else {
                marks.insert(key, new).map_err(engine_err)?;
            }
            drop(marks);
            set_meta_u64(tx, K_STATUS_VERSION, version + 1)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn status_marks(&self, list: u32) -> Result<Vec<(u64, u8)>> {
        self.read(|txn| {
            let t = txn.open_table(STATUS_MARKS).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.range((list, 0u64)..=(list, u64::MAX)).map_err(engine_err)? {
                let (k, v) = kv.map_err(engine_err)?;
                out.push((k.value().1, v.value()));
            }
            Ok(out)
        })
    }

    async fn status_allocated(&self, list: u32) -> Result<u64> {
        self.read(|txn| {
            let t = txn.open_table(META).map_err(engine_err)?;
            let v = t.get(allocated_key(list).as_str()).map_err(engine_err)?;
            Ok(v.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_be_bytes))
        })
    }

    async fn status_version(&self) -> Result<u64> {
        self.read(|txn| {
            let t = txn.open_table(META).map_err(engine_err)?;
            let v = t.get(K_STATUS_VERSION).map_err(engine_err)?;
            Ok(v.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_be_bytes))
        })
    }

    async fn status_lists(&self) -> Result<Vec<StatusListRow>> {
        self.read(|txn| {
            let t = txn.open_table(STATUS_LISTS).map_err(engine_err)?;
            let meta = txn.open_table(META).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.iter().map_err(engine_err)? {
                let (k, v) = kv.map_err(engine_err)?;
                let id = k.value();
                let allocated = meta
                    .get(allocated_key(id).as_str())
                    .map_err(engine_err)?
                    .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
                    .map_or(0, u64::from_be_bytes);
                out.push(StatusListRow { id, capacity: v.value(), allocated });
            }
            Ok(out)
        })
    }

    async fn open_status_list(&self, id: u32, capacity: u64, audit: AuditEntry) -> Result<()> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            if tx.read(STATUS_LISTS)?.get(id).map_err(engine_err)?.is_some() {
                return Err(Conflict::StatusListExists.into());
            }
            tx.write(STATUS_LISTS)?.insert(id, capacity).map_err(engine_err)?;
            let v = meta_u64(tx, K_KEYS_VERSION)?;
            set_meta_u64(tx, K_KEYS_VERSION, v + 1)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn publish_keys(&self, node: &str, keys: Vec<verifier::TrustedKey>) -> Result<()> {
        let node = node.to_owned();
        self.write(move |tx| {
            let mut rows = Vec::new();
            let mut changed = false;
            {
                let t = tx.read(KEYS)?;
                for mut key in keys {
                    let kid = key.kid.to_string();
                    let old: Option<KeyRow> = match t.get(kid.as_str()).map_err(engine_err)? {
                        Some(v) => Some(from_json(v.value(), "key")?),
                        None => None,
                    };
                    if let Some(old) = &old {
                        if old.key.state == verifier::KeyState::Revoked {
                            // Revoked through the store (from any node): stays revoked.
                            key = old.key.clone();
                        }
                    }
                    let row = KeyRow { node: node.clone(), key };
                    if old.as_ref() != Some(&row) {
                        changed = true;
                        rows.push((kid, row));
                    }
                }
            }
            if !changed {
                return Ok(());
            }
            {
                let mut t = tx.write(KEYS)?;
                for (kid, row) in rows {
                    t.insert(kid.as_str(), to_json(&row).as_slice()).map_err(engine_err)?;
                }
            }
            let v = meta_u64(tx, K_KEYS_VERSION)?;
            set_meta_u64(tx, K_KEYS_VERSION, v + 1)?;
            Ok(())
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<(String, verifier::TrustedKey)>> {
        self.read(|txn| {
            let t = txn.open_table(KEYS).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.iter().map_err(engine_err)? {
                let (_, v) = kv.map_err(engine_err)?;
                let row: KeyRow = from_json(v.value(), "key")?;
                out.push((row.node, row.key));
            }
            Ok(out)
        })
    }

    async fn revoke_key(&self, kid: &str, at: u64, audit: AuditEntry) -> Result<()> {
        let kid = kid.to_owned();
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let row: Option<KeyRow> = tx_json(tx, KEYS, kid.as_str(), "key")?;
            let mut row = row.ok_or(StoreError::NotFound)?;
            row.key.state = verifier::KeyState::Revoked;
            row.key.sign_until = row.key.sign_until.min(at);
            row.key.valid_until = row.key.valid_until.min(at);
            let v = meta_u64(tx, K_KEYS_VERSION)?;
            tx.write(KEYS)?.insert(kid.as_str(), to_json(&row).as_slice()).map_err(engine_err)?;
            set_meta_u64(tx, K_KEYS_VERSION, v + 1)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn keys_version(&self) -> Result<u64> {
        self.read(|txn| {
            let t = txn.open_table(META).map_err(engine_err)?;
            let v = t.get(K_KEYS_VERSION).map_err(engine_err)?;
            Ok(v.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_be_bytes))
        })
    }

    async fn publish_trust_list(&self, list: PublishedTrustList) -> Result<bool> {
        self.write(move |tx| {
            let current: Option<PublishedTrustList> = {
                let t = tx.read(META)?;
                let v = t.get(K_TRUST_LIST).map_err(engine_err)?;
                v.map(|v| from_json(v.value(), "trust list")).transpose()?
            };
            if current.is_some_and(|c| c.seq >= list.seq) {
                return Ok(false);
            }
            tx.write(META)?.insert(K_TRUST_LIST, to_json(&list).as_slice()).map_err(engine_err)?;
            Ok(true)
        })
        .await
    }

    async fn trust_list(&self) -> Result<Option<PublishedTrustList>> {
        self.read(|txn| {
            let t = txn.open_table(META).map_err(engine_err)?;
            let v = t.get(K_TRUST_LIST).map_err(engine_err)?;
            v.map(|v| from_json(v.value(), "trust list")).transpose()
        })
    }

    async fn idempotency(&self, scope: &str, key: &Digest) -> Result<Option<IdempotencyRecord>> {
        let k = idempotency_key(scope, key);
        self.read(|txn| get_json(txn, IDEMPOTENCY, k.as_slice(), "idempotency record"))
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<u64> {
        self.write_recorded(entry.idempotency.clone(), move |tx| audit_append(tx, &entry)).await
    }

    async fn audit_page(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, AuditEntry)>> {
        self.read(|txn| {
            let t = txn.open_table(AUDIT).map_err(engine_err)?;
            let start = after.map_or(0, |a| a.saturating_add(1));
            let mut out = Vec::new();
            for kv in t.range(start..).map_err(engine_err)?.take(limit) {
                let (k, v) = kv.map_err(engine_err)?;
                out.push((k.value(), from_json(v.value(), "audit entry")?));
            }
            Ok(out)
        })
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| {
            let t = txn.open_table(META).map_err(engine_err)?;
            Ok(t.get(format!("setting/{key}").as_str()).map_err(engine_err)?.map(|v| v.value().to_vec()))
        })
    }

    async fn put_setting(&self, key: &str, value: Vec<u8>, audit: Option<AuditEntry>) -> Result<()> {
        let key = format!("setting/{key}");
        self.write_recorded(audit.as_ref().and_then(|a| a.idempotency.clone()), move |tx| {
            tx.write(META)?.insert(key.as_str(), value.as_slice()).map_err(engine_err)?;
            if let Some(a) = &audit {
                audit_append(tx, a)?;
            }
            Ok(())
        })
        .await
    }

    async fn audit_head(&self) -> Result<Option<AuditLink>> {
        self.read(|txn| get_json(txn, META, K_AUDIT_HEAD, "audit head"))
    }

    fn free_bytes(&self) -> Option<u64> {
        self.path.parent().and_then(free_bytes)
    }

    async fn backup(&self, dest: &Path) -> Result<u64> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Msg::Backup(dest.to_path_buf(), reply))
            .map_err(|_| StoreError::Engine("the store writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Engine("the store writer has stopped".into()))?
    }

    async fn registry_position(&self) -> Result<u64> {
        self.read(|txn| {
            let t = txn.open_table(META).map_err(engine_err)?;
            let v = t.get(K_REGISTRY_POSITION).map_err(engine_err)?;
            Ok(v.and_then(|v| <[u8; 8]>::try_from(v.value()).ok()).map_or(0, u64::from_be_bytes))
        })
    }

    async fn apply_registry_change(&self, c: RegistryApply) -> Result<()> {
        self.registry_apply(c).await
    }

    async fn settle_registry_change(&self, s: RegistrySettle) -> Result<()> {
        self.registry_settle(s).await
    }

    async fn registry_change(&self, seq: u64) -> Result<Option<RegistryChangeRecord>> {
        self.read(|txn| get_json(txn, REGISTRY_CHANGES, seq, "registry change"))
    }

    async fn registry_changes(&self, after: u64, limit: usize) -> Result<Vec<RegistryChangeRecord>> {
        self.registry_records(after, limit)
    }

    async fn registry_changes_for_card(&self, card: &Digest) -> Result<Vec<RegistryChangeRecord>> {
        self.registry_records_for_card(card)
    }

    async fn pending_registry_changes(
        &self,
        due_by: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RegistryChangeRecord>> {
        self.registry_pending(due_by, after, limit)
    }

    async fn credentials_by_card(&self, card: &Digest) -> Result<Vec<CredentialRow>> {
        self.card_credentials(card)
    }

    async fn publish_trust_list_naming(
        &self,
        list: PublishedTrustList,
        kids: Vec<String>,
        at: u64,
        audit: AuditEntry,
    ) -> Result<bool> {
        self.write(move |tx| {
            // Decide.
            let current: Option<PublishedTrustList> = {
                let t = tx.read(META)?;
                let v = t.get(K_TRUST_LIST).map_err(engine_err)?;
                v.map(|v| from_json(v.value(), "trust list")).transpose()?
            };
            if current.is_some_and(|c| c.seq >= list.seq) {
                return Ok(false);
            }
            let mut first = Vec::new();
            {
                let t = tx.read(KEY_PUBLICATIONS)?;
                for kid in &kids {
                    if t.get(kid.as_str()).map_err(engine_err)?.is_none() && !first.contains(kid) {
                        first.push(kid.clone());
                    }
                }
            }
            // Write.
            tx.write(META)?.insert(K_TRUST_LIST, to_json(&list).as_slice()).map_err(engine_err)?;
            {
                let mut t = tx.write(KEY_PUBLICATIONS)?;
                for kid in &first {
                    t.insert(kid.as_str(), at).map_err(engine_err)?;
                }
            }
            audit_append(tx, &audit)?;
            Ok(true)
        })
        .await
    }

    async fn keys_first_published(&self) -> Result<Vec<(String, u64)>> {
        self.read(|txn| {
            let t = txn.open_table(KEY_PUBLICATIONS).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.iter().map_err(engine_err)? {
                let (k, v) = kv.map_err(engine_err)?;
                out.push((k.value().to_owned(), v.value()));
            }
            Ok(out)
        })
    }

    async fn credentials_by_kid(
        &self,
        kid: &str,
        after: Option<&CredentialId>,
        limit: usize,
    ) -> Result<Vec<CredentialRow>> {
        // A scan in id order, from `after` on: a caller paging through every credential of a key
        // reads the table once in all. Re-issuance after a compromise is rare; an index would
        // cost every issuance a write.
        let needle = format!("\"kid\":{}", serde_json::Value::String(kid.to_owned()));
        self.read(|txn| {
            let t = txn.open_table(CREDENTIALS).map_err(engine_err)?;
            let start = match after {
                Some(a) => std::ops::Bound::Excluded(a.as_str()),
                None => std::ops::Bound::Unbounded,
            };
            let mut out = Vec::new();
            for kv in t.range::<&str>((start, std::ops::Bound::Unbounded)).map_err(engine_err)? {
                if out.len() >= limit {
                    break;
                }
                let (_, v) = kv.map_err(engine_err)?;
                let bytes = v.value();
                // Cheap test first; the parsed row decides.
                if !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    continue;
                }
                let row: CredentialRow = from_json(bytes, "credential")?;
                if row.kid == kid {
                    out.push(row);
                }
            }
            Ok(out)
        })
    }

    async fn record_reoffer(&self, entry: ReofferEntry, offer: Option<Reoffer>, audit: AuditEntry) -> Result<()> {
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            // Decide.
            let key = (entry.kid.as_str(), entry.credential.as_str());
            if tx.read(REOFFERS)?.get(key).map_err(engine_err)?.is_some() {
                return Err(Conflict::AlreadyReoffered.into());
            }
            let old = match &offer {
                Some(o) => Some(check_change(tx, &o.app)?),
                None => None,
            };
            // Write.
            if let (Some(o), Some(old)) = (&offer, &old) {
                write_change(tx, &o.app)?;
                let mut codes = tx.write(CODES)?;
                if let Some(previous) = &old.offer {
                    codes.remove(previous.code.0.as_slice()).map_err(engine_err)?;
                }
                codes.insert(o.code_hash.0.as_slice(), to_json(&o.code).as_slice()).map_err(engine_err)?;
            }
            tx.write(REOFFERS)?.insert(key, to_json(&entry).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn reoffer_sent(&self, kid: &str, credential: &CredentialId, audit: AuditEntry) -> Result<()> {
        let (kid, credential) = (kid.to_owned(), credential.clone());
        self.write_recorded(audit.idempotency.clone(), move |tx| {
            let key = (kid.as_str(), credential.as_str());
            let entry: Option<ReofferEntry> = {
                let t = tx.read(REOFFERS)?;
                let v = t.get(key).map_err(engine_err)?;
                v.map(|v| from_json(v.value(), "re-offer")).transpose()?
            };
            let mut entry = entry.ok_or(StoreError::NotFound)?;
            entry.notice = None;
            tx.write(REOFFERS)?.insert(key, to_json(&entry).as_slice()).map_err(engine_err)?;
            audit_append(tx, &audit)?;
            Ok(())
        })
        .await
    }

    async fn reoffers(&self, kid: &str) -> Result<Vec<ReofferEntry>> {
        self.read(|txn| {
            let t = txn.open_table(REOFFERS).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.range((kid, "")..).map_err(engine_err)? {
                let (k, v) = kv.map_err(engine_err)?;
                if k.value().0 != kid {
                    break;
                }
                out.push(from_json(v.value(), "re-offer")?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(i: u64) -> AuditEntry {
        AuditEntry::new(i, "t", "a", &i.to_string(), None)
    }

    /// The audit entries a store holds, by subject, in order.
    fn subjects(rt: &tokio::runtime::Runtime, store: &Embedded) -> Vec<String> {
        rt.block_on(store.audit_page(None, 100)).unwrap().into_iter().map(|(_, e)| e.subject).collect()
    }

    /// A store opened in `dir` holding the audit entries 1, 2 and 3, with a runtime to drive it.
    fn three_entries(dir: &Path) -> (tokio::runtime::Runtime, Embedded) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = Embedded::open(dir, WriteGate::default()).unwrap();
        for i in 1..=3 {
            rt.block_on(store.append_audit(entry(i))).unwrap();
        }
        (rt, store)
    }

    /// A crash image of the store in `dir` (its database file and redo log as they are now,
    /// between two groups), opened in a folder of its own under `dir`.
    fn crash_image(dir: &Path, name: &str) -> Embedded {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for file in ["issuer.redb", "issuer.wal"] {
            std::fs::copy(dir.join(file), to.join(file)).unwrap();
        }
        Embedded::open(&to, WriteGate::default()).unwrap()
    }

    /// The redo log's fdatasync fails after the group's record was written whole: the caller
    /// is told, and the group never comes back, not even from a crash image taken at that
    /// instant (the log is checkpointed under a new epoch at once); the store goes on.
    #[test]
    fn a_group_whose_log_sync_failed_never_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, store) = three_entries(dir.path());
        fault::arm(&dir.path().join("issuer.wal"), fault::Fault::LogSync);
        let failed = rt.block_on(store.append_audit(entry(4)));
        assert!(matches!(&failed, Err(StoreError::Engine(m)) if m.contains("fdatasync failed")), "{failed:?}");
        assert_eq!(subjects(&rt, &crash_image(dir.path(), "crash")), ["1", "2", "3"]);
        rt.block_on(store.append_audit(entry(5))).unwrap();
        assert_eq!(subjects(&rt, &store), ["1", "2", "3", "5"]);
        drop(store);
        let again = Embedded::open(dir.path(), WriteGate::default()).unwrap();
        assert_eq!(subjects(&rt, &again), ["1", "2", "3", "5"]);
    }

    /// The commit fails after the group's record is durable: the caller is told (its change
    /// may stand, as after a crash before the answer), and the log decides: the database is
    /// reopened and the record applied, so what readers see is what a restart would see.
    #[test]
    fn a_group_whose_commit_failed_after_its_log_record_is_applied_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, store) = three_entries(dir.path());
        fault::arm(&dir.path().join("issuer.redb"), fault::Fault::Commit);
        let failed = rt.block_on(store.append_audit(entry(4)));
        assert!(matches!(&failed, Err(StoreError::Engine(m)) if m.contains("commit failed")), "{failed:?}");
        // The callers are answered first; the writer reopens right after.
        let t0 = std::time::Instant::now();
        while store.reopened() == 0 && t0.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(store.reopened(), 1);
        assert_eq!(subjects(&rt, &store), ["1", "2", "3", "4"]);
        assert_eq!(subjects(&rt, &crash_image(dir.path(), "crash")), ["1", "2", "3", "4"]);
        rt.block_on(store.append_audit(entry(5))).unwrap();
        let page = rt.block_on(store.audit_page(None, 100)).unwrap();
        assert_eq!(page.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        drop(store);
        let again = Embedded::open(dir.path(), WriteGate::default()).unwrap();
        assert_eq!(subjects(&rt, &again), ["1", "2", "3", "4", "5"]);
    }

    /// A store dropped cleanly checkpoints: no redo record of the database's epoch is left, so
    /// the database file stands alone (for offline tools, and for a binary without the log).
    #[test]
    fn a_clean_drop_leaves_no_redo_record_to_apply() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = Embedded::open(dir.path(), WriteGate::default()).unwrap();
        rt.block_on(async {
            for i in 0..10 {
                store.append_audit(AuditEntry::new(i, "t", "a", "s", None)).await.unwrap();
            }
        });
        let path = dir.path().join("issuer.redb");
        let live = {
            let db = store.slot.get().unwrap();
            let txn = db.begin_write().unwrap();
            let epoch = wal_epoch(&txn).unwrap();
            txn.abort().unwrap();
            epoch
        };
        // While the store runs, the ten changes are records of the current epoch.
        assert_eq!(wal::Wal::open(&path.with_extension("wal"), live).unwrap().1.len(), 10);
        drop(store);
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let epoch = wal_epoch(&txn).unwrap();
        assert_ne!(epoch, live, "no checkpoint at drop");
        assert!(wal::Wal::open(&path.with_extension("wal"), epoch).unwrap().1.is_empty());
        assert_eq!(redb::ReadableTableMetadata::len(&txn.open_table(AUDIT).unwrap()).unwrap(), 10);
    }
}
