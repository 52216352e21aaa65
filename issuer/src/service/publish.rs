//! Publication of the trust list and the status list tokens, off the hot path, and the view of
//! what every node shares through the store (signing keys, status lists, the trust list).
//!
//! Requests never sign: `GET /status-lists/{id}` and the trust list serve tokens from memory.
//! - **Keys.** Each node publishes its own signing keys' public records to the store; the trust
//!   list names every node's keys. A key can be revoked through any node; the node that holds it
//!   stops signing with it.
//! - **Trust list.** Signed by the root when the keys or the status lists change (the store's
//!   keys version moved) and before it ages; stored, so every node serves the newest one.
//!   Development mode signs it with the root key on the node; production keeps the root offline:
//!   the node prepares the list, an admin signs it with `keys trust-list sign` and uploads it
//!   ([`super::keys`]).
//! - **Status lists.** Every node signs the same content (the store's status marks) with its own
//!   key: when a status changed (the store's status version moved), at most once per
//!   [`Settings::publish_interval`](super::Settings::publish_interval); when its key changed; and
//!   before the token ages. Issuing never changes a list (a new credential's status is 0).
//!
//! A background task ([`Service::run_publisher`]) polls the store's versions, which is how
//! changes made through other nodes reach this one within about a second.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use verifier::build::statuslist::StatusList;
use verifier::KeyState;

use super::{Result, Service, ServiceError};
use crate::store::StatusListRow;

/// How long a published trust list claims to hold before the next one.
pub const TRUST_LIST_PERIOD: u64 = 7 * 86_400;
/// Status list tokens stay usable for 8 days, so a landlord who syncs weekly can still decide
/// (docs/formats.md §9: a list is never used past its `exp`); verifiers that can refresh do so
/// hourly (`ttl`), and each kind of verifier has its own freshness limit.
pub const STATUS_EXP: u64 = 8 * 86_400;
pub const STATUS_TTL: u64 = 3_600;

#[derive(Debug, Clone)]
struct StatusToken {
    token: Arc<str>,
    signed_at: u64,
    status_version: u64,
    signer: String,
}

#[derive(Debug, Default)]
struct Snapshot {
    /// The trust list served (the store's newest).
    trust_list: Option<Arc<str>>,
    trust_seq: u64,
    /// The store's keys version the last trust list this node signed was built from.
    signed_keys_version: Option<u64>,
    /// The custody version last published to the store.
    published_custody: u64,
    status: BTreeMap<u32, StatusToken>,
    lists: Vec<StatusListRow>,
    /// Key ids revoked in the store.
    revoked: BTreeSet<String>,
    last_status_signing: Option<Instant>,
}

/// The tokens being served, what the node knows of the shared state, and the lock that makes
/// one task at a time sign.
#[derive(Debug, Default)]
pub struct Published {
    snapshot: RwLock<Snapshot>,
    signing: tokio::sync::Mutex<()>,
}

