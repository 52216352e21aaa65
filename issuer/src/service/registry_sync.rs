//! The national registry's change feed, applied: a card revoked, expired, replaced or reinstated
//! after issuance reaches the credentials resting on it, the holder is told, officers see it on
//! their point's report, and verifiers see it at their next sync (the status lists change; nothing
//! else is needed offline).
//!
//! **What a change does** is decided in `enrollment::registry_changes` (the rule table); this
//! module finds the credentials (through the card's blind index, never the number), applies the
//! plan and keeps the books.
//!
//! **Exactly once, and resumable.** The feed is numbered (`seq`). Each change is applied in one
//! store transaction ([`Store::apply_registry_change`](crate::store::Store::apply_registry_change))
//! together with its record, its status changes, its audit entries and the new feed position,
//! which must still be the one the change was computed at. A crash mid-batch leaves the position
//! at the last change made durable: the next run resumes after it, and a change is never applied
//! twice, by this node or another (the loser of a race is told the position moved and reads it
//! again). A feed entry that cannot be read stops the run there; nothing behind it is skipped.
//!
//! **Work left for later** lives in the change's record, found again after a restart
//! ([`Store::pending_registry_changes`](crate::store::Store::pending_registry_changes)) and settled
//! by compare-and-set on the record's version:
//! - an expiry takes effect at the end of the card's last valid day (Vietnam time): until then the
//!   record holds the planned revocation;
//! - a replacement suspends the old credentials and opens a **renewal**: an application for the
//!   new card that the registry files, with the old form and the new card, the biometrics on file
//!   (the 3-working-day deadline) and the registry's change as its data check. Its reception
//!   point's officer approves it like any other (the offer response carries the transaction code,
//!   which also goes to the applicant, with the offer's link by e-mail); once its credential is
//!   issued (or it is rejected) the old credentials are revoked;
//! - the holder's notice is sent after the change is durable, then marked sent. A crash between
//!   the two sends it again on the next run (at least once; the notice id lets a gateway drop the
//!   repeat).
//!
//! **When.** A periodic job (`issuer serve --registry-sync-interval-secs`) and an admin request
//! (`POST /v1/admin/registry/sync`) run it; one run at a time per node, its progress on
//! `GET /v1/admin/registry/sync`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use enrollment::registry_changes::{self as rc, CardEvent, CredentialState, Held, RegistryChange};
use enrollment::tk01::ResidenceCard;
use enrollment::workflow::{Action, Application, OfficerId, Status};
use verifier::build::statuslist::{INVALID, SUSPENDED, VALID};

use super::delivery::applicant_lang;
use super::enroll::{at, used, ApplicationRecord, ApplicationView, Offer};
use super::idempotency::Idem;
use super::notify::RegistryNotice;
use super::rules::{self, Form};
use super::{require, Principal, Result, Service, ServiceError};
use crate::ids::{ApplicationId, CredentialId};
use crate::store::{
    AppMeta, AuditEntry, Conflict, CredentialRow, Digest, NewApplication, RegistryApply, RegistryChangeRecord,
    RegistryCredential, RegistryNoticeState, RegistryRenewal, RegistrySettle, Role, StatusMove, StoreError,
};

/// Feed entries read at a time.
const BATCH: usize = 256;
/// Attempts at one change or settlement while concurrent changes keep moving what it read.
const ATTEMPTS: usize = 8;
/// Who the registry's changes are made (and audited) by.
pub const ACTOR: &str = "registry";

/// What a renewal application renews (sealed in its record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalOf {
    /// The application whose credential rested on the replaced card.
    pub application: ApplicationId,
    pub credential: CredentialId,
    /// The registry change that replaced the card.
    pub registry_seq: u64,
}

/// One run of the job, as the progress resource shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncRun {
    /// `schedule` or `admin`.
    pub trigger: &'static str,
    pub started_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    /// The feed position when the run started, and now.
    pub from_position: u64,
    pub position: u64,
    /// Changes applied, and settlements made (deferred revocations, renewals closed, notices).
    pub applied: u64,
    pub settled: u64,
    /// Changes left in the feed after `position`, when the feed can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
    /// Why the run stopped early (it is tried again at the next run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The job's state on this node.
