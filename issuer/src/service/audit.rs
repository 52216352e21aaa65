//! An audit log you can prove: the hash chain the engines keep ([`crate::store::audit_chain`]),
//! its head signed periodically with this node's signing key (a checkpoint, itself an audit
//! entry), and the verification that names the first entry changed, removed or moved.
//!
//! A checkpoint's detail is JSON: the sequence number and hash it covers, the key id, and an
//! Ed25519 signature over `vneid-audit-checkpoint-v1\0`, the sequence number (8 bytes,
//! big-endian), the hash (32 bytes) and the entry's `at` (8 bytes). Someone who can write to the
//! store but holds no issuer key can rewrite the chain after an edit, but not the signed
//! checkpoints after it: verification recomputes the chain and checks every checkpoint against
//! it. Each checkpoint is also logged (sequence number and hash), so a copy of the heads lives
//! outside the store: a log that ends before a logged head was cut short.
//!
//! Verification takes the keys a checkpoint may be signed with from the trust list the store
//! holds, checked against the root key (so a key slipped into the store's key table signs
//! nothing), and from the node's own keystore.

use std::collections::{BTreeMap, VecDeque};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{require, Principal, Result, Service, ServiceError};
use crate::store::audit_chain::{Problem, Walker};
use crate::store::{AuditEntry, AuditLink, Digest, Role, Store, StoreError};

/// The action of a checkpoint entry.
pub const CHECKPOINT: &str = "audit.checkpoint";

/// Checkpoints verify against the chain's hashes this far back at most.
const REACH: usize = 1 << 16;

/// A checkpoint entry's detail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: Digest,
    pub kid: String,
    pub sig: String,
}

/// What a checkpoint signs.
pub fn checkpoint_message(seq: u64, hash: &Digest, at: u64) -> Vec<u8> {
    let mut m = b"vneid-audit-checkpoint-v1\0".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&hash.0);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

/// The first problem verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Finding {
    /// The chain itself.
    Chain { problem: Problem },
    /// A checkpoint (the entry at `seq`): its signature, key, or the hash it covers.
    Checkpoint { seq: u64, why: &'static str },
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// Entries written before the chain existed (no link), at the start of the log.
    pub before_chain: u64,
    pub head: Option<AuditLink>,
    pub checkpoints: u64,
    /// Whether the checkpoints' signatures were checked (no keys at hand: only their hashes).
    pub signatures_checked: bool,
    /// The sequence number the newest valid checkpoint covers.
    pub last_checkpoint: Option<u64>,
    pub first_problem: Option<Finding>,
}

/// Recomputes the whole chain of `store` and checks every checkpoint with `keys` (`None`: the
/// hashes checkpoints cover are checked, not their signatures; the report says so).
pub async fn verify(
    store: &dyn Store,
    keys: Option<&[verifier::TrustedKey]>,
) -> std::result::Result<Report, StoreError> {
    let head = store.audit_head().await?;
    let mut walker = Walker::default();
    let mut recent: VecDeque<(u64, Digest)> = VecDeque::new();
    let mut by_seq: BTreeMap<u64, Digest> = BTreeMap::new();
    let mut report = Report {
        ok: false,
        entries: 0,
        before_chain: 0,
        head,
        checkpoints: 0,
        signatures_checked: keys.is_some(),
        last_checkpoint: None,
        first_problem: None,
    };
    let mut after = None;
    'pages: loop {
        let page = store.audit_page(after, 1000).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (seq, entry) in page {
            report.entries += 1;
            walker.push(seq, &entry);
            if let Some(p) = &walker.problem {
                report.first_problem = Some(Finding::Chain { problem: p.clone() });
                break 'pages;
            }
            if let Some(link) = entry.link {
                recent.push_back((seq, link.hash));
                by_seq.insert(seq, link.hash);
                if recent.len() > REACH {
                    if let Some((old, _)) = recent.pop_front() {
                        by_seq.remove(&old);
                    }
                }
            }
            if entry.action == CHECKPOINT {
                report.checkpoints += 1;
                match check_checkpoint(&entry, &by_seq, keys) {
                    Ok(covered) => report.last_checkpoint = Some(covered),
                    Err(why) => {
                        report.first_problem = Some(Finding::Checkpoint { seq, why });
                        break 'pages;
                    }
                }
            }
        }
    }
    if report.first_problem.is_none() {
        walker.finish(report.head.as_ref());
        if let Some(p) = &walker.problem {
            report.first_problem = Some(Finding::Chain { problem: p.clone() });
        }
    }
    report.before_chain = walker.legacy;
    report.ok = report.first_problem.is_none();
    Ok(report)
}

