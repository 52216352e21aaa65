//! Re-issuance after a compromise: once a signing key is revoked, verifiers refuse everything it
//! signed (`key_revoked`), so each holder of a credential it signed needs a new one, signed by an
//! active key. One admin command (`POST /v1/admin/keys/{kid}/reissue`) re-offers them all; its
//! progress is a resource (`GET` on the same path).
//!
//! - **What is re-offered.** Every credential the key signed ([`Store::credentials_by_kid`], in
//!   id order) that is still its application's current credential, not revoked and not expired:
//!   its application (issued) gets a new offer, a new pre-authorized code and transaction code
//!   (the previous generation's tokens die), which the holder's wallet redeems as at approval
//!   and receives a batch signed by the active key of whichever node answers. The others are
//!   recorded as skipped, with why (`superseded`, `revoked`, `expired`).
//! - **Exactly once.** Each credential's step is one store change with its entry
//!   ([`Store::record_reoffer`]): the new offer, the entry, the audit entry, together, and at most
//!   one entry per (key, credential). A run that is interrupted (the node killed, a deploy) and
//!   started again, or started on two nodes at once, skips what has an entry, so nobody gets two
//!   offers.
//! - **Never lost.** The offer's secrets reach the holder only through the notifier (no officer is
//!   there). They are kept sealed in the entry until the notifier has the notice
//!   ([`Store::reoffer_sent`]); a run started again first sends the notices an interrupted run
//!   left unsent, the same offer again. So the offer is made exactly once and its notice is
//!   delivered at least once.
//! - **Paced.** At most `reoffer_rate` re-offers a second (an SMS gateway has its limits).
//!
//! [`Store::credentials_by_kid`]: crate::store::Store::credentials_by_kid
//! [`Store::record_reoffer`]: crate::store::Store::record_reoffer
//! [`Store::reoffer_sent`]: crate::store::Store::reoffer_sent

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enrollment::workflow::Status;
use serde::{Deserialize, Serialize};
use verifier::KeyState;
use zeroize::Zeroizing;

use super::delivery::applicant_lang;
use super::notify::{ReofferNotice, TxCode};
use super::{require, Principal, Result, Service, ServiceError};
use crate::ids::CredentialId;
use crate::store::{AuditEntry, Conflict, CredentialRow, Reoffer, ReofferEntry, ReofferOutcome, Role, StoreError};

/// Credentials read per page.
const PAGE: usize = 100;

/// The re-issuances running in this process (by key id).
#[derive(Debug, Default)]
pub struct Running(Mutex<BTreeSet<String>>);

impl Running {
    fn contains(&self, kid: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(kid)
    }

    /// Claims `kid` for this process; `false` if it runs here already.
    fn claim(&self, kid: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(kid.to_owned())
    }

    fn release(&self, kid: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(kid);
    }
}

/// This process's claim on running a key's re-issuance, released when dropped.
struct Claim<'a>(&'a Service, &'a str);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.reissues.release(self.1);
    }
}

/// A re-issuance as stored (a setting, `reissue/<kid>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    kid: String,
    started_at: u64,
    started_by: String,
    /// Credentials the key signed, counted at the start.
    total: u64,
    #[serde(default)]
    finished_at: Option<u64>,
}

fn job_key(kid: &str) -> String {
    format!("reissue/{kid}")
}

fn notice_aad(kid: &str, credential: &CredentialId) -> Vec<u8> {
    format!("reoffer:{kid}:{credential}").into_bytes()
}

/// Where a key's re-issuance stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub kid: String,
    /// `not_started`, `running` (in this node), `interrupted` (started, not finished, not running
    /// here: run it again to resume), or `finished`.
    pub state: String,
    /// Credentials the key signed.
    pub total: u64,
    /// Credentials dealt with: `offered` + `skipped`.
    pub done: u64,
    pub offered: u64,
    pub skipped: u64,
    /// Re-offers made whose notice has not reached the notifier yet (sent again on resume).
    pub notices_pending: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
}

