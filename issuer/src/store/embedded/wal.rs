//! The embedded engine's redo log (`issuer.wal`, beside `issuer.redb`).
//!
//! A redb commit that is made durable writes every B-tree page the group changed, at random
//! places in the file (copy-on-write: a leaf and the branches above it, per random key), then
//! fdatasyncs them: about 200 pages and 2.8 ms per group of 18 credentials (BENCHMARKS.md §1).
//! The log makes a group durable with one sequential write and one fdatasync instead:
//!
//! 1. the writer applies the group in a redb write transaction, and [`Tx::write`](super::Tx)
//!    records every insert and remove it makes (table, key bytes, value bytes) in order;
//! 2. the record is appended here and fdatasync'ed ([`Wal::append`]);
//! 3. only then is the transaction committed, with `Durability::None` (in memory: readers see
//!    the change from now on, and never before it is durable), and the group answered.
//!
//! Every [`CHECKPOINT_BYTES`] of log or [`CHECKPOINT_EVERY`], a group is committed with
//! `Durability::Immediate` instead, which makes everything before it durable in redb itself;
//! that commit also stores a fresh random **epoch** in the database, and the log starts again
//! from its beginning under that epoch. After a crash redb comes back at its last durable
//! commit, and [`Wal::open`] returns the records written under that commit's epoch, in order,
//! which the engine applies again before it takes any change. The records hold whole values
//! (after-images), so applying them in order over a database that already has some of them
//! (redb makes the in-memory commits durable when it is closed cleanly) gives the same state.
//!
//! A record is `magic, epoch, sequence number, length, payload, SHA-256 (first 16 bytes) over
//! all of it`. Reading stops at the first record that is torn, belongs to another epoch, or
//! breaks the sequence: everything after it was never acknowledged (a record is acknowledged
//! only once its fdatasync returned, and records are written one after another). If a valid
//! record of the epoch still follows that point, the middle of the log was damaged (not a
//! crash: the disk), and opening fails rather than drop acknowledged groups.
//!
//! The file is overwritten from its start after each checkpoint rather than truncated, so after
//! the first epoch its blocks already exist and an append's fdatasync writes data only, no file
//! metadata.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// After this much log, the next group is a checkpoint (bounds the replay after a crash).
pub(super) const CHECKPOINT_BYTES: u64 = 32 << 20;
/// After this long, the next group is a checkpoint (bounds redb's unflushed pages in memory).
///
/// A checkpoint stalls writes while redb writes and syncs every page changed since the last
/// one; rarer checkpoints write each hot page once for more groups. On the 30 s benchmark
/// (BENCHMARKS.md §1) 500 ms gave 4,122 credentials/s (p99 64 ms) and 3 s gave 4,601/s
/// (p99 14 ms) with the full pipeline's p99 at 62 and 97 ms; 2 s is between.
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

const MAGIC: [u8; 4] = *b"VNW1";
/// magic, epoch, sequence number, payload length.
const HEADER: usize = 4 + 8 + 8 + 4;
const TAG: usize = 16;

/// One insert or remove, as the writer recorded it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Op<'a> {
    pub table: &'a str,
    pub key: &'a [u8],
    /// `None` for a remove.
    pub value: Option<&'a [u8]>,
}

/// Appends an insert to a group's payload.
pub(super) fn put(log: &mut Vec<u8>, table: &str, key: &[u8], value: &[u8]) {
    op(log, 1, table, key);
    log.extend_from_slice(&len32(value.len()).to_le_bytes());
    log.extend_from_slice(value);
}

/// Appends a remove to a group's payload.
pub(super) fn remove(log: &mut Vec<u8>, table: &str, key: &[u8]) {
    op(log, 2, table, key);
}

fn op(log: &mut Vec<u8>, kind: u8, table: &str, key: &[u8]) {
    log.push(kind);
    log.push(table.len().min(255) as u8);
    log.extend_from_slice(&table.as_bytes()[..table.len().min(255)]);
    log.extend_from_slice(&len32(key.len()).to_le_bytes());
    log.extend_from_slice(key);
}

