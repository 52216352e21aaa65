//! The audit log as a hash chain.
//!
//! Every entry's [`AuditLink`] holds its sequence number, the hash of the entry before it, and
//! its own hash: SHA-256 over a domain tag, the sequence number, the previous hash and the
//! entry's content in canonical JSON (keys sorted, no spaces, the link itself left out). The
//! embedded engine computes the link inside the transaction that appends the entry (its one
//! writer), so links follow commit order. PostgreSQL stages the entry with its change and a
//! chainer links staged entries a moment later, holding the chain's head row, in the order it
//! finds them committed (`store::postgres`).
//!
//! What the chain proves: an entry edited afterwards no longer matches its hash; an entry
//! removed leaves the next one pointing at a hash nothing has; entries moved (or swapped) sit
//! at a sequence number that is not the one they were hashed with, or point at an entry that
//! is not the one before them. What it does not prove alone: someone with write access who
//! rewrites the whole chain from the edit onwards. Signed checkpoints close that gap
//! (`service::audit`): the head is signed periodically with an issuer key, and the rewrite
//! would have to forge the signatures of every checkpoint after the edit.

use sha2::{Digest as _, Sha256};

use super::{AuditEntry, AuditLink, Digest};

/// The hash before the first entry.
pub const GENESIS: Digest = Digest([0; 32]);

const DOMAIN: &[u8] = b"vneid-audit-v1\0";

/// The entry's content as hashed: canonical JSON of everything but its link.
pub fn canonical(entry: &AuditEntry) -> Vec<u8> {
    canonical_value(serde_json::to_value(entry).unwrap_or(serde_json::Value::Null))
}

/// [`canonical`] of an entry as JSON (as stored): every field it holds, the link left out.
pub fn canonical_value(mut v: serde_json::Value) -> Vec<u8> {
    if let Some(m) = v.as_object_mut() {
        m.remove("link");
    }
    verifier::build::jws::canonical_json(&v)
}

/// The hash of `entry` at `seq` after `prev`.
pub fn entry_hash(seq: u64, prev: &Digest, entry: &AuditEntry) -> Digest {
    hash_canonical(seq, prev, &canonical(entry))
}

/// The hash of an entry whose [`canonical`] form is `content`, at `seq` after `prev`.
pub fn hash_canonical(seq: u64, prev: &Digest, content: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(prev.0);
    h.update(content);
    Digest(h.finalize().into())
}

/// Links `entry` as number `seq` after the entry whose hash is `prev` ([`GENESIS`] for the
/// first).
pub fn link(seq: u64, prev: Digest, entry: &mut AuditEntry) -> AuditLink {
    let link = AuditLink { seq, prev, hash: entry_hash(seq, &prev, entry) };
    entry.link = Some(link);
    link
}

/// The first thing wrong with a chain, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The entry at `seq` is not what was hashed when it was written.
    Changed { seq: u64 },
    /// Entries are missing: the entry at `seq` follows one that is not there (or, with
    /// `at_end`, the log ends before a head or checkpoint that names a later entry).
    Removed { seq: u64, at_end: bool },
    /// The entry at `seq` was written at another place (`written_as`), or points at an entry
    /// that is not the one before it.
    Reordered { seq: u64, written_as: u64 },
    /// The entry at `seq` has no link although entries before it have one.
    Unlinked { seq: u64 },
}

impl Problem {
    pub fn seq(&self) -> u64 {
        match self {
            Problem::Changed { seq }
            | Problem::Removed { seq, .. }
            | Problem::Reordered { seq, .. }
            | Problem::Unlinked { seq } => *seq,
        }
    }
}

/// Walks a chain page by page ([`Walker::push`] each entry in sequence order), keeping what
/// checkpoints need: the recomputed hash at every sequence number a checkpoint names.
#[derive(Debug, Default)]
pub struct Walker {
    /// Entries written before the chain existed (no link, at the start of the log).
    pub legacy: u64,
    /// Entries checked.
    pub linked: u64,
    pub problem: Option<Problem>,
    /// The last link checked.
    pub last: Option<AuditLink>,
    seen: std::collections::HashSet<Digest>,
    /// Recomputed hash by sequence number, for the sequence numbers asked about.
    wanted: std::collections::HashMap<u64, Option<Digest>>,
}

