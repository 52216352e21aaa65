//! Key custody use cases: the admin's view of every key (state, periods, days left, warnings),
//! the rule that a `next` key signs only once verifiers can know it, the rotation warnings, and,
//! in production mode, the trust list that is prepared here and signed offline.
//!
//! - **First publication.** Every trust list is stored together with the first-publication time
//!   of each key it names for the first time ([`Store::publish_trust_list_naming`]): in
//!   development when the node signs it, in production when the admin uploads it signed. A
//!   `next` key is activated only `sync_interval` after that (`keys::check_activation`), unless
//!   forced as an emergency, which is audited as such (`key.activated_emergency`).
//! - **Warnings.** `keys::rotation_report` over every node's published keys: a node whose active
//!   key stops signing within `warn_before`, has stopped, or has no active key. This node's own
//!   warnings are logged (hourly while they last) and audited once each (`key.rotation_warning`);
//!   the admin API shows them all.
//! - **Offline root (production).** `GET /v1/admin/trust-list/pending` prepares the next list
//!   (keys, states, periods, status lists, a higher `seq`) and keeps it in the store, so any node
//!   checks the upload against the same list; it stays the same until what it lists changes.
//!   `POST /v1/admin/trust-list` takes the list signed by `keys trust-list sign` and publishes it
//!   only if it verifies under the pinned root and is exactly the prepared list
//!   (`keys::accept_signed_trust_list`). Refusals are audited (`trust_list.refused`).
//!
//! [`Store::publish_trust_list_naming`]: crate::store::Store::publish_trust_list_naming

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::keys::{Activation, KeyError, KeyRecord, KeyRole, RotationWarning};
use serde::{Deserialize, Serialize};
use verifier::{KeyId, KeyState, StatusListRef, TrustList, TrustedKey};

use super::publish::TRUST_LIST_PERIOD;
use super::{require, Principal, Reason, Result, Service, ServiceError};
use crate::store::{AuditEntry, PublishedTrustList, Role, StatusListRow};
use crate::unlock::StartEvent;

const DAY: u64 = 86_400;
/// The setting that holds the prepared, unsigned trust list (production mode).
const PENDING: &str = "trust_list/pending";
/// How often the background check looks at the keys, and how often a standing warning is logged
/// again.
const CHECK_EVERY: Duration = Duration::from_secs(60);
const LOG_EVERY: Duration = Duration::from_secs(3600);

/// What the background check remembers: when it last ran, when each warning was last logged.
#[derive(Debug, Default)]
pub struct Watch {
    last_check: Mutex<Option<Instant>>,
    logged: Mutex<BTreeMap<String, Instant>>,
}

/// One key as the admin sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyView {
    pub kid: String,
    /// The node that holds it, as it published it (`default` for a single node).
    pub node: String,
    pub state: KeyState,
    /// The Ed25519 public key, base64url.
    pub x: String,
    pub sign_from: u64,
    pub sign_until: u64,
    pub valid_until: u64,
    /// Whole days until it stops signing (0 once retired or revoked).
    pub signing_days_left: Option<u64>,
    /// Whole days until what it signed stops being valid (0 once revoked).
    pub valid_days_left: Option<u64>,
    /// When it was first in a published trust list.
    pub first_published: Option<u64>,
    /// For a `next` key: when its activation is allowed (first publication + sync interval).
    pub activation_ready_at: Option<u64>,
    /// For this node's keys: `hsm` or `keystore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsm_label: Option<String>,
    /// For this node's HSM keys, as the token reports them: sensitive, never extractable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_extractable: Option<bool>,
}

/// Something about the keys or the trust list the admin should act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyWarning {
    /// `signing_ends_soon`, `signing_ended`, `no_active_key`, `trust_list_missing`,
    /// `trust_list_outdated`, `trust_list_due`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<u64>,
    /// The moment it is about: the end of the signing period, or the trust list's `next_update`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// English, for the log and the admin.
    pub message: String,
}

