//! The embedded engine's part of the registry change feed ([`Store::apply_registry_change`] and
//! the methods beside it): the records of applied changes, the feed position, and the card index
//! of credentials. Every change keeps the engine's two phases: all of it is decided (position,
//! statuses, identity keys, record version) before the first table is opened for writing.

use super::*;

/// A status move, decided: where it is and what it becomes.
struct Decided {
    key: (u32, u64),
    new: u8,
}

/// Decides status moves: each credential exists, with its expected status.
fn check_moves(tx: &Tx<'_>, moves: &[StatusMove]) -> Result<Vec<Decided>> {
    let mut out = Vec::with_capacity(moves.len());
    for m in moves {
        let cred: CredentialRow =
            tx_json(tx, CREDENTIALS, m.credential.as_str(), "credential")?.ok_or(StoreError::NotFound)?;
        let key = (cred.status_list, cred.status_idx);
        let current = tx.read(STATUS)?.get(key).map_err(engine_err)?.map(|v| v.value());
        if current != Some(m.expected) {
            return Err(Conflict::StatusChanged.into());
        }
        out.push(Decided { key, new: m.new });
    }
    Ok(out)
}

fn write_moves(tx: &Tx<'_>, moves: &[Decided]) -> Result<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let version = meta_u64(tx, K_STATUS_VERSION)?;
    {
        let mut status = tx.write(STATUS)?;
        let mut marks = tx.write(STATUS_MARKS)?;
        for m in moves {
            status.insert(m.key, m.new).map_err(engine_err)?;
            if m.new == 0 {
                marks.remove(m.key).map_err(engine_err)?;
            } else {
                marks.insert(m.key, m.new).map_err(engine_err)?;
            }
        }
    }
    set_meta_u64(tx, K_STATUS_VERSION, version + 1)
}

/// Decides a new application as [`Store::insert_application`] does.
fn check_new_application(tx: &Tx<'_>, new: &NewApplication) -> Result<()> {
    let index = tx.read(IDENTITY)?;
    let metas = tx.read(APP_META)?;
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
    Ok(())
}

fn write_new_application(tx: &Tx<'_>, new: &NewApplication) -> Result<()> {
    {
        let mut index = tx.write(IDENTITY)?;
        for key in &new.identity {
            index.insert(key.0.as_slice(), new.id.as_str()).map_err(engine_err)?;
        }
    }
    tx.write(APPS)?.insert(new.id.as_str(), encode_app(1, &new.sealed).as_slice()).map_err(engine_err)?;
    tx.write(APP_META)?.insert(new.id.as_str(), to_json(&new.meta).as_slice()).map_err(engine_err)?;
    Ok(())
}

/// Writes a record with its card entry and its place among the pending.
fn write_record(tx: &Tx<'_>, record: &RegistryChangeRecord) -> Result<()> {
    tx.write(REGISTRY_CHANGES)?.insert(record.seq, to_json(record).as_slice()).map_err(engine_err)?;
    tx.write(REGISTRY_BY_CARD)?.insert((record.card.0.as_slice(), record.seq), 0u8).map_err(engine_err)?;
    let mut pending = tx.write(REGISTRY_PENDING)?;
    match record.pending_due {
        Some(due) => pending.insert(record.seq, due).map_err(engine_err)?,
        None => pending.remove(record.seq).map_err(engine_err)?,
    };
    Ok(())
}

fn record_at(txn: &redb::ReadTransaction, seq: u64) -> Result<RegistryChangeRecord> {
    get_json(txn, REGISTRY_CHANGES, seq, "registry change")?.ok_or(StoreError::Corrupt("registry index without record"))
}

impl Embedded {
    pub(super) async fn registry_apply(&self, c: RegistryApply) -> Result<()> {
        self.write(move |tx| {
            // Decide.
            if meta_u64(tx, K_REGISTRY_POSITION)? != c.after || c.record.seq <= c.after {
                return Err(Conflict::RegistryPositionMoved.into());
            }
            let moves = check_moves(tx, &c.moves)?;
            if let Some(new) = &c.renewal {
                check_new_application(tx, new)?;
            }
            // Write.
            write_moves(tx, &moves)?;
            if let Some(new) = &c.renewal {
                write_new_application(tx, new)?;
            }
            write_record(tx, &c.record)?;
            set_meta_u64(tx, K_REGISTRY_POSITION, c.record.seq)?;
            for a in &c.audit {
                audit_append(tx, a)?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn registry_settle(&self, s: RegistrySettle) -> Result<()> {
        self.write(move |tx| {
            // Decide.
            let stored: RegistryChangeRecord =
                tx_json(tx, REGISTRY_CHANGES, s.record.seq, "registry change")?.ok_or(StoreError::NotFound)?;
            if stored.version.checked_add(1) != Some(s.record.version) || stored.card != s.record.card {
                return Err(Conflict::RegistryRecordChanged.into());
            }
            let moves = check_moves(tx, &s.moves)?;
            // Write.
            write_moves(tx, &moves)?;
            write_record(tx, &s.record)?;
            for a in &s.audit {
                audit_append(tx, a)?;
            }
            Ok(())
        })
        .await
    }

    pub(super) fn registry_records(&self, after: u64, limit: usize) -> Result<Vec<RegistryChangeRecord>> {
        self.read(|txn| {
            let t = txn.open_table(REGISTRY_CHANGES).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.range(after.saturating_add(1)..).map_err(engine_err)?.take(limit) {
                let (_, v) = kv.map_err(engine_err)?;
                out.push(from_json(v.value(), "registry change")?);
            }
            Ok(out)
        })
    }

    pub(super) fn registry_records_for_card(&self, card: &Digest) -> Result<Vec<RegistryChangeRecord>> {
        self.read(|txn| {
            let t = txn.open_table(REGISTRY_BY_CARD).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.range((card.0.as_slice(), 0u64)..=(card.0.as_slice(), u64::MAX)).map_err(engine_err)? {
                let (k, _) = kv.map_err(engine_err)?;
                out.push(record_at(txn, k.value().1)?);
            }
            Ok(out)
        })
    }

    pub(super) fn registry_pending(&self, due_by: u64, after: u64, limit: usize) -> Result<Vec<RegistryChangeRecord>> {
        self.read(|txn| {
            let t = txn.open_table(REGISTRY_PENDING).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.range(after.saturating_add(1)..).map_err(engine_err)? {
                if out.len() >= limit {
                    break;
                }
                let (k, due) = kv.map_err(engine_err)?;
                if due.value() <= due_by {
                    out.push(record_at(txn, k.value())?);
                }
            }
            Ok(out)
        })
    }

    pub(super) fn card_credentials(&self, card: &Digest) -> Result<Vec<CredentialRow>> {
        self.read(|txn| {
            let t = txn.open_table(CARD_CREDENTIALS).map_err(engine_err)?;
            let mut out = Vec::new();
            for kv in t.range((card.0.as_slice(), "")..).map_err(engine_err)? {
                let (k, _) = kv.map_err(engine_err)?;
                let (c, id) = k.value();
                if c != card.0.as_slice() {
                    break;
                }
                let row = get_json(txn, CREDENTIALS, id, "credential")?
                    .ok_or(StoreError::Corrupt("card index without credential"))?;
                out.push(row);
            }
            Ok(out)
        })
    }
}