/// A re-offer's secrets, sealed in its entry until its notice is sent.
#[derive(Serialize, Deserialize)]
struct Secrets {
    offer_uri: String,
    tx_code: TxCode,
    expires_at: u64,
}

impl Service {
    /// The credentials `kid` signed, a page at a time, in id order.
    pub async fn signed_credentials(
        &self,
        who: &Principal,
        kid: &str,
        after: Option<&CredentialId>,
        limit: usize,
    ) -> Result<Vec<CredentialRow>> {
        require(who, Role::Admin)?;
        Ok(self.store.credentials_by_kid(kid, after, limit.clamp(1, 1000)).await?)
    }

    /// How many credentials `kid` signed.
    pub(crate) async fn count_signed(&self, kid: &str) -> Result<u64> {
        let (mut n, mut after) = (0u64, None::<CredentialId>);
        loop {
            let page = self.store.credentials_by_kid(kid, after.as_ref(), 1000).await?;
            let Some(last) = page.last() else { return Ok(n) };
            after = Some(last.id.clone());
            n += page.len() as u64;
        }
    }

    async fn job(&self, kid: &str) -> Result<Option<Job>> {
        match self.store.setting(&job_key(kid)).await? {
            Some(b) => Ok(Some(serde_json::from_slice(&b).map_err(|_| ServiceError::internal("re-issuance record"))?)),
            None => Ok(None),
        }
    }

    /// Where the re-issuance of `kid`'s credentials stands.
    pub async fn reissue_progress(&self, who: &Principal, kid: &str) -> Result<Progress> {
        require(who, Role::Admin)?;
        self.progress(kid).await
    }

    async fn progress(&self, kid: &str) -> Result<Progress> {
        let job = self.job(kid).await?;
        let entries = self.store.reoffers(kid).await?;
        let offered = entries.iter().filter(|e| matches!(e.outcome, ReofferOutcome::Offered { .. })).count() as u64;
        let skipped = entries.len() as u64 - offered;
        let notices_pending = entries.iter().filter(|e| e.notice.is_some()).count() as u64;
        let state = match &job {
            None => "not_started",
            Some(j) if j.finished_at.is_some() => "finished",
            Some(_) if self.reissues.contains(kid) => "running",
            Some(_) => "interrupted",
        };
        Ok(Progress {
            kid: kid.to_owned(),
            state: state.into(),
            total: job.as_ref().map_or(0, |j| j.total),
            done: offered + skipped,
            offered,
            skipped,
            notices_pending,
            started_at: job.as_ref().map(|j| j.started_at),
            finished_at: job.and_then(|j| j.finished_at),
        })
    }

    /// Starts (or resumes) re-offering every credential the revoked key `kid` signed, in the
    /// background; answers with the progress. Refused (`key_not_revoked`) for a key that is not
    /// revoked, and when this node cannot issue (no usable active key).
    pub async fn start_reissue(self: &Arc<Self>, who: &Principal, kid: &str) -> Result<Progress> {
        require(who, Role::Admin)?;
        let revoked =
            self.store.keys().await?.iter().any(|(_, k)| k.kid.to_string() == kid && k.state == KeyState::Revoked);
        if !revoked {
            return Err(ServiceError::conflict("key_not_revoked"));
        }
        let now = self.now();
        // The holders will be issued new credentials: this node must be able to sign them.
        self.signer_for(now)?;
        match self.job(kid).await? {
            Some(j) if j.finished_at.is_some() => return self.progress(kid).await,
            Some(j) if !self.reissues.contains(kid) => {
                let done = self.store.reoffers(kid).await?.len();
                let detail = format!("node={} done={done} total={}", self.custody.node(), j.total);
                self.store
                    .append_audit(AuditEntry::new(now, who.id.as_str(), "reissue.resumed", kid, Some(detail)))
                    .await?;
            }
            Some(_) => {}
            None => {
                let total = self.count_signed(kid).await?;
                let job = Job {
                    kid: kid.to_owned(),
                    started_at: now,
                    started_by: who.id.to_string(),
                    total,
                    finished_at: None,
                };
                let detail = format!("node={} credentials_signed={total}", self.custody.node());
                let audit = AuditEntry::new(now, who.id.as_str(), "reissue.started", kid, Some(detail));
                self.store.put_setting(&job_key(kid), crate::store::to_json(&job), Some(audit)).await?;
            }
        }
        if self.reissues.claim(kid) {
            let this = Arc::clone(self);
            let kid = kid.to_owned();
            tokio::spawn(async move {
                // Released however the run ends (a panic included), so it can be started again.
                let _claim = Claim(&this, &kid);
                if let Err(e) = this.run_reissue(&kid).await {
                    tracing::error!(%kid, error = %e, "re-issuance stopped; run it again to resume");
                }
            });
        }
        self.progress(kid).await
    }

