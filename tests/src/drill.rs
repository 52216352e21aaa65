//! The crash drill: concurrent clients run the whole pipeline against one node while it is
//! killed with SIGKILL at random moments and restarted on the same data folder and address.
//! Clients behave as officers and wallets would after a failure: they re-read where the
//! application is and carry on from there, retry a lost token request with the same code, and a
//! lost credential request with the same access token and device key.
//!
//! What it checks, after every restart and at the end: every acknowledged issuance is present
//! (its application is `issued`), every credential verifies against the published trust list
//! and status list, no status index is used by two applications, and no client is stranded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use rand_core::RngCore as _;
use serde_json::{json, Value};

use crate::load::{self, Answer, CallError, Client, Counter, Device, Person};
use crate::Issuer;

/// How long a client keeps retrying one request while the node is down.
const OUTAGE: Duration = Duration::from_secs(60);

/// Settings of a drill.
#[derive(Debug, Clone)]
pub struct DrillConfig {
    pub clients: usize,
    pub kills: usize,
    /// Random time between a restart and the next kill.
    pub min_gap: Duration,
    pub max_gap: Duration,
    /// Persons in the registry file (enough for every pipeline the drill will run).
    pub people: u64,
    /// Extra `issuer serve` arguments.
    pub extra: Vec<String>,
}

/// What a drill saw.
#[derive(Debug, Default)]
pub struct DrillReport {
    pub kills: usize,
    pub issued: usize,
    /// Requests that failed at the transport and were retried.
    pub retried: u64,
    /// Clients that could not obtain their credential.
    pub stranded: Vec<String>,
    /// Acknowledged issuances missing after a restart.
    pub lost: Vec<String>,
    /// Status indices used by more than one application.
    pub duplicate_indices: Vec<u64>,
    /// Credentials that do not verify.
    pub unverified: Vec<String>,
}

/// One acknowledged issuance.
#[derive(Debug, Clone)]
struct Issued {
    application: String,
    sd_jwt: String,
}

struct Shared {
    officer: String,
    stop: AtomicBool,
    retried: AtomicU64,
    issued: Mutex<Vec<Issued>>,
    stranded: Mutex<Vec<String>>,
}