impl Walker {
    /// Also remember the chain's hash at `seq` (a checkpoint to check later).
    pub fn want(&mut self, seq: u64) {
        self.wanted.entry(seq).or_insert(None);
    }

    /// The recomputed hash at `seq`, if it was wanted and reached.
    pub fn hash_at(&self, seq: u64) -> Option<Digest> {
        self.wanted.get(&seq).copied().flatten()
    }

    /// Checks the entry stored under `seq`; stops at the first problem.
    pub fn push(&mut self, seq: u64, entry: &AuditEntry) {
        if self.problem.is_some() {
            return;
        }
        let Some(link) = entry.link else {
            if self.last.is_none() {
                self.legacy += 1;
            } else {
                self.problem = Some(Problem::Unlinked { seq });
            }
            return;
        };
        let expected_prev = self.last.map_or(GENESIS, |l| l.hash);
        if entry_hash(link.seq, &link.prev, entry) != link.hash {
            self.problem = Some(Problem::Changed { seq });
        } else if link.seq != seq {
            self.problem = Some(Problem::Reordered { seq, written_as: link.seq });
        } else if link.prev != expected_prev {
            self.problem = Some(if self.seen.contains(&link.prev) {
                Problem::Reordered { seq, written_as: link.seq }
            } else {
                Problem::Removed { seq, at_end: false }
            });
        }
        if self.problem.is_some() {
            return;
        }
        self.seen.insert(link.hash);
        if let Some(slot) = self.wanted.get_mut(&seq) {
            *slot = Some(link.hash);
        }
        self.linked += 1;
        self.last = Some(link);
    }

    /// After the last entry: the chain must reach `head` (the store's record of its newest
    /// link), else entries at the end were removed.
    pub fn finish(&mut self, head: Option<&AuditLink>) {
        if self.problem.is_some() {
            return;
        }
        if let Some(head) = head {
            let reached = self.last.is_some_and(|l| l.seq >= head.seq);
            if !reached {
                let seq = self.last.map_or(1, |l| l.seq + 1);
                self.problem = Some(Problem::Removed { seq, at_end: true });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<(u64, AuditEntry)> {
        let mut out: Vec<(u64, AuditEntry)> = Vec::new();
        for seq in 1..=n {
            let mut e = AuditEntry::new(seq, "t", "a", &seq.to_string(), None);
            let prev = out.last().and_then(|(_, e)| e.link).map_or(GENESIS, |l| l.hash);
            link(seq, prev, &mut e);
            out.push((seq, e));
        }
        out
    }

    fn walk(entries: &[(u64, AuditEntry)]) -> Option<Problem> {
        let head = entries.iter().filter_map(|(_, e)| e.link).max_by_key(|l| l.seq);
        let mut w = Walker::default();
        for (seq, e) in entries {
            w.push(*seq, e);
        }
        w.finish(head.as_ref());
        w.problem
    }

    #[test]
    fn an_intact_chain_verifies_and_every_tampering_is_named() {
        let c = chain(6);
        assert_eq!(walk(&c), None);
        let mut edited = c.clone();
        edited[2].1.action = "x".into();
        assert_eq!(walk(&edited), Some(Problem::Changed { seq: 3 }));
        let mut removed = c.clone();
        removed.remove(3);
        assert_eq!(walk(&removed), Some(Problem::Removed { seq: 5, at_end: false }));
        // Two entries swapped with their links: each sits where it was not written.
        let mut swapped = c.clone();
        let (a, b) = (swapped[1].1.clone(), swapped[2].1.clone());
        swapped[1].1 = b;
        swapped[2].1 = a;
        assert_eq!(walk(&swapped), Some(Problem::Reordered { seq: 2, written_as: 3 }));
        // The tail cut off, the head still naming the last entry.
        let mut w = Walker::default();
        for (seq, e) in &c[..4] {
            w.push(*seq, e);
        }
        w.finish(c[5].1.link.as_ref());
        assert_eq!(w.problem, Some(Problem::Removed { seq: 5, at_end: true }));
    }
}
