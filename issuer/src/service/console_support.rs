//! What the browser console (`crate::console`) needs beyond the JSON API's use cases: the staff
//! member behind a console session, sign-out of a token's sessions, the token list, a
//! credential's status, status changes with a reason code, the audit log searched newest first,
//! an officer's queue with names and the day's counts, and the key that signs sessions.
//!
//! Like the rest of the service layer this knows no axum and no storage engine; every function
//! checks the caller's role (and reception point) itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use zeroize::Zeroizing;

use super::admin::{CredentialStatus, StatusChange};
use super::{require, Principal, Result, Service, ServiceError};
use crate::ids::{ApplicationId, CredentialId, TokenId};
use crate::store::{AppMeta, AuditEntry, Conflict, CredentialRow, Digest, Role, StoreError, TokenRow};

/// Why an admin changed a credential's status: a closed list of stable codes, so the audit
/// entry carries a code (never free text that could hold personal data) and every console
/// language can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    /// The holder asked (lost phone, changed device).
    HolderRequest,
    /// The device holding the credential was reported lost or stolen.
    DeviceLost,
    /// The residence card behind the credential was revoked or withdrawn.
    CardWithdrawn,
    /// Fraud is suspected; under investigation.
    FraudSuspected,
    /// The credential carries wrong data and will be issued again.
    DataError,
    /// An earlier suspension was resolved.
    Resolved,
}

impl StatusReason {
    pub const ALL: [StatusReason; 6] = [
        StatusReason::HolderRequest,
        StatusReason::DeviceLost,
        StatusReason::CardWithdrawn,
        StatusReason::FraudSuspected,
        StatusReason::DataError,
        StatusReason::Resolved,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StatusReason::HolderRequest => "holder_request",
            StatusReason::DeviceLost => "device_lost",
            StatusReason::CardWithdrawn => "card_withdrawn",
            StatusReason::FraudSuspected => "fraud_suspected",
            StatusReason::DataError => "data_error",
            StatusReason::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == s)
    }
}

/// Which audit entries to show. Every field narrows; `None` lets all through.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// An action (`key.rotated`) or a prefix ending in a dot (`key.`).
    pub action: Option<String>,
    /// A token id, `wallet` or `system`.
    pub actor: Option<String>,
    /// An application, credential, token or key id.
    pub subject: Option<String>,
    /// UNIX seconds, inclusive.
    pub from: Option<u64>,
    /// UNIX seconds, exclusive.
    pub to: Option<u64>,
    /// Only entries with a sequence number below this (the "older" page).
    pub before: Option<u64>,
}

impl AuditFilter {
    fn matches(&self, e: &AuditEntry) -> bool {
        let action = match self.action.as_deref() {
            None => true,
            Some(a) if a.ends_with('.') => e.action.starts_with(a),
            Some(a) => e.action == a,
        };
        action
            && self.actor.as_deref().is_none_or(|a| e.actor == a)
            && self.subject.as_deref().is_none_or(|s| e.subject == s)
            && self.from.is_none_or(|f| e.at >= f)
            && self.to.is_none_or(|t| e.at < t)
    }
}

/// One page of a search: newest first, and where the next (older) page starts when there is one.
#[derive(Debug, Clone)]
pub struct AuditResult {
    pub entries: Vec<(u64, AuditEntry)>,
    /// Pass as [`AuditFilter::before`] for older entries.
    pub older: Option<u64>,
}

/// One row of an officer's queue: the clear summary, and the Latin name from the sealed record
/// (open applications only: closed ones are counted, not listed).
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: ApplicationId,
    pub meta: AppMeta,
    pub name_latin: String,
}

/// An officer's queue and counts.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Open applications, soonest due first.
    pub open: Vec<QueueRow>,
    /// Applications per state code (all, closed included).
    pub per_state: BTreeMap<&'static str, usize>,
    /// Today's changes at the reception point, per audit action.
    pub today: BTreeMap<String, usize>,
    /// The audit log was too busy today to read back to midnight: `today` counts the latest
    /// changes only.
    pub today_partial: bool,
    /// The open applications beyond the listed ones (the list is bounded).
    pub not_listed: usize,
}

/// How many open applications a queue lists with names (each one is opened).
pub const QUEUE_LIMIT: usize = 500;

/// How many audit entries one search reads at most before it offers an "older" page.
const AUDIT_SCAN: u64 = 20_000;

/// The console session's settings key: a counter bumped by each sign-out of the token.
fn generation_key(id: &TokenId) -> String {
    format!("console/session-generation/{id}")
}

fn language_key(id: &TokenId) -> String {
    format!("console/language/{id}")
}