/// Sends a request until it gets an answer (any status), retrying transport failures while the
/// node is down.
async fn answer<F, Fut>(shared: &Shared, f: F) -> Result<Answer>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Answer, CallError>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(a) => return Ok(a),
            Err(e) => {
                if start.elapsed() > OUTAGE {
                    bail!("no answer for {OUTAGE:?}: {e}");
                }
                shared.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn expect(a: &Answer, want: u16, what: &str) -> Result<Value> {
    if a.status == want {
        Ok(a.json())
    } else {
        Err(anyhow!("{what}: HTTP {} {}", a.status, String::from_utf8_lossy(&a.body)))
    }
}

/// One person from submission to credential, recovering from node crashes on the way.
async fn person(c: &Client, shared: &Shared, p: Person) -> Result<Issued> {
    let officer = shared.officer.as_str();
    let form = p.form();
    let a = answer(shared, || c.post_json("/v1/applications", Some(officer), &form)).await?;
    let id = match a.status {
        201 => a.json()["id"].as_str().unwrap_or_default().to_owned(),
        // The first attempt was committed but its answer lost: find the application.
        409 if a.error_code() == "application_exists" => {
            let body = json!({"nationality": form["nationality"], "passport_number": form["passport_number"]});
            let a = answer(shared, || c.post_json("/v1/applications/lookup", Some(officer), &body)).await?;
            expect(&a, 200, "lookup")?["id"].as_str().unwrap_or_default().to_owned()
        }
        _ => return Err(anyhow!("submit: HTTP {} {}", a.status, String::from_utf8_lossy(&a.body))),
    };
    let mut code: Option<load::Code> = None;
    // Officer steps, driven by the state the issuer reports (after a crash, re-read and go on).
    loop {
        let view = format!("/v1/applications/{id}");
        let a = answer(shared, || c.get(&view, Some(officer))).await?;
        let state = expect(&a, 200, "view")?["state"].as_str().unwrap_or_default().to_owned();
        let step = match state.as_str() {
            "submitted" => "biometrics",
            "biometrics_captured" => "national-check",
            "data_checked" => "approve",
            "approved" if code.is_some() => break,
            "approved" => "offer",
            other => bail!("application {id} is {other} before its credential was collected"),
        };
        let path = format!("/v1/applications/{id}/{step}");
        let a = if step == "biometrics" {
            let (ct, body) = load::biometrics_body(p.0 as u8);
            answer(shared, || c.call("POST", &path, Some(officer), Some(&ct), body.clone())).await?
        } else {
            let empty = json!({});
            answer(shared, || c.post_json(&path, Some(officer), &empty)).await?
        };
        match a.status {
            200 if step == "approve" || step == "offer" => {
                code = Some(load::code_of(&a.json())?);
            }
            200 => {}
            // A retried step that had been done: the next view shows where it stands.
            409 => {}
            _ => bail!("{step}: HTTP {} {}", a.status, String::from_utf8_lossy(&a.body)),
        }
    }
    // The wallet.
    let device = Device::generate();
    for _renewal in 0..3 {
        let Some(c_code) = code.clone() else { break };
        let body = load::token_body(&c_code);
        let a =
            answer(shared, || c.call("POST", "/token", None, Some("application/x-www-form-urlencoded"), body.clone()))
                .await?;
        if a.status != 200 {
            // The code died (renewed): the officer renews the offer.
            let path = format!("/v1/applications/{id}/offer");
            let empty = json!({});
            let a = answer(shared, || c.post_json(&path, Some(officer), &empty)).await?;
            code = Some(load::code_of(&expect(&a, 200, "renew offer")?)?);
            continue;
        }
        let v = a.json();
        let access = v["access_token"].as_str().unwrap_or_default().to_owned();
        // A lost answer is retried with the same token and proof. A request whose answer was
        // lost has used its nonce, so the retry may hear `invalid_nonce`: a fresh nonce and a
        // proof by the same device key then get the same credential back.
        for _fresh_nonce in 0..5 {
            let n = answer(shared, || c.call("POST", "/nonce", Some(&access), None, bytes::Bytes::new())).await?;
            let nonce = expect(&n, 200, "nonce")?["c_nonce"].as_str().unwrap_or_default().to_owned();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let body = load::credential_body(&device.proof(&c.base, &nonce, now));
            let a =
                answer(shared, || c.call("POST", "/credential", Some(&access), Some("application/json"), body.clone()))
                    .await?;
            if a.status == 400 && a.error_code() == "invalid_nonce" {
                continue;
            }
            let v = expect(&a, 200, "credential")?;
            let sd_jwt = crate::find_sd_jwt(&v).ok_or_else(|| anyhow!("no SD-JWT in {v}"))?;
            return Ok(Issued { application: id, sd_jwt });
        }
        bail!("application {id}: five fresh nonces refused");
    }
    bail!("application {id}: no usable offer after three renewals")
}

/// What the audits have checked so far.
#[derive(Debug, Default)]
struct Checked {
    /// How many of the acknowledged issuances have been verified (each once: a credential does
    /// not change after it is issued).
    verified: usize,
    by_index: BTreeMap<u64, String>,
}

/// Checks the acknowledged issuances against the node: every one present (its application
/// `issued`, from one list request), the new ones verifying against the published trust list
/// and status list, no status index used by two applications.
async fn audit_issued(
    c: &Client,
    shared: &Shared,
    root: &str,
    checked: &mut Checked,
    report: &mut DrillReport,
) -> Result<()> {
    let issued = shared.issued.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    let list = answer(shared, || c.get("/v1/applications", Some(&shared.officer))).await?;
    let states: BTreeMap<String, String> = expect(&list, 200, "list")?["applications"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| (v["id"].as_str().unwrap_or("").to_owned(), v["state"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for i in &issued {
        if states.get(&i.application).map(String::as_str) != Some("issued") {
            report.lost.push(i.application.clone());
        }
    }
    let trust = answer(shared, || c.get("/.well-known/vneid-trust-list", None)).await?;
    let root: verifier::PublicKey = root.parse().map_err(|_| anyhow!("root key"))?;
    let mut store = verifier::TrustStore::from_signed(&String::from_utf8_lossy(&trust.body), &root)
        .map_err(|e| anyhow!("trust list: {e}"))?;
    for list in store.trust_list().status_lists.clone() {
        let path = list.uri.split_once("/status-lists/").map(|(_, id)| format!("/status-lists/{id}"));
        let tok = answer(shared, || c.get(path.as_deref().unwrap_or("/"), None)).await?;
        store.add_status_list(list.id, &String::from_utf8_lossy(&tok.body)).map_err(|e| anyhow!("status list: {e}"))?;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    for i in &issued[checked.verified..] {
        match store.verify_sd_jwt(&i.sd_jwt, now, &verifier::Policy::default(), None) {
            verifier::Outcome::Valid(ok) => {
                if let Some((_, idx)) = ok.status {
                    if let Some(other) = checked.by_index.insert(idx, i.application.clone()) {
                        if other != i.application {
                            report.duplicate_indices.push(idx);
                        }
                    }
                }
            }
            other => report.unverified.push(format!("{}: {}", i.application, other.code())),
        }
    }
    checked.verified = issued.len();
    report.issued = issued.len();
    Ok(())
}

/// Runs a drill on a fresh data folder under `dir`.
pub async fn drill(dir: &Path, cfg: &DrillConfig) -> Result<DrillReport> {
    let registry = dir.join("registry.jsonl");
    load::write_registry(&registry, cfg.people)?;
    let data = dir.join("data");
    let extra: Vec<&str> = cfg.extra.iter().map(String::as_str).collect();
    let first = Issuer::start_with(&data, &registry, "127.0.0.1:0", &extra)?;
    let listen = first.addr().to_owned();
    let root = first.root_key.clone();
    let c = Client::new(&first.url);
    let admin = first.admin_token.clone().ok_or_else(|| anyhow!("no admin token"))?;
    let officer = load::officer(&c, &admin).await?;
    let shared = Arc::new(Shared {
        officer,
        stop: AtomicBool::new(false),
        retried: AtomicU64::new(0),
        issued: Mutex::new(Vec::new()),
        stranded: Mutex::new(Vec::new()),
    });
    let counter = Arc::new(Counter::starting_at(0));
    let mut workers = Vec::new();
    for _ in 0..cfg.clients {
        let (c, shared, counter) = (c.clone(), shared.clone(), counter.clone());
        workers.push(tokio::spawn(async move {
            while !shared.stop.load(Ordering::Relaxed) {
                let p = counter.next();
                match person(&c, &shared, p).await {
                    Ok(i) => shared.issued.lock().map(|mut v| v.push(i)).unwrap_or(()),
                    Err(e) => shared.stranded.lock().map(|mut v| v.push(format!("{p:?}: {e:#}"))).unwrap_or(()),
                }
            }
        }));
    }
    let mut report = DrillReport::default();
    let mut checked = Checked::default();
    let mut node = Some(first);
    for _ in 0..cfg.kills {
        let gap = cfg.min_gap
            + Duration::from_millis(
                rand_core::OsRng.next_u64() % (cfg.max_gap.saturating_sub(cfg.min_gap).as_millis() as u64 + 1),
            );
        tokio::time::sleep(gap).await;
        if let Some(n) = node.take() {
            n.kill();
        }
        report.kills += 1;
        let started = tokio::task::spawn_blocking({
            let (data, registry, listen, extra) = (data.clone(), registry.clone(), listen.clone(), cfg.extra.clone());
            move || {
                let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
                Issuer::start_with(&data, &registry, &listen, &extra)
            }
        })
        .await??;
        node = Some(started);
        audit_issued(&c, &shared, &root, &mut checked, &mut report).await?;
        eprintln!(
            "drill: kill {} done; {} issued so far; data folder {} KiB",
            report.kills,
            report.issued,
            load::disk_usage(&data) / 1024
        );
    }
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }
    audit_issued(&c, &shared, &root, &mut checked, &mut report).await?;
    report.lost.sort();
    report.lost.dedup();
    report.duplicate_indices.sort_unstable();
    report.duplicate_indices.dedup();
    report.unverified.sort();
    report.unverified.dedup();
    report.retried = shared.retried.load(Ordering::Relaxed);
    report.stranded = shared.stranded.lock().map(|v| v.clone()).unwrap_or_default();
    drop(node);
    Ok(report)
}
