//! The PostgreSQL engine: any number of stateless issuer nodes share one database.
//!
//! - **Uniqueness lives in the database**: status indices (`status` primary key), e-ID numbers
//!   (`eids`), one open application per person (`identity_index`), ids, idempotency keys and the
//!   audit chain's sequence numbers are enforced by constraints, never by a node's memory.
//! - **The audit chain** (`audit_chain`): a change stages its audit entry (`audit_pending`) in
//!   its own transaction, taking no lock for it; a chainer links staged entries into the chain
//!   in batches, holding the head row's lock (every 250 ms on each node, and before the
//!   log or its head is read), so changes from every node commit side by side instead of
//!   queueing on the head row.
//! - **Transactions** run at READ COMMITTED with explicit row locks where an invariant needs
//!   them (`SELECT … FOR UPDATE` on the application, the code, the access token, the status
//!   entry being changed, the active admin tokens), and unique violations turned into typed
//!   [`Conflict`]s. Each change locks rows in the same order (application, then its code or
//!   token); a deadlock or serialization failure PostgreSQL reports anyway is retried.
//! - **Durability**: a change is acknowledged after `COMMIT` returns, with PostgreSQL's
//!   `synchronous_commit` (on by default): the WAL is flushed first.
//! - **Migrations** (`issuer/migrations/*.sql`) are applied at start under an advisory lock, so
//!   nodes starting together apply each once.
//! - A connection pool per node; the [`WriteGate`] bounds the writes in flight.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::*;

mod backup;
pub use backup::{restore, RestoreError};

/// The migrations, in order. Never edit one that has shipped: add the next.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_nonces.sql")),
    (3, include_str!("../../migrations/0003_registry_changes.sql")),
    (4, include_str!("../../migrations/0004_audit_chain.sql")),
    (5, include_str!("../../migrations/0005_custody.sql")),
    (6, include_str!("../../migrations/0006_audit_staging.sql")),
];

/// Shards of a list's allocation counter.
const SHARDS: i16 = 16;

/// How many times a change is retried after a deadlock or serialization failure.
const RETRIES: u32 = 8;

/// The PostgreSQL engine.
pub struct Postgres {
    pool: Pool,
    gate: WriteGate,
    /// The task that links staged audit entries into the chain (stopped when dropped).
    chainer: tokio::task::AbortHandle,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.chainer.abort();
    }
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres").field("pool", &self.pool.status()).finish_non_exhaustive()
    }
}

/// Why the PostgreSQL store did not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("the database URL does not parse: {0}")]
    Url(String),
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(String),
    #[error("applying migration {version}: {detail}")]
    Migration { version: i32, detail: String },
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            StoreError::Transient
        }
        Some(c) if *c == SqlState::DISK_FULL => StoreError::DiskFull,
        _ => StoreError::Engine(match e.as_db_error() {
            Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
            None => e.to_string(),
        }),
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        deadpool_postgres::PoolError::Timeout(_) => StoreError::Busy,
        e => StoreError::Engine(e.to_string()),
    }
}

/// A unique violation means `conflict`; anything else is what it is.
fn unique_or(conflict: Conflict) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StoreError::Conflict(conflict)
        } else {
            pg_err(e)
        }
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn from_value<T: serde::de::DeserializeOwned>(v: Value, what: &'static str) -> Result<T> {
    serde_json::from_value(v).map_err(|_| StoreError::Corrupt(what))
}

fn id_of<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse().map_err(|_| StoreError::Corrupt("record id"))
}

/// Statements are prepared once per connection and reused (one round trip per statement
/// instead of two).
async fn exec(tx: &Transaction<'_>, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, tokio_postgres::Error> {
    let st = tx.prepare_cached(sql).await?;
    tx.execute(&st, params).await
}

async fn query(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let st = tx.prepare_cached(sql).await?;
    tx.query(&st, params).await
}

async fn query_opt(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let st = tx.prepare_cached(sql).await?;
    tx.query_opt(&st, params).await
}

async fn query_one(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, tokio_postgres::Error> {
    let st = tx.prepare_cached(sql).await?;
    tx.query_one(&st, params).await
}

async fn read(
    c: &deadpool_postgres::Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query(&st, params).await
}

async fn read_opt(
    c: &deadpool_postgres::Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query_opt(&st, params).await
}

async fn read_one(
    c: &deadpool_postgres::Object,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, tokio_postgres::Error> {
    let st = c.prepare_cached(sql).await?;
    c.query_one(&st, params).await
}

/// Runs `$body` in a transaction (with `$tx` bound to it), claiming the idempotency record
/// first, committing at the end; retried after deadlocks and serialization failures. `$body`
/// may use `?`; it is evaluated again on a retry.
macro_rules! transaction {
    ($self:ident, $idem:expr, |$tx:ident| $body:block) => {{
        let _permit = $self.gate.enter().await?;
        let mut attempt = 0;
        loop {
            let mut client = $self.pool.get().await.map_err(pool_err)?;
            let $tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()
                .await
                .map_err(pg_err)?;
            let outcome: Result<_> = async {
                if let Some(rec) = $idem {
                    claim_idempotency(&$tx, rec).await?;
                }
                Ok($body)
            }
            .await;
            let outcome = match outcome {
                Ok(v) => {
                    let t0 = std::time::Instant::now();
                    let committed = $tx.commit().await.map(|()| v).map_err(pg_err);
                    $self.gate.observe_commit(t0.elapsed());
                    committed
                }
                Err(e) => {
                    let _ = $tx.rollback().await;
                    Err(e)
                }
            };
            match outcome {
                Err(StoreError::Transient) if attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(2 << attempt.min(6))).await;
                }
                other => break other,
            }
        }
    }};
}

async fn claim_idempotency(tx: &Transaction<'_>, rec: &IdempotencyRecord) -> Result<()> {
    let n = exec(
        tx,
        "INSERT INTO idempotency (scope, key, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[&rec.scope, &rec.key.0.as_slice(), &json(rec)],
    )
    .await
    .map_err(pg_err)?;
    if n == 0 {
        return Err(Conflict::IdempotencyKeyUsed.into());
    }
    Ok(())
}

const USE_NONCES: &str =
    "DELETE FROM nonces WHERE hash = ANY($1) AND expires_at >= $2 AND (access IS NULL OR access = $3)";
const NEW_STATUS: &str = "INSERT INTO status (list, idx, value) VALUES ($1, $2, 0)";
const COUNT_ALLOCATION: &str = "INSERT INTO status_allocated (list, shard, n) VALUES ($1, $2, 1) \
     ON CONFLICT (list, shard) DO UPDATE SET n = status_allocated.n + 1";