fn check_checkpoint(
    entry: &AuditEntry,
    by_seq: &BTreeMap<u64, Digest>,
    keys: Option<&[verifier::TrustedKey]>,
) -> std::result::Result<u64, &'static str> {
    let cp: Checkpoint =
        entry.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()).ok_or("malformed checkpoint")?;
    let hash = by_seq.get(&cp.seq).ok_or("covers an entry out of reach")?;
    if *hash != cp.hash {
        return Err("the chain's hash differs from the signed one");
    }
    let Some(keys) = keys else { return Ok(cp.seq) };
    let key = keys.iter().find(|k| k.kid.to_string() == cp.kid).ok_or("signed by an unknown key")?;
    let sig = B64.decode(&cp.sig).map_err(|_| "malformed signature")?;
    let ok = verifier::build::crypto::Ed25519Key::from_public(&key.x)
        .is_some_and(|k| k.verify(&checkpoint_message(cp.seq, &cp.hash, entry.at), &sig));
    if ok {
        Ok(cp.seq)
    } else {
        Err("the signature does not verify")
    }
}

/// The keys checkpoints may be signed with: those of the trust list in `store`, if it verifies
/// under `root`, and `own` (a keystore's records).
pub async fn verification_keys(
    store: &dyn Store,
    root: Option<&verifier::PublicKey>,
    own: Vec<verifier::TrustedKey>,
) -> std::result::Result<Vec<verifier::TrustedKey>, StoreError> {
    let mut keys = own;
    if let (Some(root), Some(list)) = (root, store.trust_list().await?) {
        match verifier::TrustList::verify(&list.jws, root) {
            Ok(list) => keys.extend(list.keys),
            Err(e) => tracing::warn!(error = %e, "the stored trust list does not verify under the root key"),
        }
    }
    Ok(keys)
}

impl Service {
    /// Signs the audit chain's head, unless the newest entry is a checkpoint already. Returns
    /// the sequence number covered.
    pub async fn checkpoint_audit(&self) -> Result<Option<u64>> {
        let Some(head) = self.store.audit_head().await? else { return Ok(None) };
        let newest = self.store.audit_page(Some(head.seq.saturating_sub(1)), 1).await?;
        if newest.first().is_some_and(|(_, e)| e.action == CHECKPOINT) {
            return Ok(None);
        }
        let signer = self.custody.signer();
        let now = self.now();
        let sig = signer.sign(&checkpoint_message(head.seq, &head.hash, now)).map_err(ServiceError::internal)?;
        let cp = Checkpoint { seq: head.seq, hash: head.hash, kid: signer.kid().to_string(), sig: B64.encode(sig) };
        let detail = serde_json::to_string(&cp).map_err(ServiceError::internal)?;
        self.store
            .append_audit(AuditEntry::new(now, "system", CHECKPOINT, &head.seq.to_string(), Some(detail)))
            .await?;
        tracing::info!(seq = head.seq, hash = %hex::encode(head.hash.0), kid = %cp.kid, "audit checkpoint signed");
        Ok(Some(head.seq))
    }

    /// Signs the audit head every `checkpoint_interval_s` (when it moved), until the service is
    /// dropped.
    pub async fn run_auditor(self: std::sync::Arc<Self>, settings: crate::config::AuditSettings) {
        if settings.checkpoint_interval_s == 0 {
            return;
        }
        let interval = std::time::Duration::from_secs(settings.checkpoint_interval_s);
        let weak = std::sync::Arc::downgrade(&self);
        drop(self);
        loop {
            tokio::time::sleep(interval).await;
            let Some(s) = weak.upgrade() else { return };
            if let Err(e) = s.checkpoint_audit().await {
                tracing::warn!(error = %e, "the audit head could not be signed");
            }
        }
    }

    /// Verifies the audit log (admins only): see [`verify`].
    pub async fn verify_audit(&self, who: &Principal) -> Result<Report> {
        require(who, Role::Admin)?;
        let root: Option<verifier::PublicKey> = self.root_public().parse().ok();
        let keys = verification_keys(self.store.as_ref(), root.as_ref(), self.custody.key_records()).await?;
        Ok(verify(self.store.as_ref(), Some(&keys)).await?)
    }
}