#[derive(Debug, Default)]
pub struct SyncState {
    inner: Mutex<SyncInner>,
}

#[derive(Debug, Default)]
struct SyncInner {
    running: bool,
    current: Option<SyncRun>,
    last: Option<SyncRun>,
}

impl SyncState {
    fn lock(&self) -> std::sync::MutexGuard<'_, SyncInner> {
        // A poisoned lock only means a run panicked; the counters are still meaningful.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks a run as started unless one is running; `false` when one is.
    fn begin(&self, trigger: &'static str, now: u64) -> bool {
        let mut s = self.lock();
        if s.running {
            return false;
        }
        s.running = true;
        s.current = Some(SyncRun { trigger, started_at: now, ..SyncRun::default() });
        true
    }

    fn update(&self, f: impl FnOnce(&mut SyncRun)) {
        if let Some(run) = self.lock().current.as_mut() {
            f(run);
        }
    }

    fn end(&self, now: u64, error: Option<String>) -> SyncRun {
        let mut s = self.lock();
        let mut run = s.current.take().unwrap_or_default();
        run.finished_at = Some(now);
        run.error = error;
        s.running = false;
        s.last = Some(run.clone());
        run
    }
}

/// The progress resource: the durable position, what the feed still holds, and the current (or
/// last) run on this node.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub position: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u64>,
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<SyncRun>,
}

/// A credential found on a card, with what the rules need.
#[derive(Debug)]
struct Found {
    row: CredentialRow,
    meta: AppMeta,
    status: u8,
}

fn state_of(status: u8) -> CredentialState {
    match status {
        VALID => CredentialState::Valid,
        SUSPENDED => CredentialState::Suspended,
        _ => CredentialState::Revoked,
    }
}

fn value_of(state: CredentialState) -> u8 {
    match state {
        CredentialState::Valid => VALID,
        CredentialState::Suspended => SUSPENDED,
        CredentialState::Revoked => INVALID,
    }
}

fn status_name(status: u8) -> &'static str {
    match state_of(status) {
        CredentialState::Valid => "valid",
        CredentialState::Suspended => "suspended",
        CredentialState::Revoked => "revoked",
    }
}

fn unix(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp()).unwrap_or(0)
}

/// When the work a record leaves is due: its deferred moves at `effective_at`; an unsent notice
/// or an open renewal at once (checked at every run).
fn pending_due(r: &RegistryChangeRecord) -> Option<u64> {
    let mut due: Option<u64> = None;
    let mut at = |t: u64| due = Some(due.map_or(t, |d| d.min(t)));
    if r.credentials.iter().any(|c| !c.done) {
        at(r.effective_at);
    }
    if r.notice == RegistryNoticeState::Pending {
        at(r.applied_at);
    }
    if r.renewal.as_ref().is_some_and(|x| x.closed.is_none()) {
        at(r.applied_at);
    }
    due
}

/// Whether the registry's last move of `credential` (through the records of its card) suspended it.
fn suspended_by_registry(history: &[RegistryChangeRecord], credential: &CredentialId) -> bool {
    let last = history
        .iter()
        .rev()
        .flat_map(|r| r.credentials.iter().rev())
        .find(|c| &c.credential == credential && c.done && c.to != c.from);
    last.is_some_and(|c| c.to == SUSPENDED)
}

impl Service {
    /// The blind index a card is found by (the same as the identity index's `card` key).
    pub fn card_index(&self, number: &str) -> Digest {
        Digest(self.sealer.blind_index("card", number))
    }

    /// The card index of the card an application's form names.
    pub(crate) fn card_index_of(&self, form: &Form) -> Digest {
        self.card_index(form.residence_card().number().as_ref())
    }

    // ----- the job -----

    /// The progress resource (admins).
    pub async fn registry_sync_report(&self, who: &Principal) -> Result<SyncReport> {
        require(who, Role::Admin)?;
        self.sync_report().await
    }

    async fn sync_report(&self) -> Result<SyncReport> {
        let position = self.store.registry_position().await?;
        let backlog = self.feed_backlog(position).await;
        let s = self.registry_sync.lock();
        Ok(SyncReport { position, backlog, running: s.running, run: s.current.clone().or_else(|| s.last.clone()) })
    }