/// Keys and values are far below 4 GiB (requests are capped at 64 KB, uploads at a few MB).
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The operations of one payload, in order; `None` if it is malformed (it passed its checksum,
/// so that is a bug, and the engine refuses to open rather than guess).
pub(super) fn ops(mut p: &[u8]) -> Option<Vec<Op<'_>>> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (a, b) = p.split_at_checked(n)?;
        *p = b;
        Some(a)
    }
    fn take_len(p: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(p, 4)?.try_into().ok()?) as usize)
    }
    let mut out = Vec::new();
    while !p.is_empty() {
        let kind = take(&mut p, 1)?[0];
        let tlen = take(&mut p, 1)?[0] as usize;
        let table = std::str::from_utf8(take(&mut p, tlen)?).ok()?;
        let klen = take_len(&mut p)?;
        let key = take(&mut p, klen)?;
        let value = match kind {
            1 => {
                let vlen = take_len(&mut p)?;
                Some(take(&mut p, vlen)?)
            }
            2 => None,
            _ => return None,
        };
        out.push(Op { table, key, value });
    }
    Some(out)
}

/// The log file, positioned after its last record.
#[derive(Debug)]
pub(super) struct Wal {
    file: File,
    epoch: u64,
    seq: u64,
    end: u64,
    spoiled: bool,
    since: std::time::Instant,
    /// Where the log is (for the faults tests inject).
    #[cfg(test)]
    path: std::path::PathBuf,
}

impl Wal {
    /// Opens (or creates, 0600) the log, and returns it with the payloads written under
    /// `epoch`, oldest first. The caller applies them, checkpoints, then calls [`Wal::restart`].
    pub(super) fn open(path: &Path, epoch: u64) -> std::io::Result<(Self, Vec<Vec<u8>>)> {
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let file = opts.open(path)?;
        // A new file's name must survive a power loss too.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        let bytes = std::fs::read(path)?;
        let (payloads, stop) = read_records(&bytes, epoch);
        if later_record(&bytes, stop, epoch, payloads.len() as u64) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is damaged after record {} but holds later ones: restore from a backup",
                    path.display(),
                    payloads.len()
                ),
            ));
        }
        let seq = payloads.len() as u64;
        let since = std::time::Instant::now();
        Ok((
            Self {
                file,
                epoch,
                seq,
                end: stop as u64,
                spoiled: false,
                since,
                #[cfg(test)]
                path: path.to_path_buf(),
            },
            payloads,
        ))
    }

    /// Appends one group's payload and makes it durable (fdatasync) before returning.
    pub(super) fn append(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut rec = Vec::with_capacity(HEADER + payload.len() + TAG);
        rec.extend_from_slice(&MAGIC);
        rec.extend_from_slice(&self.epoch.to_le_bytes());
        rec.extend_from_slice(&self.seq.to_le_bytes());
        rec.extend_from_slice(&len32(payload.len()).to_le_bytes());
        rec.extend_from_slice(payload);
        let tag = Sha256::digest(&rec);
        rec.extend_from_slice(&tag[..TAG]);
        self.file.write_all_at(&rec, self.end)?;
        // A test's injected fault: the record is written whole, its fdatasync fails.
        #[cfg(test)]
        if super::fault::take(&self.path, super::fault::Fault::LogSync) {
            return Err(std::io::Error::other("injected: fdatasync failed"));
        }
        self.file.sync_data()?;
        self.end += rec.len() as u64;
        self.seq += 1;
        Ok(())
    }

    /// Whether the next group should be a checkpoint.
    pub(super) fn due(&self) -> bool {
        self.spoiled || self.end >= CHECKPOINT_BYTES || (self.seq > 0 && self.since.elapsed() >= CHECKPOINT_EVERY)
    }

    /// After a failed append: what reached the file is in doubt, so the record is overwritten
    /// (best effort) and nothing more is appended under this epoch; the caller checkpoints.
    pub(super) fn spoil(&mut self) {
        self.spoiled = true;
        let _ = self.file.write_all_at(&[0; 4], self.end).and_then(|()| self.file.sync_data());
    }

    /// After a durable commit that stored `epoch`: the log starts again, empty, under it.
    pub(super) fn restart(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.seq = 0;
        self.end = 0;
        self.spoiled = false;
        self.since = std::time::Instant::now();
    }

    /// Bytes of log since the last checkpoint.
    pub(super) fn len(&self) -> u64 {
        self.end
    }
}

/// The payloads of the valid records of `epoch` from the file's start, in order, and the
/// offset where reading stopped.
fn read_records(b: &[u8], epoch: u64) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((payload, next)) = record_at(b, at, epoch, out.len() as u64) {
        out.push(payload.to_vec());
        at = next;
    }
    (out, at)
}