/// Every key, the warnings, and how this node holds its keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyReport {
    /// `development` or `production`.
    pub mode: String,
    /// Where this node makes new signing keys: `hsm` or `keystore`.
    pub backend: String,
    pub root_key: String,
    pub warn_before: u64,
    pub sync_interval: u64,
    pub keys: Vec<KeyView>,
    pub warnings: Vec<KeyWarning>,
}

/// How an activation went: planned, or forced before verifiers could all know the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationCheck {
    pub activation: Activation,
    pub first_published: Option<u64>,
}

fn warning(w: &RotationWarning, now: u64) -> KeyWarning {
    let node = |n: &Option<String>| Some(n.clone().unwrap_or_else(|| "default".into()));
    let (code, kid, node, days_left, at) = match w {
        RotationWarning::SigningEndsSoon { kid, node: n, sign_until, days_left, .. } => {
            ("signing_ends_soon", Some(kid.to_string()), node(n), Some(*days_left), Some(*sign_until))
        }
        RotationWarning::SigningEnded { kid, node: n, sign_until } => {
            ("signing_ended", Some(kid.to_string()), node(n), Some(0), Some(*sign_until))
        }
        RotationWarning::NoActiveKey { node: n } => ("no_active_key", None, node(n), None, None),
        // A kind `keys` adds later still reaches the admin, under a generic code.
        _ => ("rotation", None, None, None, Some(now)),
    };
    KeyWarning { code: code.into(), kid, node, days_left, at, message: w.to_string() }
}

/// A published key as a record `keys::rotation_report` reads.
fn as_record(k: &TrustedKey) -> KeyRecord {
    KeyRecord {
        kid: k.kid.clone(),
        role: KeyRole::Signing,
        public_key: k.x,
        state: k.state,
        created_at: k.sign_from,
        sign_from: k.sign_from,
        sign_until: k.sign_until,
        valid_until: k.valid_until,
        node: k.node.clone(),
        hsm_label: None,
    }
}

impl Service {
    /// Audits the key events of the start (first keys generated, activated).
    pub async fn audit_start(&self, events: &[StartEvent]) -> Result<()> {
        let now = self.now();
        for e in events {
            let detail = format!("node={} {}", self.custody.node(), e.detail);
            self.store.append_audit(AuditEntry::new(now, "system", e.action, &e.subject, Some(detail))).await?;
        }
        Ok(())
    }

    /// When each key was first in a published trust list.
    async fn first_published(&self) -> Result<BTreeMap<String, u64>> {
        Ok(self.store.keys_first_published().await?.into_iter().collect())
    }

    /// Every node's keys with their periods, days left and first publication, and the warnings;
    /// this node's own warnings are audited (once each) on the way.
    pub async fn key_report(&self, who: &Principal) -> Result<KeyReport> {
        require(who, Role::Admin)?;
        let now = self.now();
        let policy = self.settings.rotation;
        let published = self.store.keys().await?;
        let first = self.first_published().await?;
        let records: Vec<KeyRecord> = published.iter().map(|(_, k)| as_record(k)).collect();
        let report = ::keys::rotation_report(&records, now, &policy);
        let mine: BTreeMap<String, KeyRecord> =
            self.custody.records().into_iter().map(|r| (r.kid.to_string(), r)).collect();
        let mut keys = Vec::with_capacity(published.len());
        for ((node, k), status) in published.iter().zip(&report.keys) {
            let kid = k.kid.to_string();
            let first_published = first.get(&kid).copied();
            let own = mine.get(&kid);
            let non_extractable = match self.custody.hsm_protection(&k.kid) {
                Some(Ok(p)) => Some(p.is_non_extractable()),
                Some(Err(e)) => {
                    tracing::error!(kid = %k.kid, error = %e, "cannot read the HSM key's protection");
                    None
                }
                None => None,
            };
            keys.push(KeyView {
                kid,
                node: node.clone(),
                state: k.state,
                x: k.x.to_string(),
                sign_from: k.sign_from,
                sign_until: k.sign_until,
                valid_until: k.valid_until,
                signing_days_left: status.signing_days_left,
                valid_days_left: status.valid_days_left,
                first_published,
                activation_ready_at: (k.state == KeyState::Next)
                    .then(|| first_published.map(|t| t.saturating_add(policy.sync_interval)))
                    .flatten(),
                custody: own.map(|r| if r.hsm_label.is_some() { "hsm" } else { "keystore" }.to_owned()),
                hsm_label: own.and_then(|r| r.hsm_label.clone()),
                non_extractable,
            });
        }
        let mut warnings: Vec<KeyWarning> = report.warnings.iter().map(|w| warning(w, now)).collect();
        warnings.extend(self.trust_list_warnings(now).await?);
        self.check_rotation().await?;
        Ok(KeyReport {
            mode: if self.custody.is_production() { "production" } else { "development" }.into(),
            backend: self.custody.backend().into(),
            root_key: self.root_public(),
            warn_before: policy.warn_before,
            sync_interval: policy.sync_interval,
            keys,
            warnings,
        })
    }