    /// Runs the job now, in the background, unless a run is going on this node (an admin's
    /// request, audited); answers with the progress.
    pub async fn request_registry_sync(self: &Arc<Self>, who: &Principal) -> Result<SyncReport> {
        require(who, Role::Admin)?;
        let audit = AuditEntry::new(self.now(), who.id.as_str(), "registry.sync_requested", "registry", None);
        self.store.append_audit(audit).await?;
        if self.registry_sync.begin("admin", self.now()) {
            let s = self.clone();
            tokio::spawn(async move { s.run_begun().await });
        }
        self.sync_report().await
    }

    /// One run now, on the caller's task; `None` when a run is already going on this node.
    pub async fn sync_registry(&self, trigger: &'static str) -> Option<SyncRun> {
        if !self.registry_sync.begin(trigger, self.now()) {
            return None;
        }
        Some(self.run_begun().await)
    }

    /// The periodic job: a run every `every` (skipped while one is going), until the service is
    /// dropped.
    pub async fn run_registry_sync(self: Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(&self);
        drop(self);
        loop {
            tokio::time::sleep(every).await;
            let Some(s) = weak.upgrade() else { return };
            let _ = s.sync_registry("schedule").await;
        }
    }

    async fn run_begun(&self) -> SyncRun {
        let outcome = self.sync_once().await;
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "registry sync stopped; the next run resumes where it stopped");
        }
        let run = self.registry_sync.end(self.now(), outcome.err().map(|e| e.to_string()));
        tracing::info!(applied = run.applied, settled = run.settled, position = run.position, "registry sync run");
        run
    }

    /// Settles the work that is due, then applies the feed from the stored position to its end.
    async fn sync_once(&self) -> Result<()> {
        let start = self.store.registry_position().await?;
        self.registry_sync.update(|r| (r.from_position, r.position) = (start, start));
        self.settle_due().await?;
        loop {
            let position = self.store.registry_position().await?;
            let batch = self.feed(position).await?;
            let backlog = self.feed_backlog(position).await;
            self.registry_sync.update(|r| (r.position, r.backlog) = (position, backlog));
            if batch.is_empty() {
                return Ok(());
            }
            let mut after = position;
            for change in &batch {
                if !self.apply_change(after, change).await? {
                    // Another run applied it (or a later one) first: read the position again.
                    break;
                }
                after = change.seq();
                self.registry_sync.update(|r| {
                    r.position = after;
                    r.applied += 1;
                    r.backlog = r.backlog.map(|b| b.saturating_sub(1));
                });
            }
        }
    }

    /// The feed's next changes after `position` (file I/O off the async threads).
    async fn feed(&self, position: u64) -> Result<Vec<RegistryChange>> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || registry.changes_after(position, BATCH))
            .await
            .map_err(ServiceError::internal)?
            .map_err(|e| ServiceError::internal(format!("reading the registry's change feed: {e}")))
    }

    async fn feed_backlog(&self, position: u64) -> Option<u64> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || registry.backlog(position)).await.ok().flatten()
    }

    /// The credentials on a card: by the card index, and (for credentials issued before it
    /// existed) the credential of the application last filed under the card.
    async fn on_card(&self, card: &Digest) -> Result<Vec<Found>> {
        let mut rows = self.store.credentials_by_card(card).await?;
        if let Some((_, meta)) = self.store.application_by_identity(card).await? {
            if let Some(id) = meta.credential.filter(|id| !rows.iter().any(|r| &r.id == id)) {
                if let Some(row) = self.store.credential(&id).await?.filter(|r| r.card.is_none()) {
                    rows.push(row);
                }
            }
        }
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(app) = self.store.application(&row.application).await? else { continue };
            let Some(status) = self.store.status(row.status_list, row.status_idx).await? else { continue };
            found.push(Found { row, meta: app.meta, status });
        }
        Ok(found)
    }

    /// Applies one change computed at feed position `after`; `false` when the position moved
    /// under it (the change, or a later one, was applied by another run).
    async fn apply_change(&self, after: u64, change: &RegistryChange) -> Result<bool> {
        let card = self.card_index(change.card().as_str());
        let mut blocked: Option<ApplicationId> = None;
        for _attempt in 0..ATTEMPTS {
            let now = self.now();
            let found = self.on_card(&card).await?;
            let history = self.store.registry_changes_for_card(&card).await?;
            let held: Vec<Held> = found
                .iter()
                .map(|f| Held {
                    state: state_of(f.status),
                    suspended_by_registry: suspended_by_registry(&history, &f.row.id),
                })
                .collect();
            let plan = rc::plan(change, &held, at(now));
            let due = plan.is_due(at(now));
            let mut moves = Vec::new();
            let mut credentials = Vec::with_capacity(found.len());
            for (f, to) in found.iter().zip(&plan.moves) {
                let to = to.map_or(f.status, value_of);
                if due && to != f.status {
                    moves.push(StatusMove { credential: f.row.id.clone(), expected: f.status, new: to });
                }
                credentials.push(RegistryCredential {
                    credential: f.row.id.clone(),
                    application: f.row.application.clone(),
                    reception_point: f.meta.reception_point.clone(),
                    from: f.status,
                    to,
                    done: due || to == f.status,
                });
            }
            let mut renewal = None;
            if let (Some(new_card), true, None) = (&plan.renewal, due, &blocked) {
                match self.renewal_application(change, &found, new_card.clone(), now).await? {
                    Ok(new) => renewal = Some(new),
                    Err(open) => blocked = Some(open),
                }
            }
            let seq = change.seq();
            let mut record = RegistryChangeRecord {
                seq,
                version: 1,
                card,
                event: change.event(),
                registry_reason: change.reason().to_string(),
                reason: plan.reason,
                registry_at: unix(change.at()),
                applied_at: now,
                effective_at: unix(plan.effective_at),
                credentials,
                renewal: renewal
                    .as_ref()
                    .map(|n: &NewApplication| RegistryRenewal { application: n.id.clone(), closed: None }),
                renewal_blocked_by: blocked.clone(),
                notice: if moves.is_empty() { RegistryNoticeState::None } else { RegistryNoticeState::Pending },
                pending_due: None,
            };
            record.pending_due = pending_due(&record);
            let mut audit: Vec<AuditEntry> = moves.iter().map(|m| self.status_audit(now, &record, m, None)).collect();
            if let Some(new) = &renewal {
                let detail = format!("renewal registry_seq={seq}");
                audit.push(AuditEntry::new(now, ACTOR, "application.submitted", new.id.as_str(), Some(detail)));
            }
            audit.push(self.change_audit(now, &record));
            let moved = !moves.is_empty();
            let settle_now = record.pending_due.is_some_and(|d| d <= now);
            let apply = RegistryApply { after, record, moves, renewal, audit };
            match self.store.apply_registry_change(apply).await {
                Ok(()) => {
                    if moved {
                        self.status_changed().await?;
                    }
                    if settle_now {
                        let steps = self.settle(seq).await?;
                        self.registry_sync.update(|r| r.settled += steps);
                    }
                    return Ok(true);
                }
                Err(StoreError::Conflict(Conflict::RegistryPositionMoved)) => return Ok(false),
                Err(StoreError::Conflict(Conflict::StatusChanged | Conflict::ApplicationChanged)) => continue,
                // A concurrent submission for the person: look again (it is found as blocking).
                Err(StoreError::Conflict(Conflict::ApplicationExists)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::internal("a registry change kept meeting concurrent changes"))
    }

    /// The audit entry of one status move caused by the registry.
    fn status_audit(&self, now: u64, r: &RegistryChangeRecord, m: &StatusMove, extra: Option<String>) -> AuditEntry {
        let mut detail = format!(
            "{} reason={} registry_seq={} registry_event={} registry_reason={}",
            status_name(m.new),
            r.reason,
            r.seq,
            r.event,
            r.registry_reason
        );
        if let Some(extra) = extra {
            detail.push(' ');
            detail.push_str(&extra);
        }
        AuditEntry::new(now, ACTOR, "credential.status", m.credential.as_str(), Some(detail))
    }

    /// The audit entry of the change itself (one per feed entry applied).
    fn change_audit(&self, now: u64, r: &RegistryChangeRecord) -> AuditEntry {
        let moved = r.credentials.iter().filter(|c| c.to != c.from).count();
        let mut detail = format!(
            "event={} reason={} registry_reason={} credentials={} moving={moved}",
            r.event,
            r.reason,
            r.registry_reason,
            r.credentials.len()
        );
        if r.credentials.iter().any(|c| !c.done) {
            detail.push_str(&format!(" effective_at={}", r.effective_at));
        }
        if let Some(x) = &r.renewal {
            detail.push_str(&format!(" renewal={}", x.application));
        }
        if let Some(x) = &r.renewal_blocked_by {
            detail.push_str(&format!(" renewal_blocked_by={x}"));
        }
        AuditEntry::new(now, ACTOR, "registry.change", &r.seq.to_string(), Some(detail))
    }

    /// The renewal application for a replaced card: the latest live credential's application,
    /// with the new card. `Err(id)` when the person has an open application already (it blocks
    /// the renewal; the officer sees both on the report).
    async fn renewal_application(
        &self,
        change: &RegistryChange,
        found: &[Found],
        new_card: ResidenceCard,
        now: u64,
    ) -> Result<std::result::Result<NewApplication, ApplicationId>> {
        let Some(base) = found.iter().filter(|f| f.status != INVALID).max_by_key(|f| f.row.issued_at) else {
            return Err(ServiceError::internal("a renewal without a credential to renew"));
        };
        let old = self.load(&base.row.application).await?;
        let form = old.record.form.clone().with_residence_card(new_card);
        let identity: Vec<Digest> =
            rules::identity_keys(&form).iter().map(|(d, v)| Digest(self.sealer.blind_index(d, v))).collect();
        for key in &identity {
            if let Some((id, meta)) = self.store.application_by_identity(key).await? {
                if !meta.state.is_closed() {
                    return Ok(Err(id));
                }
            }
        }
        let today = verifier::Date::from_unix_vn(now);
        let due_on = rules::due_date(today, true, &self.holidays);
        let actor: OfficerId = ACTOR.parse().map_err(|_| ServiceError::internal("registry actor id"))?;
        let mut workflow = Application::submitted(at(now));
        for action in [Action::CaptureBiometrics, Action::CheckData] {
            workflow
                .apply(action, actor.clone(), at(now))
                .map_err(|e| ServiceError::internal(format!("renewal workflow: {e}")))?;
        }
        let id = ApplicationId::generate();
        let record = ApplicationRecord {
            form,
            workflow,
            due_on,
            biometrics_on_file: true,
            biometrics: old.record.biometrics.clone(),
            national_check: Some(json!({
                "source": "registry_change",
                "registry_seq": change.seq(),
                "event": CardEvent::Replaced,
                "registry_reason": change.reason().as_str(),
                "renewal_of": old.id,
            })),
            eid_number: old.record.eid_number.clone(),
            rejection_note: None,
            renewal_of: Some(RenewalOf {
                application: old.id.clone(),
                credential: base.row.id.clone(),
                registry_seq: change.seq(),
            }),
        };
        let meta = AppMeta {
            reception_point: old.meta.reception_point.clone(),
            state: Status::DataChecked,
            submitted_on: today,
            due_on,
            offer: None,
            credential: None,
        };
        let sealed = self.seal_record(&id, &record);
        Ok(Ok(NewApplication { id, meta, sealed, identity }))
    }

    // ----- settling what changes left -----

    /// Settles every record whose work is due. A record that cannot be settled now (its
    /// application does not open, the store refuses) stays pending, is logged and reported, and
    /// does not hold the others up.
    async fn settle_due(&self) -> Result<()> {
        let mut after = 0;
        loop {
            let page = self.store.pending_registry_changes(self.now(), after, 100).await?;
            let Some(last) = page.last().map(|r| r.seq) else { return Ok(()) };
            for r in &page {
                match self.settle(r.seq).await {
                    Ok(steps) => self.registry_sync.update(|run| run.settled += steps),
                    Err(e) => {
                        tracing::error!(seq = r.seq, error = %e, "registry change not settled; tried again at the next run");
                        self.registry_sync.update(|run| run.error = Some(format!("settling change {}: {e}", r.seq)));
                    }
                }
            }
            after = last;
        }
    }

    /// Settles what is due of one record, step by step; returns the steps made.
    async fn settle(&self, seq: u64) -> Result<u64> {
        let mut steps = 0;
        let mut conflicts = 0;
        loop {
            let Some(r) = self.store.registry_change(seq).await? else { return Ok(steps) };
            let now = self.now();
            let renewal_closed = match &r.renewal {
                Some(x) if x.closed.is_none() => {
                    self.store.application(&x.application).await?.map(|a| a.meta.state).filter(|s| s.is_closed())
                }
                _ => None,
            };
            let step = if r.credentials.iter().any(|c| !c.done) && r.effective_at <= now {
                self.settle_effect(r, now).await
            } else if let Some(state) = renewal_closed {
                self.settle_renewal(r, state, now).await
            } else if r.notice == RegistryNoticeState::Pending {
                self.settle_notice(r, now).await
            } else {
                return Ok(steps);
            };
            match step {
                Ok(()) => steps += 1,
                Err(ServiceError::Conflict(_)) if conflicts < ATTEMPTS => conflicts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The current statuses of a record's credentials.
    async fn statuses(&self, r: &RegistryChangeRecord) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(r.credentials.len());
        for c in &r.credentials {
            let row = self.store.credential(&c.credential).await?.ok_or(ServiceError::NotFound)?;
            out.push(self.store.status(row.status_list, row.status_idx).await?.unwrap_or(INVALID));
        }
        Ok(out)
    }

    /// Writes a settlement: the record one version on, its moves and their audit entries.
    async fn commit_settlement(
        &self,
        mut r: RegistryChangeRecord,
        moves: Vec<StatusMove>,
        audit: Vec<AuditEntry>,
    ) -> Result<()> {
        r.version += 1;
        r.pending_due = pending_due(&r);
        let moved = !moves.is_empty();
        match self.store.settle_registry_change(RegistrySettle { record: r, moves, audit }).await {
            Ok(()) => {
                if moved {
                    self.status_changed().await?;
                }
                Ok(())
            }
            Err(StoreError::Conflict(Conflict::RegistryRecordChanged)) => Err(ServiceError::conflict("status_changed")),
            Err(e) => Err(e.into()),
        }
    }

    /// The deferred moves of a change whose time came (an expiry at the end of the last day).
    async fn settle_effect(&self, mut r: RegistryChangeRecord, now: u64) -> Result<()> {
        let current = self.statuses(&r).await?;
        let mut moves = Vec::new();
        for (c, status) in r.credentials.iter_mut().zip(current) {
            if c.done {
                continue;
            }
            c.done = true;
            match rc::deferred_move(state_of(c.to), state_of(status)) {
                Some(to) => {
                    moves.push(StatusMove { credential: c.credential.clone(), expected: status, new: value_of(to) });
                    (c.from, c.to) = (status, value_of(to));
                }
                None => (c.from, c.to) = (status, status),
            }
        }
        if !moves.is_empty() && r.notice == RegistryNoticeState::None {
            r.notice = RegistryNoticeState::Pending;
        }
        let audit = moves.iter().map(|m| self.status_audit(now, &r, m, Some("deferred".into()))).collect();
        self.commit_settlement(r, moves, audit).await
    }

    /// A replacement's renewal closed (issued, or rejected): the old credentials are revoked.
    async fn settle_renewal(&self, mut r: RegistryChangeRecord, state: Status, now: u64) -> Result<()> {
        let current = self.statuses(&r).await?;
        let held: Vec<Held> = current.iter().map(|s| Held::new(state_of(*s))).collect();
        let mut moves = Vec::new();
        for ((c, status), to) in r.credentials.iter_mut().zip(&current).zip(rc::after_renewal(&held)) {
            if let Some(to) = to {
                moves.push(StatusMove { credential: c.credential.clone(), expected: *status, new: value_of(to) });
                c.to = value_of(to);
                c.done = true;
            }
        }
        let Some(renewal) = r.renewal.as_mut() else { return Ok(()) };
        renewal.closed = Some(state);
        let extra = format!("renewal={} renewal_state={}", renewal.application, state);
        let audit = moves.iter().map(|m| self.status_audit(now, &r, m, Some(extra.clone()))).collect();
        self.commit_settlement(r, moves, audit).await
    }

    /// Tells the holders whose credentials changed, in their language, then records it.
    async fn settle_notice(&self, mut r: RegistryChangeRecord, now: u64) -> Result<()> {
        let mut apps: Vec<ApplicationId> =
            r.credentials.iter().filter(|c| c.to != c.from && c.done).map(|c| c.application.clone()).collect();
        apps.sort();
        apps.dedup();
        let day = match r.event {
            CardEvent::Expired => verifier::Date::from_unix_vn(r.effective_at.saturating_sub(1)),
            _ => verifier::Date::from_unix_vn(r.registry_at),
        };
        let due = match &r.renewal {
            Some(x) => self.store.application(&x.application).await?.map(|a| a.meta.due_on),
            None => None,
        };
        let via = self.notifier.name();
        let mut audit = Vec::new();
        let mut state = RegistryNoticeState::None;
        for app in &apps {
            let view = self.load(app).await?;
            let form = &view.record.form;
            let lang = applicant_lang(form);
            let (subject, text) = crate::i18n::registry_notice(lang, r.reason, day, due);
            let notice = RegistryNotice {
                kind: "registry_change",
                id: format!("registry-{}-{}", r.seq, app),
                application: app.clone(),
                registry_seq: r.seq,
                reason: Some(r.reason.code()),
                lang,
                phone: Some(form.phone().as_str().to_owned()),
                email: form.email().as_str().to_owned(),
                subject,
                text,
                link: None,
            };
            let detail = format!("registry_seq={} reason={} via={via} lang={}", r.seq, r.reason, lang.tag());
            match self.notifier.send_registry_notice(&notice).await {
                Ok(()) => {
                    audit.push(AuditEntry::new(now, ACTOR, "registry.notice_sent", app.as_str(), Some(detail)));
                    state = RegistryNoticeState::Sent { at: now, via: via.into(), lang: lang.tag().into() };
                }
                Err(e) => {
                    tracing::error!(application = %app, error = %e, "registry notice not sent");
                    audit.push(AuditEntry::new(now, ACTOR, "registry.notice_not_sent", app.as_str(), Some(detail)));
                    state = RegistryNoticeState::Failed { at: now, via: via.into() };
                }
            }
        }
        r.notice = state;
        self.commit_settlement(r, Vec::new(), audit).await
    }

    // ----- renewals -----

    /// Approves a renewal the registry opened (called by `approve`): the e-ID number is the
    /// person's already, so only the offer is written; the transaction code goes out as for any
    /// approval, and the offer's link by e-mail (the holder is not at the counter).
    pub(super) async fn approve_renewal(
        &self,
        who: &Principal,
        mut view: ApplicationView,
        idem: Option<&Idem>,
        now: u64,
    ) -> Result<Offer> {
        let of = view.record.renewal_of.clone().ok_or_else(|| ServiceError::internal("not a renewal"))?;
        self.apply(&mut view, Action::Approve, who.id.as_str(), now)?;
        let (offer, code_hash, code) = self.new_offer(&mut view, 1, now);
        let detail = format!("renewal_of={} registry_seq={}", of.application, of.registry_seq);
        let mut audit = AuditEntry::new(now, who.id.as_str(), "application.approved", view.id.as_str(), Some(detail));
        self.record(idem, &offer, &mut audit);
        match self.store.renew_offer(self.change_of(&view), code_hash, code, audit).await {
            Err(e) if used(&e) => return self.raced(idem).await,
            r => r?,
        };
        self.send_tx_code(&view, &offer).await;
        self.send_renewal_offer(&view, &offer).await;
        Ok(offer)
    }

    /// The renewal offer's link, by e-mail (its transaction code goes by the usual notice).
    pub(crate) async fn send_renewal_offer(&self, view: &ApplicationView, offer: &Offer) {
        let Some(of) = &view.record.renewal_of else { return };
        let form = &view.record.form;
        let lang = applicant_lang(form);
        let (subject, text) = crate::i18n::renewal_offer_notice(lang, &offer.offer_uri, offer.expires_at);
        let notice = RegistryNotice {
            kind: "renewal_offer",
            id: format!("renewal-{}-{}", view.id, offer.generation),
            application: view.id.clone(),
            registry_seq: of.registry_seq,
            reason: None,
            lang,
            phone: None,
            email: form.email().as_str().to_owned(),
            subject,
            text,
            link: Some(offer.offer_uri.clone()),
        };
        let via = self.notifier.name();
        let (action, detail) = match self.notifier.send_registry_notice(&notice).await {
            Ok(()) => {
                ("registry.renewal_offer_sent", format!("generation={} via={via} channels=email", offer.generation))
            }
            Err(e) => {
                tracing::error!(application = %view.id, error = %e, "renewal offer link not sent");
                ("registry.renewal_offer_not_sent", format!("generation={} via={via}", offer.generation))
            }
        };
        let entry = AuditEntry::new(self.now(), ACTOR, action, view.id.as_str(), Some(detail));
        if let Err(e) = self.store.append_audit(entry).await {
            tracing::error!(application = %view.id, error = %e, "could not audit the renewal offer notice");
        }
    }

    /// After a credential is issued: if it renews one the registry replaced, the old ones are
    /// revoked now (if this fails, the next run of the job does it).
    pub(crate) async fn renewal_issued(&self, view: &ApplicationView) {
        let Some(of) = &view.record.renewal_of else { return };
        if let Err(e) = self.settle(of.registry_seq).await {
            tracing::warn!(application = %view.id, error = %e, "old credentials of a renewal not revoked yet; the registry job will");
        }
    }

    // ----- reports -----

    /// The registry changes that touched a reception point's credentials (officers: their own
    /// point; admins: any point, or all changes), in feed order after `after`, at most `limit`.
    pub async fn registry_report(
        &self,
        who: &Principal,
        point: Option<String>,
        after: u64,
        limit: usize,
    ) -> Result<Value> {
        let point = Self::own_point(who, point)?;
        let limit = limit.clamp(1, 500);
        const SCAN: usize = 1000;
        let page = self.store.registry_changes(after, SCAN).await?;
        // Where to go on from: the last change returned when the limit cut the answer short, the
        // last one looked at when the scan stopped before the end, none at the end.
        let mut next_after = if page.len() == SCAN { page.last().map(|r| r.seq) } else { None };
        let mut out = Vec::new();
        for r in &page {
            if !point.as_ref().is_none_or(|p| r.credentials.iter().any(|c| &c.reception_point == p)) {
                continue;
            }
            if out.len() == limit {
                next_after = out.last().and_then(|v: &Value| v["seq"].as_u64());
                break;
            }
            let renewal = match &r.renewal {
                Some(x) => {
                    let meta = self.store.application(&x.application).await?.map(|a| a.meta);
                    json!({"application": x.application, "closed": x.closed,
                           "state": meta.as_ref().map(|m| m.state), "due_on": meta.as_ref().map(|m| m.due_on)})
                }
                None => Value::Null,
            };
            let credentials: Vec<Value> = r
                .credentials
                .iter()
                .filter(|c| point.as_ref().is_none_or(|p| &c.reception_point == p))
                .map(|c| {
                    json!({"credential": c.credential, "application": c.application,
                           "reception_point": c.reception_point, "from": status_name(c.from),
                           "to": status_name(c.to), "in_force": c.done})
                })
                .collect();
            out.push(json!({
                "seq": r.seq,
                "event": r.event,
                "reason": r.reason,
                "registry_reason": r.registry_reason,
                "registry_at": r.registry_at,
                "applied_at": r.applied_at,
                "effective_at": r.effective_at,
                "credentials": credentials,
                "renewal": renewal,
                "renewal_blocked_by": r.renewal_blocked_by,
                "notice": r.notice,
                "pending": r.pending_due.is_some(),
            }));
        }
        Ok(json!({"changes": out, "next_after": next_after}))
    }
}
