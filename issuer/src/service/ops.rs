//! What operators ask of a node: is it ready to serve (`/readyz`), how old is what it
//! publishes, how long may its key still sign, which applications are overdue; and the audit
//! of failed authentications in aggregate.

use std::time::Duration;

use serde::Serialize;

use super::{Result, Service};
use crate::store::{AuditEntry, StoreError};

/// Failed authentications since the last report, in aggregate (no client is named).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureReport {
    pub failures: u64,
    pub clients: u64,
    pub max_per_client: u32,
    pub locked_out: u64,
}

/// One check of [`Service::readiness`].
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What is wrong (a code-like phrase; no personal data), or what was found.
    pub detail: String,
}

/// Whether the node should get traffic, and why not.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

/// The `iat`-like time a signed token was issued, from its payload (`issued_at` for the trust
/// list, `iat` for status lists), and its `next_update`/`exp`.
fn token_times(token: &str) -> Option<(u64, Option<u64>)> {
    let jws = verifier::build::jws::Jws::parse(token).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&jws.payload).ok()?;
    let issued = v.get("issued_at").or_else(|| v.get("iat")).and_then(serde_json::Value::as_u64)?;
    let until = v.get("next_update").or_else(|| v.get("exp")).and_then(serde_json::Value::as_u64);
    Some((issued, until))
}

impl Service {
    /// The settings `/readyz` checks against.
    pub fn health_settings(&self) -> &crate::config::Health {
        &self.settings.health
    }

    /// The node is ready when: the store makes a write durable within `write_timeout_ms` (and
    /// its volume has more free space than the write floor); the
    /// signing key is inside its signing period, not revoked, and signs; the trust list and
    /// every status list token served are younger than their limits (and not past their own
    /// `next_update`/`exp`).
    pub async fn readiness(&self, h: &crate::config::Health) -> Readiness {
        let now = self.now();
        let mut checks = Vec::new();
        let deadline = Duration::from_millis(h.write_timeout_ms.max(1));
        let store = match tokio::time::timeout(deadline, self.store.ping()).await {
            Ok(Ok(())) => Check { name: "store", ok: true, detail: "a write is durable within the bound".into() },
            Ok(Err(StoreError::DiskFull)) => Check { name: "store", ok: false, detail: "disk full".into() },
            Ok(Err(StoreError::Busy)) => Check { name: "store", ok: false, detail: "busy".into() },
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the store refused a write");
                Check { name: "store", ok: false, detail: "write failed".into() }
            }
            Err(_) => Check {
                name: "store",
                ok: false,
                detail: format!("no durable write within {} ms", deadline.as_millis()),
            },
        };
        let store = match self.store.free_bytes() {
            Some(free) if store.ok && free < self.settings.disk_floor => {
                Check { name: "store", ok: false, detail: format!("disk full: {free} bytes free") }
            }
            _ => store,
        };
        checks.push(store);
        let key = match self.custody.signer_for(now) {
            Err(e) => Check { name: "signing_key", ok: false, detail: e.to_string() },
            Ok(signer) if self.revoked_in_store(&signer.kid().to_string()) => {
                Check { name: "signing_key", ok: false, detail: "the active key was revoked".into() }
            }
            Ok(signer) => match signer.sign(b"vneid readiness probe") {
                Ok(_) => Check {
                    name: "signing_key",
                    ok: true,
                    detail: format!(
                        "{} signs; {} days left",
                        signer.kid(),
                        self.signing_key_days_left(now).unwrap_or(0.0) as i64
                    ),
                },
                Err(e) => Check { name: "signing_key", ok: false, detail: format!("does not sign: {e}") },
            },
        };
        checks.push(key);
        let trust = match self.trust_list_token().as_deref().and_then(token_times) {
            None => Check { name: "trust_list", ok: false, detail: "none served".into() },
            Some((issued, until)) => {
                let age = now.saturating_sub(issued);
                let ok = age <= h.max_trust_list_age_s && until.is_none_or(|u| now < u);
                Check { name: "trust_list", ok, detail: format!("{age} s old") }
            }
        };
        checks.push(trust);
        let lists = self.status_lists();
        let mut oldest = 0;
        let mut missing = Vec::new();
        let mut expired = false;
        for l in &lists {
            match self.status_list_token(l.id).as_deref().and_then(token_times) {
                None => missing.push(l.id),
                Some((iat, exp)) => {
                    oldest = oldest.max(now.saturating_sub(iat));
                    expired |= exp.is_some_and(|e| now >= e);
                }
            }
        }
        let ok = !lists.is_empty() && missing.is_empty() && !expired && oldest <= h.max_status_list_age_s;
        let detail = if !missing.is_empty() {
            format!("no token for lists {missing:?}")
        } else {
            format!("{} lists, oldest token {oldest} s old", lists.len())
        };
        checks.push(Check { name: "status_lists", ok, detail });
        Readiness { ready: checks.iter().all(|c| c.ok), checks }
    }

    /// Days (fractional) until this node's active key may no longer sign; negative once past.
    pub fn signing_key_days_left(&self, now: u64) -> Option<f64> {
        let kid = self.custody.signer().kid().clone();
        let rec = self.custody.key_records().into_iter().find(|k| k.kid == kid)?;
        Some((rec.sign_until as f64 - now as f64) / 86_400.0)
    }

    /// Age in seconds of every token served: `trust_list`, and `status_list/<id>`.
    pub fn published_ages(&self, now: u64) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        if let Some((issued, _)) = self.trust_list_token().as_deref().and_then(token_times) {
            out.push(("trust_list".to_owned(), now.saturating_sub(issued)));
        }
        for l in self.status_lists() {
            if let Some((iat, _)) = self.status_list_token(l.id).as_deref().and_then(token_times) {
                out.push((format!("status_list/{}", l.id), now.saturating_sub(iat)));
            }
        }
        out
    }

    /// Open applications past their due date, per reception point (every point that has an
    /// application, zeros included).
    pub async fn overdue_by_point(&self) -> Result<Vec<(String, i64)>> {
        let today = verifier::Date::from_unix_vn(self.now());
        let mut per: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
        for (_, m) in self.store.application_metas(None).await? {
            let n = per.entry(m.reception_point.clone()).or_insert(0);
            if m.due_on < today && !m.state.is_closed() {
                *n += 1;
            }
        }
        Ok(per.into_iter().collect())
    }

    /// Writes the failed authentications of the last `interval_s` seconds to the audit log, in
    /// aggregate: counts only, no address or token.
    pub async fn record_auth_failures(&self, r: &FailureReport, interval_s: u64) -> Result<()> {
        let detail = format!(
            "failures={} clients={} max_per_client={} locked_out={} interval_s={interval_s}",
            r.failures, r.clients, r.max_per_client, r.locked_out
        );
        let audit = AuditEntry::new(self.now(), "system", "auth.failures", "edge", Some(detail));
        self.store.append_audit(audit).await?;
        Ok(())
    }
}
