//! The PostgreSQL engine's part of the registry change feed ([`Store::apply_registry_change`] and
//! the methods beside it; schema in `migrations/0003_registry_changes.sql`). The feed position is
//! a row of `counters` that every application of a change updates with a compare-and-set, so
//! nodes running the job at once serialize on it and exactly one applies each change; status rows
//! are locked in (list, index) order after it, then the identity keys of a renewal.

use super::*;

/// Locks and checks status moves (in (list, index) order, the order every registry change takes);
/// returns the rows to update.
async fn check_moves(tx: &Transaction<'_>, moves: &[StatusMove]) -> Result<Vec<(i32, i64, i16)>> {
    let mut rows = Vec::with_capacity(moves.len());
    for m in moves {
        let row =
            query_opt(tx, "SELECT status_list, status_idx FROM credentials WHERE id = $1", &[&m.credential.as_str()])
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?;
        rows.push((row.get::<_, i32>(0), row.get::<_, i64>(1), m));
    }
    rows.sort_by_key(|(l, i, _)| (*l, *i));
    let mut out = Vec::with_capacity(rows.len());
    for (list, idx, m) in rows {
        let current = query_opt(tx, "SELECT value FROM status WHERE list = $1 AND idx = $2 FOR UPDATE", &[&list, &idx])
            .await
            .map_err(pg_err)?
            .map(|r| r.get::<_, i16>(0) as u8);
        if current != Some(m.expected) {
            return Err(Conflict::StatusChanged.into());
        }
        out.push((list, idx, i16::from(m.new)));
    }
    Ok(out)
}

async fn write_moves(tx: &Transaction<'_>, moves: &[(i32, i64, i16)]) -> Result<()> {
    for (list, idx, new) in moves {
        exec(tx, "UPDATE status SET value = $3 WHERE list = $1 AND idx = $2", &[list, idx, new])
            .await
            .map_err(pg_err)?;
    }
    if !moves.is_empty() {
        bump(tx, "status_version").await?;
    }
    Ok(())
}

/// Inserts an application as [`Store::insert_application`] does (an open application under one
/// of its identity keys: [`Conflict::ApplicationExists`]).
async fn insert_application(tx: &Transaction<'_>, new: &NewApplication) -> Result<()> {
    let keys: Vec<&[u8]> = new.identity.iter().map(|k| k.0.as_slice()).collect();
    let existing =
        query(tx, "SELECT key, application FROM identity_index WHERE key = ANY($1) ORDER BY key FOR UPDATE", &[&keys])
            .await
            .map_err(pg_err)?;
    let others: Vec<String> = existing.iter().map(|r| r.get::<_, String>(1)).collect();
    if !others.is_empty() {
        let metas = query(tx, "SELECT meta FROM applications WHERE id = ANY($1)", &[&others]).await.map_err(pg_err)?;
        for m in metas {
            let meta: AppMeta = from_value(m.get(0), "application summary")?;
            if !meta.state.is_closed() {
                return Err(Conflict::ApplicationExists.into());
            }
        }
    }
    exec(
        tx,
        "INSERT INTO applications (id, version, reception_point, meta, sealed) VALUES ($1, 1, $2, $3, $4)",
        &[&new.id.as_str(), &new.meta.reception_point, &json(&new.meta), &new.sealed],
    )
    .await
    .map_err(pg_err)?;
    let known: Vec<Vec<u8>> = existing.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect();
    for key in &new.identity {
        if known.iter().any(|k| k.as_slice() == key.0.as_slice()) {
            exec(
                tx,
                "UPDATE identity_index SET application = $2 WHERE key = $1",
                &[&key.0.as_slice(), &new.id.as_str()],
            )
            .await
            .map_err(pg_err)?;
        } else {
            exec(
                tx,
                "INSERT INTO identity_index (key, application) VALUES ($1, $2)",
                &[&key.0.as_slice(), &new.id.as_str()],
            )
            .await
            .map_err(unique_or(Conflict::ApplicationExists))?;
        }
    }
    Ok(())
}

fn seq_of(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| StoreError::Engine("registry feed position beyond 2^63-1".into()))
}

fn due_of(record: &RegistryChangeRecord) -> Option<i64> {
    record.pending_due.map(|d| i64::try_from(d).unwrap_or(i64::MAX))
}

fn records(rows: Vec<Row>) -> Result<Vec<RegistryChangeRecord>> {
    rows.into_iter().map(|r| from_value(r.get(0), "registry change")).collect()
}