const NEW_CREDENTIAL: &str =
    "INSERT INTO credentials (id, application, status_list, status_idx, body) VALUES ($1, $2, $3, $4, $5)";
const SPEND_TOKEN: &str = "UPDATE access_tokens SET body = $2 WHERE hash = $1";
const DROP_CODE: &str = "DELETE FROM codes WHERE hash = $1";
const WRITE_APP: &str =
    "UPDATE applications SET version = $2, reception_point = $3, meta = $4, sealed = $5 WHERE id = $1";
const STAGE_AUDIT: &str = "INSERT INTO audit_pending (entry) VALUES ($1) RETURNING id";
const NEW_CODE: &str = "INSERT INTO codes (hash, body) VALUES ($1, $2)";
const UPDATE_CODE: &str = "UPDATE codes SET body = $2 WHERE hash = $1";
const NEW_ACCESS: &str = "INSERT INTO access_tokens (hash, body) VALUES ($1, $2)";
const DROP_ACCESS: &str = "DELETE FROM access_tokens WHERE hash = $1";

/// Prepares `sqls` on `tx`'s connection (each once per connection, cached after).
async fn prepared(tx: &Transaction<'_>, sqls: &[&str]) -> Result<Vec<tokio_postgres::Statement>> {
    futures_util::future::try_join_all(sqls.iter().map(|s| tx.prepare_cached(s))).await.map_err(pg_err)
}

/// One statement of a [`pipelined`] batch: its SQL, its parameters, and the conflict a unique
/// violation means (`None`: an engine error).
type Step<'a> = (&'static str, Vec<&'a (dyn ToSql + Sync)>, Option<Conflict>);

/// Runs `steps` in one round trip, in order; the rows each changed. Prepared first, each
/// statement is sent when its future is first polled, and `join_all` polls them first in
/// order, so they run in order. The first failure in that order is the answer: PostgreSQL
/// aborts the transaction at the first error, and the later statements only echo it.
async fn pipelined(tx: &Transaction<'_>, steps: Vec<Step<'_>>) -> Result<Vec<u64>> {
    let sqls: Vec<&str> = steps.iter().map(|s| s.0).collect();
    let statements = prepared(tx, &sqls).await?;
    let results = futures_util::future::join_all(
        statements.iter().zip(&steps).map(|(st, (_, params, _))| tx.execute(st, params)),
    )
    .await;
    let mut changed = Vec::with_capacity(results.len());
    for (r, (_, _, conflict)) in results.into_iter().zip(steps) {
        changed.push(match conflict {
            Some(c) => r.map_err(unique_or(c))?,
            None => r.map_err(pg_err)?,
        });
    }
    Ok(changed)
}

/// An audit entry as staged: no idempotency record, no link yet.
fn staged(entry: &AuditEntry) -> Value {
    let mut entry = entry.clone();
    entry.idempotency = None;
    entry.link = None;
    json(&entry)
}

/// Stages an audit entry with the change being written: it commits with the change, or not at
/// all, and is linked into the chain a moment later by [`Postgres::chain`]; no lock is taken.
/// Returns the entry's place among the staged ones.
async fn audit_append(tx: &Transaction<'_>, entry: &AuditEntry) -> Result<i64> {
    let row = query_one(tx, STAGE_AUDIT, &[&staged(entry)]).await.map_err(pg_err)?;
    Ok(row.get(0))
}

/// Staged entries linked per transaction of the chainer.
const CHAIN_BATCH: i64 = 2000;

/// How often each node links what has been staged.
const CHAIN_EVERY: Duration = Duration::from_millis(250);

/// Links staged entries into the chain, oldest first (at most [`CHAIN_BATCH`]), then `own` if
/// given, inside `tx`: one chainer at a time, as the head row stays locked until `tx` ends.
/// A staged entry is linked as the JSON it was staged as, every field kept (a node of another
/// version links what it does not know without dropping it). Returns how many staged entries
/// were linked, and `own`'s sequence number.
async fn link_staged(tx: &Transaction<'_>, own: Option<&AuditEntry>) -> Result<(usize, Option<u64>)> {
    let head = query_one(tx, "SELECT seq, hash FROM audit_head FOR UPDATE", &[]).await.map_err(pg_err)?;
    let (mut seq, mut hash) = (head.get::<_, i64>(0), digest_of(head.get(1))?);
    // Read after the lock: what another chainer linked meanwhile is gone from here.
    let rows =
        query(tx, "SELECT id, entry FROM audit_pending ORDER BY id LIMIT $1", &[&CHAIN_BATCH]).await.map_err(pg_err)?;
    let staged_ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut entries: Vec<Value> = rows.into_iter().map(|r| r.get(1)).collect();
    entries.extend(own.map(staged));
    if entries.is_empty() {
        return Ok((0, None));
    }
    let mut seqs = Vec::with_capacity(entries.len());
    let mut prev = hash;
    for e in &mut entries {
        let Some(fields) = e.as_object_mut() else { return Err(StoreError::Corrupt("staged audit entry")) };
        fields.remove("link");
        seq += 1;
        prev = hash;
        hash = audit_chain::hash_canonical(
            seq as u64,
            &prev,
            &audit_chain::canonical_value(Value::Object(fields.clone())),
        );
        fields.insert("link".into(), json(&AuditLink { seq: seq as u64, prev, hash }));
        seqs.push(seq);
    }
    exec(tx, "INSERT INTO audit (seq, entry) SELECT * FROM unnest($1::bigint[], $2::jsonb[])", &[&seqs, &entries])
        .await
        .map_err(pg_err)?;
    if !staged_ids.is_empty() {
        exec(tx, "DELETE FROM audit_pending WHERE id = ANY($1)", &[&staged_ids]).await.map_err(pg_err)?;
    }
    exec(tx, "UPDATE audit_head SET seq = $1, prev = $2, hash = $3", &[&seq, &prev.0.as_slice(), &hash.0.as_slice()])
        .await
        .map_err(pg_err)?;
    Ok((staged_ids.len(), own.map(|_| seq as u64)))
}

/// Links everything staged so far into the chain, a batch per transaction.
async fn chain(pool: &Pool) -> Result<()> {
    loop {
        let mut client = pool.get().await.map_err(pool_err)?;
        let waiting = read_one(&client, "SELECT EXISTS (SELECT 1 FROM audit_pending)", &[]).await.map_err(pg_err)?;
        if !waiting.get::<_, bool>(0) {
            return Ok(());
        }
        let tx =
            client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await.map_err(pg_err)?;
        let (linked, _) = link_staged(&tx, None).await?;
        tx.commit().await.map_err(pg_err)?;
        if (linked as i64) < CHAIN_BATCH {
            return Ok(());
        }
    }
}