impl Published {
    fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        f(&self.snapshot.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn write<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> T {
        f(&mut self.snapshot.write().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Service {
    /// The signed trust list being served.
    pub fn trust_list_token(&self) -> Option<Arc<str>> {
        self.published.read(|s| s.trust_list.clone())
    }

    /// The signed status list token being served for list `id`.
    pub fn status_list_token(&self, id: u32) -> Option<Arc<str>> {
        self.published.read(|s| s.status.get(&id).map(|t| t.token.clone()))
    }

    /// The status lists, as last read from the store.
    pub fn status_lists(&self) -> Vec<StatusListRow> {
        self.published.read(|s| s.lists.clone())
    }

    /// Every node's signing keys (public records), for the JWK Set.
    pub async fn public_keys(&self) -> Result<Vec<verifier::TrustedKey>> {
        Ok(self.store.keys().await?.into_iter().map(|(_, k)| k).collect())
    }

    /// Whether a key was revoked through the store (by any node).
    pub fn revoked_in_store(&self, kid: &str) -> bool {
        self.published.read(|s| s.revoked.contains(kid))
    }

    /// Reads the shared state (lists, revocations) and signs again whatever is out of date.
    /// `force` signs everything now.
    pub async fn publish(&self, force: bool) -> Result<()> {
        let _one_at_a_time = self.published.signing.lock().await;
        let now = self.now();
        // This node's keys into the store, when they changed here.
        let custody_version = self.custody.version();
        if self.published.read(|s| s.published_custody) != custody_version {
            self.store.publish_keys(self.custody.node(), self.custody.key_records()).await?;
            self.published.write(|s| s.published_custody = custody_version);
        }
        let keys_version = self.store.keys_version().await?;
        let lists = self.ensure_status_lists().await?;
        let keys = self.store.keys().await?;
        let revoked: BTreeSet<String> =
            keys.iter().filter(|(_, k)| k.state == KeyState::Revoked).map(|(_, k)| k.kid.to_string()).collect();
        self.published.write(|s| {
            s.lists = lists.clone();
            s.revoked = revoked;
        });

        // The trust list: sign a new one if the keys or lists changed since this node last
        // signed, or the stored one is getting old; then serve the newest stored.
        let stored = self.store.trust_list().await?;
        let stale = stored.as_ref().is_none_or(|t| now >= t.seq.saturating_add(TRUST_LIST_PERIOD / 2));
        let changed = self.published.read(|s| s.signed_keys_version != Some(keys_version));
        // Production keeps the root offline: the list is prepared on request and comes back
        // signed (`service::keys`); only development signs here.
        // A failure here must not stop the status lists below from being signed.
        let mut trust_failure = None;
        if (force || stale || changed) && !self.custody.is_production() {
            let seq = now.max(stored.as_ref().map_or(0, |t| t.seq) + 1);
            let list = self.build_trust_list(keys.into_iter().map(|(_, k)| k).collect(), &lists, seq, now);
            match self.publish_signed_here(&list, now).await {
                Ok(true) => {
                    tracing::info!(seq, "trust list signed");
                    self.published.write(|s| s.signed_keys_version = Some(keys_version));
                }
                // Another node stored a newer one: it is served below.
                Ok(false) => self.published.write(|s| s.signed_keys_version = Some(keys_version)),
                Err(e) => {
                    tracing::error!(error = %e, "signing the trust list failed");
                    trust_failure = Some(e);
                }
            }
        }
        if let Some(t) = self.store.trust_list().await? {
            if self.published.read(|s| s.trust_seq != t.seq) {
                self.published.write(|s| {
                    s.trust_seq = t.seq;
                    s.trust_list = Some(t.jws.into());
                });
            }
        }

        // Status lists, signed with this node's key, while verifiers would accept what it signs:
        // a key revoked through the store, or past its signing period, signs nothing more (the
        // tokens already served age out; `/healthz` and the key report say why).
        if let Err(e) = self.signer_for(now) {
            tracing::error!(error = %e, "not signing status lists: this node's key cannot sign");
            return trust_failure.map_or(Ok(()), Err);
        }
        let status_version = self.store.status_version().await?;
        let signer = self.custody.signer().kid().to_string();
        let last_signing = self.published.read(|s| s.last_status_signing);
        let interval_passed = last_signing.is_none_or(|t| t.elapsed() >= self.settings.publish_interval);
        for list in &lists {
            let due = self.published.read(|s| match s.status.get(&list.id) {
                None => true,
                Some(t) => {
                    t.signer != signer
                        || now >= t.signed_at + STATUS_TTL / 2
                        || (t.status_version != status_version && interval_passed)
                }
            });
            if force || due {
                self.sign_status_list(list, now, status_version).await?;
            }
        }
        trust_failure.map_or(Ok(()), Err)
    }

    /// The status lists, opening the first one on a fresh store.
    async fn ensure_status_lists(&self) -> Result<Vec<StatusListRow>> {
        let lists = self.store.status_lists().await?;
        if !lists.is_empty() {
            return Ok(lists);
        }
        let audit = crate::store::AuditEntry::new(self.now(), "system", "status_list.opened", "1", None);
        match self.store.open_status_list(1, self.settings.status_capacity, audit).await {
            Ok(()) | Err(crate::store::StoreError::Conflict(crate::store::Conflict::StatusListExists)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(self.store.status_lists().await?)
    }

    async fn sign_status_list(&self, list: &StatusListRow, now: u64, status_version: u64) -> Result<()> {
        let capacity = usize::try_from(list.capacity).map_err(ServiceError::internal)?;
        let mut bits = StatusList::new(2, capacity).ok_or_else(|| ServiceError::internal("status list capacity"))?;
        for (idx, value) in self.store.status_marks(list.id).await? {
            bits.set(idx, value);
        }
        let signer = self.custody.signer();
        let input =
            bits.token_signing_input(signer.kid(), &self.status_uri(list.id), now, now + STATUS_EXP, STATUS_TTL);
        let sig = signer.sign(input.as_bytes()).map_err(ServiceError::internal)?;
        let token: Arc<str> = verifier::build::jws::assemble(&input, &sig).into();
        let kid = signer.kid().to_string();
        self.published.write(|s| {
            s.status.insert(list.id, StatusToken { token, signed_at: now, status_version, signer: kid });
            s.last_status_signing = Some(Instant::now());
        });
        Ok(())
    }

    /// Called after a status change: signs the lists now if the interval allows, else leaves it
    /// to the publisher task. Returns when verifiers will see the change (UNIX seconds).
    pub async fn status_changed(&self) -> Result<u64> {
        let now = self.now();
        let wait = self.published.read(|s| {
            s.last_status_signing.map_or(Duration::ZERO, |t| self.settings.publish_interval.saturating_sub(t.elapsed()))
        });
        if wait.is_zero() {
            self.publish(false).await?;
            Ok(now)
        } else {
            Ok(now + wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        }
    }

    /// The background publisher: re-signs what is out of date, about every interval (at least
    /// every second, so changes made through other nodes and ageing tokens are picked up). Runs
    /// until the service is dropped.
    pub async fn run_publisher(self: Arc<Self>) {
        let tick = self.settings.publish_interval.clamp(Duration::from_millis(100), Duration::from_secs(1));
        let weak = Arc::downgrade(&self);
        drop(self);
        loop {
            tokio::time::sleep(tick).await;
            let Some(s) = weak.upgrade() else { return };
            if let Err(e) = s.publish(false).await {
                tracing::error!(error = %e, "publishing the lists failed; serving the previous tokens");
            }
            s.watch_keys().await;
        }
    }
}