impl Service {
    /// The key that signs console sessions and CSRF tokens. Derived (HMAC under its own label)
    /// from the blind-index key, which the keystore derives: every node that shares the data keys
    /// accepts the others' sessions, a copy of the database alone cannot forge one, and no key is
    /// stored anywhere.
    pub fn console_key(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.sealer.blind_index("console-session-key/v1", ""))
    }

    /// The staff member whose token has this digest (a session carries the token's SHA-256,
    /// never the token): unknown or revoked tokens are `Unauthorized`.
    pub async fn principal_by_digest(&self, digest: &Digest) -> Result<Principal> {
        let row = self.store.token(digest).await?.ok_or(ServiceError::Unauthorized)?;
        if row.revoked {
            return Err(ServiceError::Unauthorized);
        }
        Ok(Principal { id: row.id, role: row.role, name: row.name, reception_point: row.reception_point })
    }

    /// The current session generation of a token: sessions made under an older one are over.
    pub async fn console_generation(&self, id: &TokenId) -> Result<u32> {
        let raw = self.store.setting(&generation_key(id)).await?;
        Ok(raw.and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok()).map_or(0, u32::from_be_bytes))
    }

    /// The console language a staff member chose last, on any browser (`None` before a choice).
    pub async fn console_language(&self, id: &TokenId) -> Result<Option<crate::i18n::Lang>> {
        let raw = self.store.setting(&language_key(id)).await?;
        Ok(raw.and_then(|b| String::from_utf8(b).ok()).and_then(|tag| tag.parse().ok()))
    }

    /// Keeps a staff member's console language with their token, so it follows them to another
    /// browser (a preference: not audited).
    pub async fn console_set_language(&self, who: &Principal, lang: crate::i18n::Lang) -> Result<()> {
        self.store.put_setting(&language_key(&who.id), lang.tag().as_bytes().to_vec(), None).await?;
        Ok(())
    }

    /// Ends every console session of the caller's token (each session names its generation).
    pub async fn console_sign_out(&self, who: &Principal) -> Result<()> {
        let next = self.console_generation(&who.id).await?.wrapping_add(1);
        self.store.put_setting(&generation_key(&who.id), next.to_be_bytes().to_vec(), None).await?;
        Ok(())
    }

    /// Every staff token, newest first (admins only).
    pub async fn staff_tokens(&self, who: &Principal) -> Result<Vec<TokenRow>> {
        require(who, Role::Admin)?;
        let mut rows = self.store.tokens().await?;
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
        Ok(rows)
    }

    /// A credential and its current status value (admins only).
    pub async fn credential_state(&self, who: &Principal, id: &CredentialId) -> Result<(CredentialRow, Option<u8>)> {
        require(who, Role::Admin)?;
        let cred = self.store.credential(id).await?.ok_or(ServiceError::NotFound)?;
        let status = self.store.status(cred.status_list, cred.status_idx).await?;
        Ok((cred, status))
    }

    /// [`Service::set_status`] with the reason recorded in the same audit entry
    /// (`suspended reason=device_lost`).
    pub async fn set_status_because(
        &self,
        who: &Principal,
        id: &CredentialId,
        to: CredentialStatus,
        reason: StatusReason,
    ) -> Result<StatusChange> {
        require(who, Role::Admin)?;
        let cred = self.store.credential(id).await?.ok_or(ServiceError::NotFound)?;
        for _attempt in 0..4 {
            let current = self.store.status(cred.status_list, cred.status_idx).await?.ok_or(ServiceError::NotFound)?;
            if current == verifier::build::statuslist::INVALID && to != CredentialStatus::Revoked {
                return Err(ServiceError::conflict("credential_revoked"));
            }
            let detail = format!("{} reason={}", to.as_str(), reason.code());
            let audit = AuditEntry::new(self.now(), who.id.as_str(), "credential.status", id.as_str(), Some(detail));
            match self.store.set_status(id, current, to.value(), audit).await {
                Err(StoreError::Conflict(Conflict::StatusChanged)) => continue,
                Err(e) => return Err(e.into()),
                Ok(()) => {
                    let published_by = self.status_changed().await?;
                    return Ok(StatusChange { id: id.clone(), status: to, published_by });
                }
            }
        }
        Err(ServiceError::conflict("status_changed"))
    }

    /// The sequence number of the newest audit entry (0 when there is none). The store pages
    /// forwards only; sequence numbers grow, so "is there an entry after `x`" is monotone and a
    /// binary search finds the end in a few reads.
    async fn audit_tail(&self) -> Result<u64> {
        // `beyond(x)`: some entry has a sequence number above `x`; true exactly below the tail.
        let beyond = |x: u64| async move { self.store.audit_page(Some(x), 1).await.map(|p| !p.is_empty()) };
        let Some(first) = self.store.audit_page(None, 1).await?.first().map(|(s, _)| *s) else { return Ok(0) };
        if !beyond(first).await? {
            return Ok(first);
        }
        // Gallop until past the tail: beyond(lo) holds, beyond(hi) does not.
        let (mut lo, mut step) = (first, 1024u64);
        let mut hi = lo.saturating_add(step);
        while beyond(hi).await? {
            lo = hi;
            step = step.saturating_mul(2);
            hi = lo.saturating_add(step);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if beyond(mid).await? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(hi)
    }

    /// Audit entries matching `filter`, newest first, at most `limit` (admins only). Reads
    /// backwards from the newest entry (or from `filter.before`) in windows, at most
    /// [`AUDIT_SCAN`] entries per call; stops early at `filter.from`.
    pub async fn audit_search(&self, who: &Principal, filter: &AuditFilter, limit: usize) -> Result<AuditResult> {
        require(who, Role::Admin)?;
        self.audit_backwards(filter, limit.clamp(1, 1000), |_| true).await
    }

    /// The search behind [`Service::audit_search`] and the queue's day counts: `keep` narrows
    /// further than the filter can (the queue keeps its point's ids). `older` is set when the
    /// search stopped before reading everything that could match.
    async fn audit_backwards(
        &self,
        filter: &AuditFilter,
        limit: usize,
        keep: impl Fn(&AuditEntry) -> bool,
    ) -> Result<AuditResult> {
        const WINDOW: u64 = 1000;
        let top = match filter.before {
            Some(b) => b.saturating_sub(1),
            None => self.audit_tail().await?,
        };
        let mut out = Vec::new();
        let mut hi = top;
        let mut scanned = 0u64;
        while hi > 0 {
            let lo = hi.saturating_sub(WINDOW);
            let page = self.store.audit_page(if lo == 0 { None } else { Some(lo) }, WINDOW as usize).await?;
            let mut window: VecDeque<(u64, AuditEntry)> = page.into_iter().filter(|(s, _)| *s <= hi).collect();
            let oldest_at = window.front().map(|(_, e)| e.at);
            while let Some((seq, e)) = window.pop_back() {
                if filter.matches(&e) && keep(&e) {
                    out.push((seq, e));
                    if out.len() == limit {
                        return Ok(AuditResult { entries: out, older: Some(seq) });
                    }
                }
            }
            scanned += WINDOW;
            hi = lo;
            if filter.from.is_some_and(|f| oldest_at.is_some_and(|at| at < f)) {
                break;
            }
            if scanned >= AUDIT_SCAN && hi > 0 {
                return Ok(AuditResult { entries: out, older: Some(hi + 1) });
            }
        }
        Ok(AuditResult { entries: out, older: None })
    }

    /// An officer's queue: the open applications of their reception point, soonest due first,
    /// with the Latin name (opened from the sealed record); counts per state; and today's changes
    /// at the point, from the audit log.
    pub async fn console_queue(&self, who: &Principal) -> Result<Queue> {
        require(who, Role::Officer)?;
        let rows = self.applications(who, None).await?;
        let mut per_state = BTreeMap::new();
        for (_, m) in &rows {
            *per_state.entry(m.state.code()).or_insert(0) += 1;
        }
        let mut open: Vec<(ApplicationId, AppMeta)> =
            rows.iter().filter(|(_, m)| !m.state.is_closed()).cloned().collect();
        open.sort_by(|a, b| a.1.due_on.cmp(&b.1.due_on).then_with(|| a.0.cmp(&b.0)));
        let not_listed = open.len().saturating_sub(QUEUE_LIMIT);
        let mut listed = Vec::with_capacity(open.len().min(QUEUE_LIMIT));
        for (id, meta) in open.into_iter().take(QUEUE_LIMIT) {
            let name_latin = self.load(&id).await?.record.form.full_name_latin().as_ref().to_owned();
            listed.push(QueueRow { id, meta, name_latin });
        }

        // Today (Vietnam time) at this point: the audit entries since midnight whose subject is
        // one of the point's applications or credentials.
        let now = self.now();
        let midnight = now - (now + 7 * 3600) % 86_400;
        let ids: BTreeSet<String> = rows
            .iter()
            .flat_map(|(id, m)| std::iter::once(id.to_string()).chain(m.credential.as_ref().map(|c| c.to_string())))
            .collect();
        let filter = AuditFilter { from: Some(midnight), ..AuditFilter::default() };
        let found = self.audit_backwards(&filter, 10_000, |e| ids.contains(&e.subject)).await?;
        let today_partial = found.older.is_some();
        let mut today = BTreeMap::new();
        for (_, e) in found.entries {
            *today.entry(e.action).or_insert(0) += 1;
        }
        Ok(Queue { open: listed, per_state, today, today_partial, not_listed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_filters_match() {
        for r in StatusReason::ALL {
            assert_eq!(StatusReason::parse(r.code()), Some(r));
        }
        assert_eq!(StatusReason::parse("because"), None);
        let e = AuditEntry::new(100, "abc", "key.rotated", "kid1", None);
        let f = |action: &str| AuditFilter { action: Some(action.into()), ..AuditFilter::default() };
        assert!(f("key.").matches(&e) && f("key.rotated").matches(&e));
        assert!(!f("key").matches(&e) && !f("credential.").matches(&e));
        let window = AuditFilter { from: Some(100), to: Some(101), ..AuditFilter::default() };
        assert!(window.matches(&e));
        assert!(!AuditFilter { to: Some(100), ..AuditFilter::default() }.matches(&e));
        assert!(!AuditFilter { actor: Some("x".into()), ..AuditFilter::default() }.matches(&e));
    }
}