    /// This node's rotation warnings: each is audited once (`key.rotation_warning`) and logged
    /// at most hourly while it lasts.
    pub async fn check_rotation(&self) -> Result<Vec<KeyWarning>> {
        let now = self.now();
        let records: Vec<KeyRecord> =
            self.custody.records().into_iter().filter(|r| r.role == KeyRole::Signing).collect();
        let report = ::keys::rotation_report(&records, now, &self.settings.rotation);
        let warnings: Vec<KeyWarning> = report.warnings.iter().map(|w| warning(w, now)).collect();
        for w in &warnings {
            let subject = w.kid.clone().unwrap_or_else(|| self.custody.node().to_owned());
            self.log_warning(&format!("{}/{subject}", w.code), &w.message);
            let key = format!("rotation_warning/{}/{subject}", w.code);
            if self.store.setting(&key).await?.is_none() {
                let audit = AuditEntry::new(
                    now,
                    "system",
                    "key.rotation_warning",
                    &subject,
                    Some(format!("node={} {}: {}", self.custody.node(), w.code, w.message)),
                );
                self.store.put_setting(&key, now.to_be_bytes().to_vec(), Some(audit)).await?;
            }
        }
        Ok(warnings)
    }

    fn log_warning(&self, key: &str, message: &str) {
        let mut logged = self.key_watch.logged.lock().unwrap_or_else(|p| p.into_inner());
        if logged.get(key).is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::warn!(warning = key, "{message}");
            logged.insert(key.to_owned(), Instant::now());
        }
    }

    /// The background look at the keys (from the publisher, about once a minute): rotation
    /// warnings, and in production the trust list reminders.
    pub async fn watch_keys(&self) {
        {
            let mut last = self.key_watch.last_check.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < CHECK_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        if let Err(e) = self.check_rotation().await {
            tracing::error!(error = %e, "checking the signing keys failed");
        }
        match self.trust_list_warnings(self.now()).await {
            Ok(ws) => {
                for w in ws {
                    self.log_warning(&w.code, &w.message);
                }
            }
            Err(e) => tracing::error!(error = %e, "checking the trust list failed"),
        }
    }

    /// Production: the published trust list is missing, no longer lists what the store holds
    /// (keys, states, status lists), or reaches its `next_update` within two days.
    async fn trust_list_warnings(&self, now: u64) -> Result<Vec<KeyWarning>> {
        let Some(root) = self.custody.root_public_key().filter(|_| self.custody.is_production()) else {
            return Ok(Vec::new());
        };
        let w = |code: &str, at: Option<u64>, message: String| KeyWarning {
            code: code.into(),
            kid: None,
            node: None,
            days_left: at.map(|t| t.saturating_sub(now) / DAY),
            at,
            message,
        };
        let Some(stored) = self.store.trust_list().await? else {
            return Ok(vec![w(
                "trust_list_missing",
                None,
                "no trust list is published: verifiers cannot sync until one signed offline is uploaded".into(),
            )]);
        };
        let list = TrustList::verify(&stored.jws, &root).map_err(ServiceError::internal)?;
        let mut out = Vec::new();
        let (keys, lists) = self.trust_content().await?;
        if list.keys != keys || list.status_lists != lists {
            out.push(w(
                "trust_list_outdated",
                None,
                "the keys or status lists changed since the published trust list: prepare, sign and upload a new one"
                    .into(),
            ));
        }
        if now.saturating_add(2 * DAY) >= list.next_update {
            out.push(w(
                "trust_list_due",
                Some(list.next_update),
                format!("the published trust list (seq {}) must be replaced by its next_update", list.seq),
            ));
        }
        Ok(out)
    }

    /// What the next trust list lists: every node's keys, and the status lists.
    async fn trust_content(&self) -> Result<(Vec<TrustedKey>, Vec<StatusListRef>)> {
        let keys = self.store.keys().await?.into_iter().map(|(_, k)| k).collect();
        let lists = self.store.status_lists().await?;
        Ok((keys, self.status_refs(&lists)))
    }

    fn status_refs(&self, lists: &[StatusListRow]) -> Vec<StatusListRef> {
        lists.iter().map(|l| StatusListRef { id: l.id, uri: self.status_uri(l.id) }).collect()
    }

    /// The trust list for these keys and lists, issued `now`, valid a publication period.
    pub(crate) fn build_trust_list(
        &self,
        keys: Vec<TrustedKey>,
        lists: &[StatusListRow],
        seq: u64,
        now: u64,
    ) -> TrustList {
        TrustList {
            v: 1,
            issuer: self.issuer_url().to_owned(),
            seq,
            issued_at: now,
            next_update: now + TRUST_LIST_PERIOD,
            keys,
            status_lists: self.status_refs(lists),
        }
    }

    /// Development: signs `list` with the root key on this node and publishes it, recording the
    /// first publication of the keys it names. `false` when a newer list was published first.
    pub(crate) async fn publish_signed_here(&self, list: &TrustList, now: u64) -> Result<bool> {
        let jws = self.custody.sign_trust_list(list)?;
        let kids = list.keys.iter().map(|k| k.kid.to_string()).collect();
        let audit = AuditEntry::new(
            now,
            "system",
            "trust_list.published",
            &list.seq.to_string(),
            Some(format!("signed=node node={} keys={}", self.custody.node(), list.keys.len())),
        );
        Ok(self.store.publish_trust_list_naming(PublishedTrustList { seq: list.seq, jws }, kids, now, audit).await?)
    }

    /// The rule for activating this node's `next` key `kid` now: published for the sync
    /// interval, or `force`d (an emergency). Refusals: `key_not_synced` (with when it becomes
    /// possible), `key_transition_refused`.
    pub(crate) async fn check_activation(&self, kid: &KeyId, force: bool) -> Result<ActivationCheck> {
        let record = self.custody.record(kid).ok_or(ServiceError::NotFound)?;
        let first_published = self.first_published().await?.get(&kid.to_string()).copied();
        match ::keys::check_activation(&record, first_published, self.now(), &self.settings.rotation, force) {
            Ok(activation) => Ok(ActivationCheck { activation, first_published }),
            Err(KeyError::NotYetSynced { ready_at, first_published, .. }) => {
                let mut r = Reason::new("key_not_synced")
                    .arg("sync_interval", self.settings.rotation.sync_interval.to_string());
                if let Some(t) = first_published {
                    r = r.arg("first_published", t.to_string());
                }
                if let Some(t) = ready_at {
                    r = r.arg("ready_at", t.to_string());
                }
                Err(ServiceError::Conflict(r))
            }
            Err(e) => Err(ServiceError::Conflict(Reason::new("key_transition_refused").arg("detail", e.to_string()))),
        }
    }

    async fn stored_pending(&self) -> Result<Option<TrustList>> {
        match self.store.setting(PENDING).await? {
            Some(b) => Ok(Some(
                serde_json::from_slice(&b)
                    .map_err(|_| ServiceError::internal("the prepared trust list does not parse"))?,
            )),
            None => Ok(None),
        }
    }

    fn require_production(&self) -> Result<()> {
        if self.custody.is_production() {
            Ok(())
        } else {
            Err(ServiceError::conflict("trust_list_signed_here"))
        }
    }

    /// Production: the next trust list, unsigned, as `keys trust-list sign` takes it. The same
    /// list is returned (by any node) until what it lists changes, it is published, or it comes
    /// within a day of its `next_update`; then a new one is prepared (and audited).
    pub async fn pending_trust_list(&self, who: &Principal) -> Result<TrustList> {
        require(who, Role::Admin)?;
        self.require_production()?;
        // This node's keys and the status lists into the store first.
        self.publish(false).await?;
        let now = self.now();
        let (keys, status_lists) = self.trust_content().await?;
        let published_seq = self.store.trust_list().await?.map_or(0, |t| t.seq);
        let pending = self.stored_pending().await?;
        if let Some(p) = &pending {
            let same = p.keys == keys && p.status_lists == status_lists && p.issuer == self.issuer_url();
            if same && p.seq > published_seq && p.issued_at <= now && now.saturating_add(DAY) < p.next_update {
                return Ok(p.clone());
            }
        }
        let seq = now.max(published_seq + 1).max(pending.as_ref().map_or(0, |p| p.seq + 1));
        let list = TrustList {
            v: 1,
            issuer: self.issuer_url().to_owned(),
            seq,
            issued_at: now,
            next_update: now + TRUST_LIST_PERIOD,
            keys,
            status_lists,
        };
        list.validate().map_err(ServiceError::internal)?;
        let audit = AuditEntry::new(
            now,
            who.id.as_str(),
            "trust_list.prepared",
            &seq.to_string(),
            Some(format!("keys={} status_lists={}", list.keys.len(), list.status_lists.len())),
        );
        self.store.put_setting(PENDING, crate::store::to_json(&list), Some(audit)).await?;
        Ok(list)
    }

    /// Production: publishes a trust list signed offline, if it verifies under the pinned root
    /// and is exactly the prepared list; refused (and audited) otherwise: `trust_list_signature`
    /// (another root, or not a valid signed list), `trust_list_mismatch` (not the prepared list),
    /// `trust_list_not_prepared`, `trust_list_outdated` (a newer one is published).
    pub async fn upload_trust_list(&self, who: &Principal, signed: &str) -> Result<TrustList> {
        require(who, Role::Admin)?;
        self.require_production()?;
        let root = self.custody.root_public_key().ok_or_else(|| ServiceError::internal("no pinned root key"))?;
        let pending = self.stored_pending().await?.ok_or_else(|| ServiceError::conflict("trust_list_not_prepared"))?;
        let now = self.now();
        let refuse = |code: &'static str, detail: String| async move {
            tracing::warn!(code, "trust list upload refused: {detail}");
            let audit = AuditEntry::new(now, who.id.as_str(), "trust_list.refused", code, Some(detail.clone()));
            self.store.append_audit(audit).await?;
            Err(ServiceError::refused(code, vec![Reason::new(code).arg("detail", detail)]))
        };
        let list = match ::keys::accept_signed_trust_list(signed, &root, &pending) {
            Ok(list) => list,
            Err(KeyError::TrustList(e)) => {
                return refuse("trust_list_signature", format!("it does not verify under the pinned root key: {e}"))
                    .await
            }
            Err(KeyError::TrustListRefused(why)) => return refuse("trust_list_mismatch", why).await,
            Err(e) => return Err(ServiceError::internal(e)),
        };
        if now > list.next_update {
            return refuse("trust_list_mismatch", format!("its next_update {} is past", list.next_update)).await;
        }
        let kids = list.keys.iter().map(|k| k.kid.to_string()).collect();
        let audit = AuditEntry::new(
            now,
            who.id.as_str(),
            "trust_list.published",
            &list.seq.to_string(),
            Some(format!("signed=offline keys={} status_lists={}", list.keys.len(), list.status_lists.len())),
        );
        let stored = PublishedTrustList { seq: list.seq, jws: signed.trim().to_owned() };
        if !self.store.publish_trust_list_naming(stored, kids, now, audit).await? {
            return Err(ServiceError::conflict("trust_list_outdated"));
        }
        tracing::info!(seq = list.seq, "trust list signed offline published");
        // Serve it at once (other nodes pick it up within a second).
        self.publish(false).await?;
        Ok(list)
    }
}