fn digest_of(b: Vec<u8>) -> Result<Digest> {
    <[u8; 32]>::try_from(b.as_slice()).map(Digest).map_err(|_| StoreError::Corrupt("digest"))
}

async fn bump(tx: &Transaction<'_>, counter: &str) -> Result<()> {
    exec(tx, "UPDATE counters SET value = value + 1 WHERE name = $1", &[&counter]).await.map_err(pg_err)?;
    Ok(())
}

/// Locks the application at the version the change was computed from and returns its summary.
async fn lock_app(tx: &Transaction<'_>, change: &AppChange) -> Result<AppMeta> {
    let row = query_opt(tx, "SELECT version, meta FROM applications WHERE id = $1 FOR UPDATE", &[&change.id.as_str()])
        .await
        .map_err(pg_err)?
        .ok_or(StoreError::NotFound)?;
    if row.get::<_, i64>(0) as u64 != change.expected_version {
        return Err(Conflict::ApplicationChanged.into());
    }
    from_value(row.get(1), "application summary")
}

/// The code stored under `hash`, locked until the transaction ends.
async fn lock_code(tx: &Transaction<'_>, hash: &Digest) -> Result<Option<CodeRow>> {
    let row = query_opt(tx, "SELECT body FROM codes WHERE hash = $1 FOR UPDATE", &[&hash.0.as_slice()])
        .await
        .map_err(pg_err)?;
    row.map(|r| from_value(r.get(0), "code")).transpose()
}

/// A code redeemed for the access token `access_hash`: the token the code was last redeemed
/// for goes, the new one is stored, the code remembers it, and `audit` is staged.
async fn redeem_writes(
    tx: &Transaction<'_>,
    mut code: CodeRow,
    code_hash: &Digest,
    access_hash: Digest,
    access: &AccessRow,
    audit: &AuditEntry,
) -> Result<()> {
    let previous = code.access.map(|p| p.0.to_vec()).unwrap_or_default();
    code.access = Some(access_hash);
    let (access_hash, access, code_hash) = (access_hash.0.as_slice(), json(access), code_hash.0.as_slice());
    let (code, entry) = (json(&code), staged(audit));
    pipelined(
        tx,
        vec![
            (DROP_ACCESS, vec![&previous], None),
            (NEW_ACCESS, vec![&access_hash, &access], None),
            (UPDATE_CODE, vec![&code_hash, &code], None),
            (STAGE_AUDIT, vec![&entry], None),
        ],
    )
    .await?;
    Ok(())
}

/// The new version and summary an application change writes (with [`WRITE_APP`]).
fn app_row(change: &AppChange) -> (i64, Value) {
    ((change.expected_version + 1) as i64, json(&change.meta))
}

async fn write_app(tx: &Transaction<'_>, change: &AppChange) -> Result<u64> {
    let version = change.expected_version + 1;
    exec(
        tx,
        WRITE_APP,
        &[&change.id.as_str(), &(version as i64), &change.meta.reception_point, &json(&change.meta), &change.sealed],
    )
    .await
    .map_err(pg_err)?;
    Ok(version)
}

impl Postgres {
    /// Connects (a pool of up to `gate`'s writes in flight, at most 32 connections) and applies
    /// the migrations the database lacks.
    pub async fn connect(url: &str, gate: WriteGate) -> std::result::Result<Self, ConnectError> {
        Self::open(url, gate, true).await
    }

    /// [`Self::connect`]; `chainer`: whether this node links staged audit entries every
    /// [`CHAIN_EVERY`] (a restore does not: it rewrites the tables under it).
    pub(super) async fn open(url: &str, gate: WriteGate, chainer: bool) -> std::result::Result<Self, ConnectError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| ConnectError::Url(e.to_string()))?;
        // No statement, lock wait or idle transaction may hold a connection (and a place in the
        // write gate) for long: a stuck peer turns into a retryable error, not a stalled node.
        if config.get_options().is_none() {
            config.options(
                "-c statement_timeout=15000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=15000",
            );
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(32)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| ConnectError::Connect(e.to_string()))?;
        migrate(&pool).await?;
        let chainer = tokio::spawn({
            let pool = pool.clone();
            async move {
                if !chainer {
                    return;
                }
                loop {
                    tokio::time::sleep(CHAIN_EVERY).await;
                    if let Err(e) = chain(&pool).await {
                        tracing::warn!(error = %e, "linking staged audit entries failed; retrying");
                    }
                }
            }
        })
        .abort_handle();
        Ok(Self { pool, gate, chainer })
    }
}

/// Applies the migrations the database lacks, one node at a time.
async fn migrate(pool: &Pool) -> std::result::Result<(), ConnectError> {
    let connect = |e: String| ConnectError::Connect(e);
    let mut client = pool.get().await.map_err(|e| connect(e.to_string()))?;
    // One node at a time applies migrations.
    client.execute("SELECT pg_advisory_lock(7734201)", &[]).await.map_err(|e| connect(e.to_string()))?;
    let result = async {
        let exists = client
            .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
            .await
            .map_err(|e| ConnectError::Migration { version: 0, detail: e.to_string() })?
            .get::<_, bool>(0);
        if !exists {
            client
                .batch_execute(
                    "CREATE TABLE schema_migrations (version integer PRIMARY KEY, \
                         applied_at timestamptz NOT NULL DEFAULT now())",
                )
                .await
                .map_err(|e| ConnectError::Migration { version: 0, detail: e.to_string() })?;
        }
        for (version, sql) in MIGRATIONS {
            let done = client
                .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version])
                .await
                .map_err(|e| ConnectError::Migration { version: *version, detail: e.to_string() })?
                .is_some();
            if done {
                continue;
            }
            let tx = client
                .transaction()
                .await
                .map_err(|e| ConnectError::Migration { version: *version, detail: e.to_string() })?;
            tx.batch_execute(sql)
                .await
                .map_err(|e| ConnectError::Migration { version: *version, detail: e.to_string() })?;
            exec(&tx, "INSERT INTO schema_migrations (version) VALUES ($1)", &[version])
                .await
                .map_err(|e| ConnectError::Migration { version: *version, detail: e.to_string() })?;
            tx.commit().await.map_err(|e| ConnectError::Migration { version: *version, detail: e.to_string() })?;
            tracing::info!(version, "database migration applied");
        }
        Ok(())
    }
    .await;
    let _ = client.execute("SELECT pg_advisory_unlock(7734201)", &[]).await;
    result
}

