//! The national registry's change feed in end-to-end tests: the change log the registry appends
//! to (`issuer serve --registry-changes FILE`, docs/registry.md), running the issuer's job through
//! the admin API, and reading the whole audit log.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::Http;

/// The registry's change log: JSON Lines, appended to.
#[derive(Debug, Clone)]
pub struct ChangeLog {
    path: PathBuf,
}

impl ChangeLog {
    /// An empty change log at `path`.
    pub fn create(path: &Path) -> Result<Self> {
        std::fs::write(path, b"").with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends entries (one write, as a registry export would).
    pub fn append(&self, entries: &[Value]) -> Result<()> {
        let mut text = String::new();
        for e in entries {
            text.push_str(&e.to_string());
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        Ok(())
    }
}

/// A change-log entry: `event` (`revoked`, `expired`, `replaced`, `reinstated`) of `card` at
/// position `seq`, for the registry's `reason`.
pub fn change(seq: u64, card: &str, event: &str, reason: &str) -> Value {
    json!({"seq": seq, "card": card, "event": event, "at": "2026-11-30T08:30:00+07:00", "reason": reason})
}

/// A replacement of `card` by `new_card` (temporary, valid to 2031).
pub fn replaced(seq: u64, card: &str, new_card: &str, reason: &str) -> Value {
    let mut c = change(seq, card, "replaced", reason);
    c["new_card"] =
        json!({"number": new_card, "kind": "temporary", "issued_on": "2026-11-01", "expires_on": "2031-10-31"});
    c
}

/// The job's progress (`GET /v1/admin/registry/sync`).
pub fn progress(http: &Http, admin: &str) -> Result<Value> {
    let (st, v) = http.get("/v1/admin/registry/sync", Some(admin))?;
    if st != 200 {
        bail!("registry sync progress: HTTP {st} {v}");
    }
    Ok(v)
}

/// Asks the issuer to run the job now (`POST /v1/admin/registry/sync`, 202) and waits until no
/// run is going; returns the last progress. A run that stopped on an error fails.
pub fn run_job(http: &Http, admin: &str) -> Result<Value> {
    let (st, v) = http.post("/v1/admin/registry/sync", Some(admin), &json!({}))?;
    if st != 202 {
        bail!("run the registry sync: HTTP {st} {v}");
    }
    let t0 = Instant::now();
    loop {
        let v = progress(http, admin)?;
        if v["running"] == false {
            if let Some(e) = v["run"]["error"].as_str() {
                bail!("the registry sync stopped: {e}");
            }
            return Ok(v);
        }
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("the registry sync did not finish in 300 s: {v}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every audit entry, oldest first (paged through `GET /v1/admin/audit`).
pub fn audit_all(http: &Http, admin: &str) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let path = match after {
            Some(a) => format!("/v1/admin/audit?limit=1000&after={a}"),
            None => "/v1/admin/audit?limit=1000".to_owned(),
        };
        let (st, v) = http.get(&path, Some(admin))?;
        if st != 200 {
            bail!("audit: HTTP {st} {v}");
        }
        let page = v["entries"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page.iter().map(|e| e["entry"].clone()));
        after = v["next_after"].as_u64();
    }
}

/// The lines of the notifier's outbox file of `kind` (`tx_code`, `registry_change`,
/// `renewal_offer`).
pub fn outbox(path: &Path, kind: &str) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)?;
        if v["kind"] == kind {
            out.push(v);
        }
    }
    Ok(out)
}