/// The valid record of `epoch` numbered `seq` at offset `at`: its payload and where it ends.
fn record_at(b: &[u8], at: usize, epoch: u64, seq: u64) -> Option<(&[u8], usize)> {
    let head = b.get(at..at.checked_add(HEADER)?)?;
    let field = |r: std::ops::Range<usize>| head.get(r).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes);
    if head[..4] != MAGIC || field(4..12) != Some(epoch) || field(12..20) != Some(seq) {
        return None;
    }
    let len = u32::from_le_bytes([head[20], head[21], head[22], head[23]]) as usize;
    let start = at + HEADER;
    let payload = b.get(start..start.checked_add(len)?)?;
    let tag = b.get(start + len..start + len + TAG)?;
    let mut h = Sha256::new();
    h.update(head);
    h.update(payload);
    (h.finalize()[..TAG] == *tag).then_some((payload, start + len + TAG))
}

/// Whether a valid record of `epoch` with a sequence number above `seq` lies after `from`.
fn later_record(b: &[u8], from: usize, epoch: u64, seq: u64) -> bool {
    let mut needle = MAGIC.to_vec();
    needle.extend_from_slice(&epoch.to_le_bytes());
    let mut at = from;
    while let Some(i) = b.get(at..).and_then(|rest| rest.windows(needle.len()).position(|w| w == needle.as_slice())) {
        let pos = at + i;
        let later = b
            .get(pos + 12..pos + 20)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
            .is_some_and(|n| n > seq && record_at(b, pos, epoch, n).is_some());
        if later {
            return true;
        }
        at = pos + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn payload(n: u8) -> Vec<u8> {
        let mut p = Vec::new();
        put(&mut p, "apps", &[n; 3], &[n; 40]);
        remove(&mut p, "codes", &[n, 1]);
        p
    }

    #[test]
    fn ops_round_trip() {
        let p = payload(7);
        assert_eq!(
            ops(&p).unwrap(),
            vec![
                Op { table: "apps", key: &[7; 3], value: Some(&[7; 40]) },
                Op { table: "codes", key: &[7, 1], value: None }
            ]
        );
        assert!(ops(&p[..p.len() - 1]).is_none());
        assert!(ops(&[9, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn records_of_the_epoch_are_read_back_and_reading_stops_at_a_torn_or_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.wal");
        let (mut wal, old) = Wal::open(&path, 1).unwrap();
        assert!(old.is_empty());
        for n in 0..5 {
            wal.append(&payload(n)).unwrap();
        }
        let full = std::fs::read(&path).unwrap();
        assert_eq!(Wal::open(&path, 1).unwrap().1, (0..5).map(payload).collect::<Vec<_>>());
        // Another epoch's view: nothing (a checkpoint happened since these were written).
        assert!(Wal::open(&path, 2).unwrap().1.is_empty());

        // A torn last record: the four before it.
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        assert_eq!(Wal::open(&path, 1).unwrap().1.len(), 4);
        // A flipped bit in the third of five: acknowledged records follow the damage, so the
        // log refuses to open instead of dropping them.
        let mut bad = full.clone();
        let third = 2 * (HEADER + payload(0).len() + TAG) + HEADER + 5;
        bad[third] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let e = Wal::open(&path, 1).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("damaged after record 2"), "{e}");
        // The same damage in the last record is a torn tail: the four before it.
        let mut bad = full.clone();
        bad[full.len() - 5] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(Wal::open(&path, 1).unwrap().1.len(), 4);

        // After a checkpoint the log is overwritten from its start under the new epoch; the
        // old epoch's records behind the new ones are not read.
        std::fs::write(&path, &full).unwrap();
        let (mut wal, _) = Wal::open(&path, 1).unwrap();
        wal.restart(2);
        wal.append(&payload(9)).unwrap();
        assert_eq!(Wal::open(&path, 2).unwrap().1, vec![payload(9)]);
        // A database still at the old epoch beside that log lost a durable checkpoint (its
        // first record is gone, later ones remain): refused, not half applied.
        assert_eq!(Wal::open(&path, 1).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn appending_continues_after_the_records_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issuer.wal");
        let (mut wal, _) = Wal::open(&path, 3).unwrap();
        wal.append(&payload(1)).unwrap();
        drop(wal);
        let (mut wal, old) = Wal::open(&path, 3).unwrap();
        assert_eq!(old.len(), 1);
        wal.append(&payload(2)).unwrap();
        assert_eq!(Wal::open(&path, 3).unwrap().1, vec![payload(1), payload(2)]);
        assert!(wal.len() > 0 && !wal.due());
    }
}
