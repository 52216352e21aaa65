//! Publication of the trust list and the status list tokens, off the hot path.
//!
//! Requests never sign: `GET /status-lists/{id}` and the trust list serve the last signed token
//! from memory. Tokens are signed again
//! - when a key changes (at once: verifiers should learn of a revocation without delay),
//! - when a status changed (the store's status version moved), at most once per
//!   [`Settings::publish_interval`](super::Settings::publish_interval): a burst of revocations
//!   costs one signature, and issuing never invalidates anything (a new credential's status is
//!   0, which every list already says),
//! - before they get old (half their lifetime), so a long-running node never serves a stale list.
//!
//! A background task ([`Service::run_publisher`]) polls the store's status version, which also
//! picks up changes made by other nodes sharing the store.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use verifier::build::statuslist::StatusList;
use verifier::build::trustlist::{StatusListRef, TrustList};

use super::delivery::STATUS_LIST;
use super::{Result, Service, ServiceError};

/// How long a published trust list claims to hold before the next one.
pub const TRUST_LIST_PERIOD: u64 = 7 * 86_400;
/// Status list tokens stay usable for 8 days, so a landlord who syncs weekly can still decide
/// (docs/formats.md §9: a list is never used past its `exp`); verifiers that can refresh do so
/// hourly (`ttl`), and each kind of verifier has its own freshness limit.
pub const STATUS_EXP: u64 = 8 * 86_400;
pub const STATUS_TTL: u64 = 3_600;

const SEQ_SETTING: &str = "trust_list_seq";

#[derive(Debug, Clone)]
struct StatusToken {
    token: Arc<str>,
    signed_at: u64,
    status_version: u64,
    keys_version: u64,
}

#[derive(Debug, Default)]
struct Snapshot {
    trust_list: Option<Arc<str>>,
    trust_signed_at: u64,
    trust_keys_version: u64,
    status: BTreeMap<u32, StatusToken>,
    last_status_signing: Option<Instant>,
}

/// The tokens being served, and the lock that makes one task at a time sign them.
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

    /// The status lists this issuer publishes.
    pub fn status_lists(&self) -> Vec<u32> {
        vec![STATUS_LIST]
    }

    /// Signs again whatever is out of date. `force` signs everything now.
    pub async fn publish(&self, force: bool) -> Result<()> {
        let _one_at_a_time = self.published.signing.lock().await;
        let now = self.now();
        let keys_version = self.custody.version();
        let (trust_due, last_signing) = self.published.read(|s| {
            let due = s.trust_list.is_none()
                || s.trust_keys_version != keys_version
                || now >= s.trust_signed_at + TRUST_LIST_PERIOD / 2;
            (due, s.last_status_signing)
        });
        if force || trust_due {
            self.sign_trust_list(now, keys_version).await?;
        }
        let status_version = self.store.status_version().await?;
        let interval_passed = last_signing.is_none_or(|t| t.elapsed() >= self.settings.publish_interval);
        for list in self.status_lists() {
            let due = self.published.read(|s| match s.status.get(&list) {
                None => true,
                Some(t) => {
                    t.keys_version != keys_version
                        || now >= t.signed_at + STATUS_TTL / 2
                        || (t.status_version != status_version && interval_passed)
                }
            });
            if force || due {
                self.sign_status_list(list, now, status_version, keys_version).await?;
            }
        }
        Ok(())
    }

    async fn sign_trust_list(&self, now: u64, keys_version: u64) -> Result<()> {
        // Strictly increasing, and roughly the publication time, so a restarted node never goes
        // below what it published before.
        let previous = self
            .store
            .setting(SEQ_SETTING)
            .await?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
        let seq = now.max(previous + 1);
        self.store.put_setting(SEQ_SETTING, seq.to_be_bytes().to_vec(), None).await?;
        let list = TrustList {
            v: 1,
            issuer: self.issuer_url().to_owned(),
            seq,
            issued_at: now,
            next_update: now + TRUST_LIST_PERIOD,
            keys: self.custody.key_records(),
            status_lists: self
                .status_lists()
                .into_iter()
                .map(|id| StatusListRef { id, uri: self.status_uri(id) })
                .collect(),
        };
        let signed: Arc<str> = self.custody.sign_trust_list(&list)?.into();
        self.published.write(|s| {
            s.trust_list = Some(signed);
            s.trust_signed_at = now;
            s.trust_keys_version = keys_version;
        });
        tracing::info!(seq, "trust list signed");
        Ok(())
    }

    async fn sign_status_list(&self, id: u32, now: u64, status_version: u64, keys_version: u64) -> Result<()> {
        let capacity = usize::try_from(self.settings.status_capacity).map_err(ServiceError::internal)?;
        let mut list = StatusList::new(2, capacity).ok_or_else(|| ServiceError::internal("status list capacity"))?;
        for (idx, value) in self.store.status_marks(id).await? {
            list.set(idx, value);
        }
        let signer = self.custody.signer();
        let input = list.token_signing_input(signer.kid(), &self.status_uri(id), now, now + STATUS_EXP, STATUS_TTL);
        let sig = signer.sign(input.as_bytes()).map_err(ServiceError::internal)?;
        let token: Arc<str> = verifier::build::jws::assemble(&input, &sig).into();
        self.published.write(|s| {
            s.status.insert(id, StatusToken { token, signed_at: now, status_version, keys_version });
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
    /// every second, so lists changed by other nodes and ageing tokens are picked up). Runs
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
        }
    }
}