    /// The work of one run: notices left unsent, then every credential without an entry.
    async fn run_reissue(&self, kid: &str) -> Result<()> {
        let entries = self.store.reoffers(kid).await?;
        let mut done: HashSet<CredentialId> = entries.iter().map(|e| e.credential.clone()).collect();
        for e in entries.iter().filter(|e| e.notice.is_some()) {
            self.deliver_reoffer(e).await;
        }
        let pause = Duration::from_secs_f64(1.0 / f64::from(self.settings.reoffer_rate.max(1)));
        let mut after: Option<CredentialId> = None;
        loop {
            let page = self.store.credentials_by_kid(kid, after.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for cred in page {
                if !done.insert(cred.id.clone()) {
                    continue;
                }
                if let Some(entry) = self.reoffer_one(kid, &cred).await? {
                    self.deliver_reoffer(&entry).await;
                    tokio::time::sleep(pause).await;
                }
            }
        }
        let left = self.store.reoffers(kid).await?.iter().filter(|e| e.notice.is_some()).count();
        if left > 0 {
            tracing::warn!(%kid, left, "re-issuance done but notices are unsent: run it again to send them");
            return Ok(());
        }
        if let Some(mut job) = self.job(kid).await? {
            let now = self.now();
            job.finished_at = Some(now);
            let p = self.progress(kid).await?;
            let detail = format!("node={} offered={} skipped={}", self.custody.node(), p.offered, p.skipped);
            let audit = AuditEntry::new(now, "system", "reissue.finished", kid, Some(detail));
            self.store.put_setting(&job_key(kid), crate::store::to_json(&job), Some(audit)).await?;
            tracing::info!(%kid, offered = p.offered, skipped = p.skipped, "re-issuance finished");
        }
        Ok(())
    }

    /// Decides and records one credential's step; the entry when it was re-offered here, `None`
    /// when it was skipped or another run recorded it first.
    async fn reoffer_one(&self, kid: &str, cred: &CredentialRow) -> Result<Option<ReofferEntry>> {
        for _attempt in 0..4 {
            let mut view = self.load(&cred.application).await?;
            let now = self.now();
            let status = self.store.status(cred.status_list, cred.status_idx).await?;
            let skip = if view.meta.credential.as_ref() != Some(&cred.id) || view.meta.state != Status::Issued {
                Some("superseded")
            } else if status == Some(verifier::build::statuslist::INVALID) {
                Some("revoked")
            } else if cred.expires_at < now {
                Some("expired")
            } else {
                None
            };
            let base = |outcome, notice| ReofferEntry {
                kid: kid.to_owned(),
                credential: cred.id.clone(),
                application: cred.application.clone(),
                at: now,
                outcome,
                notice,
            };
            let (entry, offer, audit) = match skip {
                Some(reason) => {
                    let entry = base(ReofferOutcome::Skipped { reason: reason.into() }, None);
                    let detail = format!("kid={kid} application={} reason={reason}", cred.application);
                    let audit =
                        AuditEntry::new(now, "system", "credential.reoffer_skipped", cred.id.as_str(), Some(detail));
                    (entry, None, audit)
                }
                None => {
                    let generation = view.meta.offer.as_ref().map_or(0, |o| o.generation) + 1;
                    let (offer, code_hash, code) = self.new_offer(&mut view, generation, now);
                    let secrets = Secrets {
                        offer_uri: offer.offer_uri.clone(),
                        tx_code: offer.tx_code.clone(),
                        expires_at: offer.expires_at,
                    };
                    let plain = Zeroizing::new(crate::store::to_json(&secrets));
                    let sealed = self.sealer.seal(&notice_aad(kid, &cred.id), &plain);
                    let entry = base(ReofferOutcome::Offered { generation }, Some(sealed));
                    let detail = format!("kid={kid} application={} generation={generation}", cred.application);
                    let audit = AuditEntry::new(now, "system", "credential.reoffered", cred.id.as_str(), Some(detail));
                    (entry, Some(Reoffer { app: self.change_of(&view), code_hash, code }), audit)
                }
            };
            let offered = offer.is_some();
            match self.store.record_reoffer(entry.clone(), offer, audit).await {
                Ok(()) => return Ok(offered.then_some(entry)),
                Err(StoreError::Conflict(Conflict::AlreadyReoffered)) => return Ok(None),
                Err(StoreError::Conflict(Conflict::ApplicationChanged)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::conflict("application_changed"))
    }

    /// Hands a re-offer's notice to the notifier and, once it has it, drops the sealed secrets
    /// from the entry. A failure is logged and audited; the entry keeps the notice for the next
    /// run.
    async fn deliver_reoffer(&self, entry: &ReofferEntry) {
        if let Err(e) = self.try_deliver(entry).await {
            tracing::error!(credential = %entry.credential, error = %e, "re-offer not sent; a later run sends it");
            let detail = format!("kid={} application={} via={}", entry.kid, entry.application, self.notifier.name());
            let audit = AuditEntry::new(
                self.now(),
                "system",
                "offer.reoffer_not_sent",
                entry.credential.as_str(),
                Some(detail),
            );
            if let Err(e) = self.store.append_audit(audit).await {
                tracing::error!(error = %e, "could not audit the unsent re-offer");
            }
        }
    }

    async fn try_deliver(&self, entry: &ReofferEntry) -> Result<()> {
        let (Some(sealed), ReofferOutcome::Offered { generation }) = (&entry.notice, &entry.outcome) else {
            return Ok(());
        };
        let plain =
            self.sealer.open(&notice_aad(&entry.kid, &entry.credential), sealed).map_err(ServiceError::internal)?;
        let secrets: Secrets =
            serde_json::from_slice(&plain).map_err(|_| ServiceError::internal("sealed re-offer does not decode"))?;
        let view = self.load(&entry.application).await?;
        let form = &view.record.form;
        let lang = applicant_lang(form);
        let notice = ReofferNotice {
            application: entry.application.clone(),
            credential: entry.credential.clone(),
            generation: *generation,
            lang,
            phone: form.phone().as_str().to_owned(),
            email: form.email().as_str().to_owned(),
            offer_uri: secrets.offer_uri,
            tx_code: secrets.tx_code.clone(),
            subject: crate::i18n::message_id(lang, "api-notify-reoffer-subject"),
            text: crate::i18n::reoffer_notice(lang, secrets.tx_code.as_str(), secrets.expires_at),
            expires_at: secrets.expires_at,
        };
        self.notifier.send_reoffer(&notice).await.map_err(ServiceError::internal)?;
        let detail = format!(
            "kid={} application={} generation={generation} via={} channels=sms,email lang={}",
            entry.kid,
            entry.application,
            self.notifier.name(),
            lang.tag()
        );
        let audit =
            AuditEntry::new(self.now(), "system", "offer.reoffer_sent", entry.credential.as_str(), Some(detail));
        self.store.reoffer_sent(&entry.kid, &entry.credential, audit).await?;
        Ok(())
    }
}