impl Postgres {
    pub(super) async fn registry_apply(&self, c: RegistryApply) -> Result<()> {
        let (after, seq) = (seq_of(c.after)?, seq_of(c.record.seq)?);
        if seq <= after {
            return Err(Conflict::RegistryPositionMoved.into());
        }
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            // The position first: a second run applying the same change waits here, then loses.
            let n = exec(
                &tx,
                "UPDATE counters SET value = $2 WHERE name = 'registry_position' AND value = $1",
                &[&after, &seq],
            )
            .await
            .map_err(pg_err)?;
            if n != 1 {
                return Err(Conflict::RegistryPositionMoved.into());
            }
            let moves = check_moves(&tx, &c.moves).await?;
            write_moves(&tx, &moves).await?;
            if let Some(new) = &c.renewal {
                insert_application(&tx, new).await?;
            }
            exec(
                &tx,
                "INSERT INTO registry_changes (seq, version, card, pending_due, body) VALUES ($1, $2, $3, $4, $5)",
                &[&seq, &(c.record.version as i32), &c.record.card.0.as_slice(), &due_of(&c.record), &json(&c.record)],
            )
            .await
            .map_err(pg_err)?;
            for a in &c.audit {
                audit_append(&tx, a).await?;
            }
        })
    }

    pub(super) async fn registry_settle(&self, s: RegistrySettle) -> Result<()> {
        let seq = seq_of(s.record.seq)?;
        transaction!(self, None::<&IdempotencyRecord>, |tx| {
            let row = query_opt(&tx, "SELECT version, card FROM registry_changes WHERE seq = $1 FOR UPDATE", &[&seq])
                .await
                .map_err(pg_err)?
                .ok_or(StoreError::NotFound)?;
            let (version, card): (i32, Vec<u8>) = (row.get(0), row.get(1));
            if i64::from(version) + 1 != i64::from(s.record.version) || card != s.record.card.0 {
                return Err(Conflict::RegistryRecordChanged.into());
            }
            let moves = check_moves(&tx, &s.moves).await?;
            write_moves(&tx, &moves).await?;
            exec(
                &tx,
                "UPDATE registry_changes SET version = $2, pending_due = $3, body = $4 WHERE seq = $1",
                &[&seq, &(s.record.version as i32), &due_of(&s.record), &json(&s.record)],
            )
            .await
            .map_err(pg_err)?;
            for a in &s.audit {
                audit_append(&tx, a).await?;
            }
        })
    }

    pub(super) async fn registry_position_read(&self) -> Result<u64> {
        let c = self.client().await?;
        let row =
            read_one(&c, "SELECT value FROM counters WHERE name = 'registry_position'", &[]).await.map_err(pg_err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub(super) async fn registry_record(&self, seq: u64) -> Result<Option<RegistryChangeRecord>> {
        let Ok(seq) = i64::try_from(seq) else { return Ok(None) };
        let c = self.client().await?;
        let row = read_opt(&c, "SELECT body FROM registry_changes WHERE seq = $1", &[&seq]).await.map_err(pg_err)?;
        row.map(|r| from_value(r.get(0), "registry change")).transpose()
    }

    pub(super) async fn registry_records(&self, after: u64, limit: usize) -> Result<Vec<RegistryChangeRecord>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let c = self.client().await?;
        let rows = read(
            &c,
            "SELECT body FROM registry_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &(limit as i64)],
        )
        .await
        .map_err(pg_err)?;
        records(rows)
    }

    pub(super) async fn registry_records_for_card(&self, card: &Digest) -> Result<Vec<RegistryChangeRecord>> {
        let c = self.client().await?;
        let rows = read(&c, "SELECT body FROM registry_changes WHERE card = $1 ORDER BY seq", &[&card.0.as_slice()])
            .await
            .map_err(pg_err)?;
        records(rows)
    }

    pub(super) async fn registry_pending(
        &self,
        due_by: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RegistryChangeRecord>> {
        let (due_by, after) = (i64::try_from(due_by).unwrap_or(i64::MAX), i64::try_from(after).unwrap_or(i64::MAX));
        let c = self.client().await?;
        let rows = read(
            &c,
            "SELECT body FROM registry_changes WHERE pending_due IS NOT NULL AND pending_due <= $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
            &[&due_by, &after, &(limit as i64)],
        )
        .await
        .map_err(pg_err)?;
        records(rows)
    }

    pub(super) async fn card_credentials(&self, card: &Digest) -> Result<Vec<CredentialRow>> {
        let c = self.client().await?;
        let hex = hex::encode(card.0);
        let rows = read(&c, "SELECT body FROM credentials WHERE body->>'card' = $1 ORDER BY id", &[&hex])
            .await
            .map_err(pg_err)?;
        rows.into_iter().map(|r| from_value(r.get(0), "credential")).collect()
    }
}