impl Postgres {
    /// Links what is staged, so that a reader sees every committed entry; if linking fails
    /// (the head locked for long, a read-only role), the reader gets what is linked already.
    async fn chain_before_reading(&self) {
        if let Err(e) = chain(&self.pool).await {
            tracing::warn!(error = %e, "could not link staged audit entries before reading the log");
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Drops every table (tests only: a fresh database for each conformance check).
    #[doc(hidden)]
    pub async fn reset_for_tests(url: &str) -> std::result::Result<(), ConnectError> {
        let (client, conn) =
            tokio_postgres::connect(url, NoTls).await.map_err(|e| ConnectError::Connect(e.to_string()))?;
        tokio::spawn(conn);
        client
            .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .await
            .map_err(|e| ConnectError::Connect(e.to_string()))?;
        Ok(())
    }
}

#[async_trait]
impl Store for Postgres {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            bump(&tx, "heartbeat").await?;
        })
    }

    async fn token(&self, hash: &Digest) -> Result<Option<TokenRow>> {
        let c = self.client().await?;
        let row =
            read_opt(&c, "SELECT body FROM tokens WHERE hash = $1", &[&hash.0.as_slice()]).await.map_err(pg_err)?;
        row.map(|r| from_value(r.get(0), "token")).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>> {
        let c = self.client().await?;
        let rows = read(&c, "SELECT body FROM tokens ORDER BY id", &[]).await.map_err(pg_err)?;
        rows.into_iter().map(|r| from_value(r.get(0), "token")).collect()
    }

    async fn create_token(&self, hash: Digest, row: TokenRow, audit: AuditEntry) -> Result<()> {
        let role = if row.role == Role::Admin { "admin" } else { "officer" };
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            exec(
                &tx,
                "INSERT INTO tokens (hash, id, role, revoked, body) VALUES ($1, $2, $3, $4, $5)",
                &[&hash.0.as_slice(), &row.id.as_str(), &role, &row.revoked, &json(&row)],
            )
            .await
            .map_err(pg_err)?;
            audit_append(&tx, &audit).await?;
        })
    }

    async fn bootstrap_admin(&self, hash: Digest, row: TokenRow, audit: AuditEntry) -> Result<bool> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            let n = exec(
                &tx,
                "UPDATE counters SET value = $1 WHERE name = 'admin_bootstrapped' AND value = 0",
                &[&(row.created_at.max(1) as i64)],
            )
            .await
            .map_err(pg_err)?;
            if n == 1 {
                exec(
                    &tx,
                    "INSERT INTO tokens (hash, id, role, revoked, body) VALUES ($1, $2, 'admin', false, $3)",
                    &[&hash.0.as_slice(), &row.id.as_str(), &json(&row)],
                )
                .await
                .map_err(pg_err)?;
                audit_append(&tx, &audit).await?;
            }
            n == 1
        })
    }

    async fn revoke_token(&self, id: &TokenId, audit: AuditEntry) -> Result<TokenRow> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            // Lock every active admin token, so two revocations cannot both leave "another one".
            let admins =
                query(&tx, "SELECT id FROM tokens WHERE role = 'admin' AND NOT revoked ORDER BY id FOR UPDATE", &[])
                    .await
                    .map_err(pg_err)?;
            let row = query_opt(&tx, "SELECT body FROM tokens WHERE id = $1 FOR UPDATE", &[&id.as_str()])
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?;
            let mut token: TokenRow = from_value(row.get(0), "token")?;
            if token.role == Role::Admin && !token.revoked && admins.len() <= 1 {
                return Err(Conflict::LastAdmin.into());
            }
            token.revoked = true;
            exec(&tx, "UPDATE tokens SET revoked = true, body = $2 WHERE id = $1", &[&id.as_str(), &json(&token)])
                .await
                .map_err(pg_err)?;
            audit_append(&tx, &audit).await?;
            token
        })
    }

    async fn application(&self, id: &ApplicationId) -> Result<Option<AppRow>> {
        let c = self.client().await?;
        let row = read_opt(&c, "SELECT version, meta, sealed FROM applications WHERE id = $1", &[&id.as_str()])
            .await
            .map_err(pg_err)?;
        row.map(|r| {
            Ok(AppRow {
                id: id.clone(),
                version: r.get::<_, i64>(0) as u64,
                meta: from_value(r.get(1), "application summary")?,
                sealed: r.get(2),
            })
        })
        .transpose()
    }

    async fn application_metas(&self, point: Option<&str>) -> Result<Vec<(ApplicationId, AppMeta)>> {
        let c = self.client().await?;
        let rows = match point {
            Some(p) => read(&c, "SELECT id, meta FROM applications WHERE reception_point = $1 ORDER BY id", &[&p])
                .await
                .map_err(pg_err)?,
            None => read(&c, "SELECT id, meta FROM applications ORDER BY id", &[]).await.map_err(pg_err)?,
        };
        rows.into_iter()
            .map(|r| Ok((id_of(r.get::<_, &str>(0))?, from_value(r.get(1), "application summary")?)))
            .collect()
    }

    async fn application_by_identity(&self, key: &Digest) -> Result<Option<(ApplicationId, AppMeta)>> {
        let c = self.client().await?;
        let row = read_opt(
            &c,
            "SELECT a.id, a.meta FROM identity_index i JOIN applications a ON a.id = i.application WHERE i.key = $1",
            &[&key.0.as_slice()],
        )
        .await
        .map_err(pg_err)?;
        row.map(|r| Ok((id_of(r.get::<_, &str>(0))?, from_value(r.get(1), "application summary")?))).transpose()
    }

    async fn insert_application(&self, new: NewApplication, audit: AuditEntry) -> Result<()> {
        let keys: Vec<&[u8]> = new.identity.iter().map(|k| k.0.as_slice()).collect();
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            // The person's existing index entries, locked: a concurrent submission for the same
            // person waits here, then sees this one.
            let existing = query(
                &tx,
                "SELECT key, application FROM identity_index WHERE key = ANY($1) ORDER BY key FOR UPDATE",
                &[&keys],
            )
            .await
            .map_err(pg_err)?;
            let others: Vec<String> = existing.iter().map(|r| r.get::<_, String>(1)).collect();
            if !others.is_empty() {
                let metas =
                    query(&tx, "SELECT meta FROM applications WHERE id = ANY($1)", &[&others]).await.map_err(pg_err)?;
                for m in metas {
                    let meta: AppMeta = from_value(m.get(0), "application summary")?;
                    if !meta.state.is_closed() {
                        return Err(Conflict::ApplicationExists.into());
                    }
                }
            }
            let known: Vec<Vec<u8>> = existing.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect();
            let (id, meta, entry) = (new.id.as_str(), json(&new.meta), staged(&audit));
            let mut steps: Vec<Step<'_>> = vec![(
                "INSERT INTO applications (id, version, reception_point, meta, sealed) VALUES ($1, 1, $2, $3, $4)",
                vec![&id, &new.meta.reception_point, &meta, &new.sealed],
                None,
            )];
            for key in &keys {
                if known.iter().any(|k| k.as_slice() == *key) {
                    steps.push(("UPDATE identity_index SET application = $2 WHERE key = $1", vec![key, &id], None));
                } else {
                    // A concurrent first submission for the same person loses on the key.
                    steps.push((
                        "INSERT INTO identity_index (key, application) VALUES ($1, $2)",
                        vec![key, &id],
                        Some(Conflict::ApplicationExists),
                    ));
                }
            }
            steps.push((STAGE_AUDIT, vec![&entry], None));
            pipelined(&tx, steps).await?;
        })
    }

    async fn update_application(&self, change: AppChange, audit: AuditEntry) -> Result<u64> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            lock_app(&tx, &change).await?;
            let (id, (version, meta), entry) = (change.id.as_str(), app_row(&change), staged(&audit));
            pipelined(
                &tx,
                vec![
                    (WRITE_APP, vec![&id, &version, &change.meta.reception_point, &meta, &change.sealed], None),
                    (STAGE_AUDIT, vec![&entry], None),
                ],
            )
            .await?;
            version as u64
        })
    }

    async fn capture_biometrics(&self, change: AppChange, sealed_files: Vec<u8>, audit: AuditEntry) -> Result<u64> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            lock_app(&tx, &change).await?;
            let (id, (version, meta), entry) = (change.id.as_str(), app_row(&change), staged(&audit));
            pipelined(
                &tx,
                vec![
                    (WRITE_APP, vec![&id, &version, &change.meta.reception_point, &meta, &change.sealed], None),
                    (
                        "INSERT INTO biometrics (application, sealed) VALUES ($1, $2) \
                         ON CONFLICT (application) DO UPDATE SET sealed = EXCLUDED.sealed",
                        vec![&id, &sealed_files],
                        None,
                    ),
                    (STAGE_AUDIT, vec![&entry], None),
                ],
            )
            .await?;
            version as u64
        })
    }

    async fn biometrics(&self, id: &ApplicationId) -> Result<Option<Vec<u8>>> {
        let c = self.client().await?;
        let row = read_opt(&c, "SELECT sealed FROM biometrics WHERE application = $1", &[&id.as_str()])
            .await
            .map_err(pg_err)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn approve(
        &self,
        change: AppChange,
        eid: Digest,
        code_hash: Digest,
        code: CodeRow,
        audit: AuditEntry,
    ) -> Result<u64> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            lock_app(&tx, &change).await?;
            let (id, (version, meta), entry) = (change.id.as_str(), app_row(&change), staged(&audit));
            let (eid, code_hash, code) = (eid.0.as_slice(), code_hash.0.as_slice(), json(&code));
            pipelined(
                &tx,
                vec![
                    ("INSERT INTO eids (key, application) VALUES ($1, $2)", vec![&eid, &id], Some(Conflict::EidTaken)),
                    (WRITE_APP, vec![&id, &version, &change.meta.reception_point, &meta, &change.sealed], None),
                    (NEW_CODE, vec![&code_hash, &code], None),
                    (STAGE_AUDIT, vec![&entry], None),
                ],
            )
            .await?;
            version as u64
        })
    }

    async fn renew_offer(&self, change: AppChange, code_hash: Digest, code: CodeRow, audit: AuditEntry) -> Result<u64> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            let old = lock_app(&tx, &change).await?;
            let (id, (version, meta), entry) = (change.id.as_str(), app_row(&change), staged(&audit));
            let (old_code, code_hash, code) = (
                old.offer.as_ref().map(|o| o.code.0.to_vec()).unwrap_or_default(),
                code_hash.0.as_slice(),
                json(&code),
            );
            pipelined(
                &tx,
                vec![
                    (WRITE_APP, vec![&id, &version, &change.meta.reception_point, &meta, &change.sealed], None),
                    (DROP_CODE, vec![&old_code], None),
                    (NEW_CODE, vec![&code_hash, &code], None),
                    (STAGE_AUDIT, vec![&entry], None),
                ],
            )
            .await?;
            version as u64
        })
    }

    async fn code(&self, hash: &Digest) -> Result<Option<CodeRow>> {
        let c = self.client().await?;
        let row =
            read_opt(&c, "SELECT body FROM codes WHERE hash = $1", &[&hash.0.as_slice()]).await.map_err(pg_err)?;
        row.map(|r| from_value(r.get(0), "code")).transpose()
    }

    async fn redeem_code(
        &self,
        code_hash: Digest,
        seen: CodeRow,
        access_hash: Digest,
        access: AccessRow,
        audit: AuditEntry,
    ) -> Result<()> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            let Some(current) = lock_code(&tx, &code_hash).await?.filter(|c| *c == seen) else {
                return Err(Conflict::InvalidGrant.into());
            };
            redeem_writes(&tx, current, &code_hash, access_hash, &access, &audit).await?;
        })
    }

    async fn redeem_code_with_tx_code(&self, r: TxRedemption, audit: TxAudit) -> Result<TxOutcome> {
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let Some(mut current) = lock_code(&tx, &r.code_hash).await?.filter(|c| {
                c.application == r.seen.application && c.generation == r.seen.generation && c.tx_code == r.seen.tx_code
            }) else {
                return Err(Conflict::InvalidGrant.into());
            };
            if current.wrong_tx_codes >= r.max_wrong {
                return Err(Conflict::InvalidGrant.into());
            }
            if current.tx_code != Some(r.tx_code) {
                current.wrong_tx_codes += 1;
                let wrong = current.wrong_tx_codes;
                let locked = wrong >= r.max_wrong;
                let (code_hash, current) = (r.code_hash.0.as_slice(), json(&current));
                let (wrong_entry, locked_entry) = (staged(&audit.wrong), staged(&audit.locked));
                let mut steps: Vec<Step<'_>> =
                    vec![(UPDATE_CODE, vec![&code_hash, &current], None), (STAGE_AUDIT, vec![&wrong_entry], None)];
                if locked {
                    steps.push((STAGE_AUDIT, vec![&locked_entry], None));
                }
                pipelined(&tx, steps).await?;
                TxOutcome::Wrong { wrong, locked }
            } else {
                redeem_writes(&tx, current, &r.code_hash, r.access_hash, &r.access, &audit.redeemed).await?;
                TxOutcome::Redeemed
            }
        })
    }

    async fn create_nonce(&self, hash: Digest, row: NonceRow, purge_before: u64) -> Result<()> {
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let (hash, expires_at, access) =
                (hash.0.as_slice(), row.expires_at as i64, row.access.as_ref().map(|a| a.0.to_vec()));
            let purge_before = purge_before as i64;
            pipelined(
                &tx,
                vec![
                    (
                        "INSERT INTO nonces (hash, expires_at, access) VALUES ($1, $2, $3)",
                        vec![&hash, &expires_at, &access],
                        None,
                    ),
                    (
                        "DELETE FROM nonces WHERE hash IN \
                         (SELECT hash FROM nonces WHERE expires_at < $1 LIMIT 16 FOR UPDATE SKIP LOCKED)",
                        vec![&purge_before],
                        None,
                    ),
                ],
            )
            .await?;
        })
    }

    async fn consume_nonces(&self, hashes: Vec<Digest>, access: Digest, now: u64) -> Result<()> {
        let keys: Vec<&[u8]> = hashes.iter().map(|h| h.0.as_slice()).collect();
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let gone = exec(
                &tx,
                "DELETE FROM nonces WHERE hash = ANY($1) AND expires_at >= $2 AND (access IS NULL OR access = $3)",
                &[&keys, &(now as i64), &access.0.as_slice()],
            )
            .await
            .map_err(pg_err)?;
            if gone as usize != distinct.len() || distinct.len() != keys.len() {
                return Err(Conflict::InvalidNonce.into());
            }
        })
    }

    async fn access(&self, hash: &Digest) -> Result<Option<AccessRow>> {
        let c = self.client().await?;
        let row = read_opt(&c, "SELECT body FROM access_tokens WHERE hash = $1", &[&hash.0.as_slice()])
            .await
            .map_err(pg_err)?;
        row.map(|r| from_value(r.get(0), "access token")).transpose()
    }

    async fn issue_credential(&self, issuance: Issuance, audit: AuditEntry) -> Result<()> {
        let Issuance { access, app, credential, nonces, now } = &issuance;
        let nonce_keys: Vec<&[u8]> = nonces.iter().map(|n| n.0.as_slice()).collect();
        let mut distinct = nonce_keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != nonce_keys.len() {
            return Err(Conflict::InvalidNonce.into());
        }
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            // Locks in the order every change takes them: the application, its code, its token.
            let row =
                query_opt(&tx, "SELECT version, meta FROM applications WHERE id = $1 FOR UPDATE", &[&app.id.as_str()])
                    .await
                    .map_err(pg_err)?
                    .ok_or(StoreError::NotFound)?;
            let version = row.get::<_, i64>(0) as u64;
            let old: AppMeta = from_value(row.get(1), "application summary")?;
            if let Some(offer) = &old.offer {
                query(&tx, "SELECT 1 FROM codes WHERE hash = $1 FOR UPDATE", &[&offer.code.0.as_slice()])
                    .await
                    .map_err(pg_err)?;
            }
            let row =
                query_opt(&tx, "SELECT body FROM access_tokens WHERE hash = $1 FOR UPDATE", &[&access.0.as_slice()])
                    .await
                    .map_err(pg_err)?;
            let mut token: AccessRow = match row {
                Some(r) => from_value(r.get(0), "access token")?,
                None => return Err(Conflict::InvalidToken.into()),
            };
            // A concurrent request with the same token that committed first: the same credential
            // (decided before the version, which that request moved).
            if let Some(issued) = token.credential {
                return Err(Conflict::AlreadyIssued(issued).into());
            }
            if version != app.expected_version {
                return Err(Conflict::ApplicationChanged.into());
            }
            if token.application != app.id || old.offer.as_ref().map(|o| o.generation) != Some(token.generation) {
                return Err(Conflict::InvalidToken.into());
            }
            // Decided: every write goes in one round trip. A nonce gone, or a status index
            // taken, fails the change, and the transaction is rolled back.
            let shard = (credential.status_idx % SHARDS as u64) as i16;
            token.credential = Some(credential.id.clone());
            let (list, idx) = (credential.status_list as i32, credential.status_idx as i64);
            let (credential_json, token_json) = (json(credential), json(&token));
            let code = old.offer.as_ref().map(|o| o.code.0.to_vec()).unwrap_or_default();
            let (id, app_id, hash, at) = (credential.id.as_str(), app.id.as_str(), access.0.as_slice(), *now as i64);
            let (version, meta, entry) = ((app.expected_version + 1) as i64, json(&app.meta), staged(&audit));
            let changed = pipelined(
                &tx,
                vec![
                    (USE_NONCES, vec![&nonce_keys, &at, &hash], None),
                    (NEW_STATUS, vec![&list, &idx], Some(Conflict::StatusIndexTaken)),
                    (COUNT_ALLOCATION, vec![&list, &shard], None),
                    (NEW_CREDENTIAL, vec![&id, &app_id, &list, &idx, &credential_json], None),
                    (SPEND_TOKEN, vec![&hash, &token_json], None),
                    (DROP_CODE, vec![&code], None),
                    (WRITE_APP, vec![&app_id, &version, &app.meta.reception_point, &meta, &app.sealed], None),
                    (STAGE_AUDIT, vec![&entry], None),
                ],
            )
            .await?;
            if changed[0] as usize != nonce_keys.len() {
                return Err(Conflict::InvalidNonce.into());
            }
        })
    }

    async fn credential(&self, id: &CredentialId) -> Result<Option<CredentialRow>> {
        let c = self.client().await?;
        let row = read_opt(&c, "SELECT body FROM credentials WHERE id = $1", &[&id.as_str()]).await.map_err(pg_err)?;
        row.map(|r| from_value(r.get(0), "credential")).transpose()
    }

    async fn status(&self, list: u32, idx: u64) -> Result<Option<u8>> {
        let c = self.client().await?;
        let row =
            read_opt(&c, "SELECT value FROM status WHERE list = $1 AND idx = $2", &[&(list as i32), &(idx as i64)])
                .await
                .map_err(pg_err)?;
        Ok(row.map(|r| r.get::<_, i16>(0) as u8))
    }

    async fn set_status(&self, credential: &CredentialId, expected: u8, new: u8, audit: AuditEntry) -> Result<()> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            let row = query_opt(
                &tx,
                "SELECT status_list, status_idx FROM credentials WHERE id = $1",
                &[&credential.as_str()],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound)?;
            let (list, idx): (i32, i64) = (row.get(0), row.get(1));
            let current =
                query_opt(&tx, "SELECT value FROM status WHERE list = $1 AND idx = $2 FOR UPDATE", &[&list, &idx])
                    .await
                    .map_err(pg_err)?
                    .map(|r| r.get::<_, i16>(0) as u8);
            if current != Some(expected) {
                return Err(Conflict::StatusChanged.into());
            }
            exec(&tx, "UPDATE status SET value = $3 WHERE list = $1 AND idx = $2", &[&list, &idx, &i16::from(new)])
                .await
                .map_err(pg_err)?;
            bump(&tx, "status_version").await?;
            audit_append(&tx, &audit).await?;
        })
    }

    async fn status_marks(&self, list: u32) -> Result<Vec<(u64, u8)>> {
        let c = self.client().await?;
        let rows =
            read(&c, "SELECT idx, value FROM status WHERE list = $1 AND value <> 0 ORDER BY idx", &[&(list as i32)])
                .await
                .map_err(pg_err)?;
        Ok(rows.into_iter().map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i16>(1) as u8)).collect())
    }

    async fn status_allocated(&self, list: u32) -> Result<u64> {
        let c = self.client().await?;
        let row =
            read_one(&c, "SELECT COALESCE(sum(n), 0)::bigint FROM status_allocated WHERE list = $1", &[&(list as i32)])
                .await
                .map_err(pg_err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn status_version(&self) -> Result<u64> {
        let c = self.client().await?;
        let row =
            read_one(&c, "SELECT value FROM counters WHERE name = 'status_version'", &[]).await.map_err(pg_err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn status_lists(&self) -> Result<Vec<StatusListRow>> {
        let c = self.client().await?;
        let rows = read(&c,
                "SELECT l.id, l.capacity, COALESCE((SELECT sum(n) FROM status_allocated a WHERE a.list = l.id), 0)::bigint \
                 FROM status_lists l ORDER BY l.id",
                &[],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .into_iter()
            .map(|r| StatusListRow {
                id: r.get::<_, i32>(0) as u32,
                capacity: r.get::<_, i64>(1) as u64,
                allocated: r.get::<_, i64>(2) as u64,
            })
            .collect())
    }

    async fn open_status_list(&self, id: u32, capacity: u64, audit: AuditEntry) -> Result<()> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            exec(&tx, "INSERT INTO status_lists (id, capacity) VALUES ($1, $2)", &[&(id as i32), &(capacity as i64)])
                .await
                .map_err(unique_or(Conflict::StatusListExists))?;
            bump(&tx, "keys_version").await?;
            audit_append(&tx, &audit).await?;
        })
    }

    async fn publish_keys(&self, node: &str, keys: Vec<verifier::TrustedKey>) -> Result<()> {
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let mut changed = 0;
            for key in &keys {
                // A key revoked through the store stays revoked.
                changed += exec(
                    &tx,
                    "INSERT INTO signing_keys (kid, node, body) VALUES ($1, $2, $3) \
                         ON CONFLICT (kid) DO UPDATE SET node = EXCLUDED.node, body = EXCLUDED.body \
                         WHERE signing_keys.body->>'state' <> 'revoked' \
                           AND (signing_keys.body <> EXCLUDED.body OR signing_keys.node <> EXCLUDED.node)",
                    &[&key.kid.to_string(), &node, &json(key)],
                )
                .await
                .map_err(pg_err)?;
            }
            if changed > 0 {
                bump(&tx, "keys_version").await?;
            }
        })
    }

    async fn keys(&self) -> Result<Vec<(String, verifier::TrustedKey)>> {
        let c = self.client().await?;
        let rows = read(&c, "SELECT node, body FROM signing_keys ORDER BY kid", &[]).await.map_err(pg_err)?;
        rows.into_iter().map(|r| Ok((r.get::<_, String>(0), from_value(r.get(1), "key")?))).collect()
    }

    async fn revoke_key(&self, kid: &str, at: u64, audit: AuditEntry) -> Result<()> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            let row = query_opt(&tx, "SELECT body FROM signing_keys WHERE kid = $1 FOR UPDATE", &[&kid])
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?;
            let mut key: verifier::TrustedKey = from_value(row.get(0), "key")?;
            key.state = verifier::KeyState::Revoked;
            key.sign_until = key.sign_until.min(at);
            key.valid_until = key.valid_until.min(at);
            exec(&tx, "UPDATE signing_keys SET body = $2 WHERE kid = $1", &[&kid, &json(&key)])
                .await
                .map_err(pg_err)?;
            bump(&tx, "keys_version").await?;
            audit_append(&tx, &audit).await?;
        })
    }

    async fn keys_version(&self) -> Result<u64> {
        let c = self.client().await?;
        let row = read_one(&c, "SELECT value FROM counters WHERE name = 'keys_version'", &[]).await.map_err(pg_err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn publish_trust_list(&self, list: PublishedTrustList) -> Result<bool> {
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let n = exec(
                &tx,
                "INSERT INTO trust_lists (seq, jws) SELECT $1::bigint, $2::text \
                     WHERE $1::bigint > COALESCE((SELECT max(seq) FROM trust_lists), 0) ON CONFLICT DO NOTHING",
                &[&(list.seq as i64), &list.jws],
            )
            .await
            .map_err(pg_err)?;
            if n == 1 {
                // Keep the recent history only.
                exec(&tx, "DELETE FROM trust_lists WHERE seq < $1::bigint - 30 * 86400", &[&(list.seq as i64)])
                    .await
                    .map_err(pg_err)?;
            }
            n == 1
        })
    }

    async fn trust_list(&self) -> Result<Option<PublishedTrustList>> {
        let c = self.client().await?;
        let row =
            read_opt(&c, "SELECT seq, jws FROM trust_lists ORDER BY seq DESC LIMIT 1", &[]).await.map_err(pg_err)?;
        Ok(row.map(|r| PublishedTrustList { seq: r.get::<_, i64>(0) as u64, jws: r.get(1) }))
    }

    async fn idempotency(&self, scope: &str, key: &Digest) -> Result<Option<IdempotencyRecord>> {
        let c = self.client().await?;
        let row =
            read_opt(&c, "SELECT body FROM idempotency WHERE scope = $1 AND key = $2", &[&scope, &key.0.as_slice()])
                .await
                .map_err(pg_err)?;
        row.map(|r| from_value(r.get(0), "idempotency record")).transpose()
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<u64> {
        // Linked at once (after what is staged), to answer with its sequence number.
        transaction!(self, entry.idempotency.as_ref(), |tx| {
            link_staged(&tx, Some(&entry)).await?.1.ok_or(StoreError::Engine("audit entry not linked".into()))?
        })
    }

    async fn audit_page(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, AuditEntry)>> {
        self.chain_before_reading().await;
        let c = self.client().await?;
        let rows = read(
            &c,
            "SELECT seq, entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(after.unwrap_or(0) as i64), &(limit as i64)],
        )
        .await
        .map_err(pg_err)?;
        rows.into_iter().map(|r| Ok((r.get::<_, i64>(0) as u64, from_value(r.get(1), "audit entry")?))).collect()
    }

    async fn audit_head(&self) -> Result<Option<AuditLink>> {
        self.chain_before_reading().await;
        let c = self.client().await?;
        let row = read_one(&c, "SELECT seq, prev, hash FROM audit_head", &[]).await.map_err(pg_err)?;
        let link =
            AuditLink { seq: row.get::<_, i64>(0) as u64, prev: digest_of(row.get(1))?, hash: digest_of(row.get(2))? };
        // The genesis row (no chained entry yet) holds a zero hash.
        Ok((link.hash != audit_chain::GENESIS).then_some(link))
    }

    async fn backup(&self, dest: &std::path::Path) -> Result<u64> {
        backup::dump(self, dest).await
    }

    fn free_bytes(&self) -> Option<u64> {
        // The database server's disk: PostgreSQL's `disk_full` error answers 507, and its own
        // monitoring watches the space.
        None
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let c = self.client().await?;
        let row = read_opt(&c, "SELECT value FROM settings WHERE key = $1", &[&key]).await.map_err(pg_err)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn put_setting(&self, key: &str, value: Vec<u8>, audit: Option<AuditEntry>) -> Result<()> {
        transaction!(self, audit.as_ref().and_then(|a| a.idempotency.as_ref()), |tx| {
            exec(&tx,
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &value],
            )
            .await
            .map_err(pg_err)?;
            if let Some(a) = &audit {
                audit_append(&tx, a).await?;
            }
        })
    }

    async fn registry_position(&self) -> Result<u64> {
        self.registry_position_read().await
    }

    async fn apply_registry_change(&self, c: RegistryApply) -> Result<()> {
        self.registry_apply(c).await
    }

    async fn settle_registry_change(&self, s: RegistrySettle) -> Result<()> {
        self.registry_settle(s).await
    }

    async fn registry_change(&self, seq: u64) -> Result<Option<RegistryChangeRecord>> {
        self.registry_record(seq).await
    }

    async fn registry_changes(&self, after: u64, limit: usize) -> Result<Vec<RegistryChangeRecord>> {
        self.registry_records(after, limit).await
    }

    async fn registry_changes_for_card(&self, card: &Digest) -> Result<Vec<RegistryChangeRecord>> {
        self.registry_records_for_card(card).await
    }

    async fn pending_registry_changes(
        &self,
        due_by: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RegistryChangeRecord>> {
        self.registry_pending(due_by, after, limit).await
    }

    async fn credentials_by_card(&self, card: &Digest) -> Result<Vec<CredentialRow>> {
        self.card_credentials(card).await
    }

    async fn publish_trust_list_naming(
        &self,
        list: PublishedTrustList,
        kids: Vec<String>,
        at: u64,
        audit: AuditEntry,
    ) -> Result<bool> {
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let n = exec(
                &tx,
                "INSERT INTO trust_lists (seq, jws) SELECT $1::bigint, $2::text \
                     WHERE $1::bigint > COALESCE((SELECT max(seq) FROM trust_lists), 0) ON CONFLICT DO NOTHING",
                &[&(list.seq as i64), &list.jws],
            )
            .await
            .map_err(pg_err)?;
            if n == 1 {
                exec(&tx, "DELETE FROM trust_lists WHERE seq < $1::bigint - 30 * 86400", &[&(list.seq as i64)])
                    .await
                    .map_err(pg_err)?;
                exec(
                    &tx,
                    "INSERT INTO key_publications (kid, first_published) SELECT k, $2 FROM unnest($1::text[]) AS k \
                         ON CONFLICT (kid) DO NOTHING",
                    &[&kids, &(at as i64)],
                )
                .await
                .map_err(pg_err)?;
                audit_append(&tx, &audit).await?;
            }
            n == 1
        })
    }

    async fn keys_first_published(&self) -> Result<Vec<(String, u64)>> {
        let c = self.client().await?;
        let rows =
            read(&c, "SELECT kid, first_published FROM key_publications ORDER BY kid", &[]).await.map_err(pg_err)?;
        Ok(rows.into_iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64)).collect())
    }

    async fn credentials_by_kid(
        &self,
        kid: &str,
        after: Option<&CredentialId>,
        limit: usize,
    ) -> Result<Vec<CredentialRow>> {
        let c = self.client().await?;
        let rows = read(
            &c,
            "SELECT body FROM credentials WHERE body->>'kid' = $1 AND id > $2 ORDER BY body->>'kid', id LIMIT $3",
            &[&kid, &after.map_or("", |a| a.as_str()), &(limit as i64)],
        )
        .await
        .map_err(pg_err)?;
        rows.into_iter().map(|r| from_value(r.get(0), "credential")).collect()
    }

    async fn record_reoffer(&self, entry: ReofferEntry, offer: Option<Reoffer>, audit: AuditEntry) -> Result<()> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            // The application first (every change locks it first), then the entry.
            let old = match &offer {
                Some(o) => Some(lock_app(&tx, &o.app).await?),
                None => None,
            };
            let n = exec(
                &tx,
                "INSERT INTO reoffers (kid, credential, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&entry.kid, &entry.credential.as_str(), &json(&entry)],
            )
            .await
            .map_err(pg_err)?;
            if n == 0 {
                return Err(Conflict::AlreadyReoffered.into());
            }
            if let (Some(o), Some(old)) = (&offer, &old) {
                write_app(&tx, &o.app).await?;
                if let Some(previous) = &old.offer {
                    exec(&tx, "DELETE FROM codes WHERE hash = $1", &[&previous.code.0.as_slice()])
                        .await
                        .map_err(pg_err)?;
                }
                exec(
                    &tx,
                    "INSERT INTO codes (hash, body) VALUES ($1, $2)",
                    &[&o.code_hash.0.as_slice(), &json(&o.code)],
                )
                .await
                .map_err(pg_err)?;
            }
            audit_append(&tx, &audit).await?;
        })
    }

    async fn reoffer_sent(&self, kid: &str, credential: &CredentialId, audit: AuditEntry) -> Result<()> {
        transaction!(self, audit.idempotency.as_ref(), |tx| {
            let n = exec(
                &tx,
                "UPDATE reoffers SET body = body - 'notice' WHERE kid = $1 AND credential = $2",
                &[&kid, &credential.as_str()],
            )
            .await
            .map_err(pg_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            audit_append(&tx, &audit).await?;
        })
    }

    async fn reoffers(&self, kid: &str) -> Result<Vec<ReofferEntry>> {
        let c = self.client().await?;
        let rows =
            read(&c, "SELECT body FROM reoffers WHERE kid = $1 ORDER BY credential", &[&kid]).await.map_err(pg_err)?;
        rows.into_iter().map(|r| from_value(r.get(0), "re-offer")).collect()
    }
}

mod registry;
