//! Backup and restore of the PostgreSQL engine: every table of the schema copied in one
//! `REPEATABLE READ, READ ONLY` transaction (one consistent snapshot, taken while other nodes
//! keep writing), with `COPY … TO STDOUT (FORMAT binary)`, tables in foreign-key order (a table
//! after the tables it references), and restored with `COPY … FROM STDIN` in that order into a
//! freshly migrated, empty database, in one transaction.
//!
//! The file: the line `VNEID-PG-BACKUP-1`, then per table a line with its name and its COPY
//! data as chunks (a 4-byte big-endian length, the bytes), ended by a zero length. Sealed
//! columns stay sealed: the bytes are the stored ones. `schema_migrations` is left out: the
//! database restored into has run the same migrations (a backup from another schema version is
//! refused by the restore).

use std::path::Path;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_postgres::IsolationLevel;

use super::{pg_err, ConnectError, Postgres};
use crate::store::{Result, StoreError, WriteGate};

const MAGIC: &[u8] = b"VNEID-PG-BACKUP-1\n";
const CHUNK: usize = 1 << 20;

fn io_err(e: std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        StoreError::DiskFull
    } else {
        StoreError::Engine(format!("backup file: {e}"))
    }
}

/// The schema's tables (but `schema_migrations`), each after the tables it references.
async fn tables_in_order(tx: &tokio_postgres::Transaction<'_>) -> Result<Vec<String>> {
    let names: Vec<String> = tx
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", &[])
        .await
        .map_err(pg_err)?
        .into_iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|t| t != "schema_migrations")
        .collect();
    let edges: Vec<(String, String)> = tx
        .query(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace",
            &[],
        )
        .await
        .map_err(pg_err)?
        .into_iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let mut ordered: Vec<String> = Vec::with_capacity(names.len());
    let mut left = names;
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|t| edges.iter().all(|(child, parent)| child != *t || parent == *t || ordered.contains(parent)))
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Engine("the schema's foreign keys form a cycle".into()));
        }
        left.retain(|t| !ready.contains(t));
        ordered.extend(ready);
    }
    Ok(ordered)
}

fn quoted(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

/// Writes the backup of `pg` to `dest` (a new file, 0600, synced).
pub(super) async fn dump(pg: &Postgres, dest: &Path) -> Result<u64> {
    let mut client = pg.client().await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_err)?;
    let tables = tables_in_order(&tx).await?;
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut out = opts.open(dest).await.map_err(io_err)?;
    let mut written = 0u64;
    out.write_all(MAGIC).await.map_err(io_err)?;
    written += MAGIC.len() as u64;
    for table in &tables {
        let line = format!("{table}\n");
        out.write_all(line.as_bytes()).await.map_err(io_err)?;
        written += line.len() as u64;
        let sql = format!("COPY {} TO STDOUT (FORMAT binary)", quoted(table));
        let stream = tx.copy_out(sql.as_str()).await.map_err(pg_err)?;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(pg_err)?;
            for part in chunk.chunks(CHUNK) {
                out.write_all(&(part.len() as u32).to_be_bytes()).await.map_err(io_err)?;
                out.write_all(part).await.map_err(io_err)?;
                written += 4 + part.len() as u64;
            }
        }
        out.write_all(&0u32.to_be_bytes()).await.map_err(io_err)?;
        written += 4;
    }
    out.flush().await.map_err(io_err)?;
    out.sync_all().await.map_err(io_err)?;
    drop(out);
    if let Some(dir) = dest.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(written)
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("the backup file: {0}")]
    File(String),
    #[error("the database is not empty ({0}): restore into a new database")]
    NotEmpty(String),
    #[error("the database: {0}")]
    Store(#[from] StoreError),
}

/// Restores a backup written by [`dump`] into the database at `url`, which must be new (it is
/// migrated first, then must hold no token, application or audit entry).
pub async fn restore(url: &str, src: &Path) -> std::result::Result<u64, RestoreError> {
    let pg = Postgres::open(url, WriteGate::default(), false).await?;
    let mut client = pg.client().await?;
    for table in ["tokens", "applications", "audit", "audit_pending"] {
        let n: i64 =
            client.query_one(format!("SELECT count(*) FROM {table}").as_str(), &[]).await.map_err(pg_err)?.get(0);
        if n > 0 {
            return Err(RestoreError::NotEmpty(format!("{table} has {n} rows")));
        }
    }
    let file = |e: std::io::Error| RestoreError::File(e.to_string());
    let mut input = tokio::io::BufReader::new(tokio::fs::File::open(src).await.map_err(file)?);
    let mut magic = vec![0u8; MAGIC.len()];
    input.read_exact(&mut magic).await.map_err(file)?;
    if magic != MAGIC {
        return Err(RestoreError::File("not a PostgreSQL backup of the issuer".into()));
    }
    let tx = client.transaction().await.map_err(pg_err)?;
    let known = tables_in_order(&tx).await?;
    // What the migrations put in (counters, the audit head) is replaced by the backup's rows.
    let all = known.iter().map(|t| quoted(t)).collect::<Vec<_>>().join(", ");
    tx.batch_execute(&format!("TRUNCATE {all}")).await.map_err(pg_err)?;
    let mut rows = 0u64;
    loop {
        let mut name = Vec::new();
        loop {
            let mut b = [0u8; 1];
            if input.read(&mut b).await.map_err(file)? == 0 {
                break;
            }
            if b[0] == b'\n' {
                break;
            }
            name.push(b[0]);
            if name.len() > 200 {
                return Err(RestoreError::File("table name too long".into()));
            }
        }
        if name.is_empty() {
            break;
        }
        let table = String::from_utf8(name).map_err(|_| RestoreError::File("table name".into()))?;
        if !known.contains(&table) {
            return Err(RestoreError::File(format!(
                "table {table} is not in this database's schema (a backup of another version?)"
            )));
        }
        let sink = tx
            .copy_in::<_, bytes::Bytes>(format!("COPY {} FROM STDIN (FORMAT binary)", quoted(&table)).as_str())
            .await
            .map_err(pg_err)?;
        let mut sink = std::pin::pin!(sink);
        loop {
            let mut len = [0u8; 4];
            input.read_exact(&mut len).await.map_err(file)?;
            let len = u32::from_be_bytes(len) as usize;
            if len == 0 {
                break;
            }
            if len > CHUNK {
                return Err(RestoreError::File("chunk too large".into()));
            }
            let mut chunk = vec![0u8; len];
            input.read_exact(&mut chunk).await.map_err(file)?;
            sink.send(bytes::Bytes::from(chunk)).await.map_err(pg_err)?;
        }
        rows += sink.as_mut().finish().await.map_err(pg_err)?;
    }
    // COPY leaves the sequences behind the rows: each goes on after its column's largest value
    // (staged audit entries restored with their ids, for one).
    let serials = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_default LIKE 'nextval(%'",
            &[],
        )
        .await
        .map_err(pg_err)?;
    for r in serials {
        let (table, column): (String, String) = (r.get(0), r.get(1));
        tx.execute(
            format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max({c}), 0) + 1, false) FROM {t}",
                c = quoted(&column),
                t = quoted(&table)
            )
            .as_str(),
            &[&table, &column],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(rows)
}
