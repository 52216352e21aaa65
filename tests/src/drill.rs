//! The crash drill: concurrent clients run the whole pipeline against one node, or against
//! several nodes sharing PostgreSQL, while a node is killed with SIGKILL at random moments and
//! restarted on the same data folder and address.
//!
//! Clients behave as officers and wallets would after a failure. Without idempotency keys they
//! re-read where the application is and carry on from there; with them (the cluster drill) they
//! send the same request again with the same key, to the next node, and get the first answer.
//! A lost token request is retried with the same code; a lost credential request with the same
//! access token and device key.
//!
//! What it checks, after every restart and at the end: every acknowledged issuance is present
//! (its application is `issued`), every credential verifies against the published trust list
//! and status list, no status index is used by two applications, no client is stranded, and (with
//! several nodes) every node publishes the same status lists, including changes made through
//! another node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use rand_core::RngCore as _;
use serde_json::{json, Value};

use crate::load::{self, Answer, Client, Counter, Device, Person};
use crate::Issuer;

/// How long a client keeps retrying one request while nodes are down.
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
    /// Nodes; more than one needs `database`.
    pub nodes: usize,
    /// A PostgreSQL URL the nodes share (else one node on the embedded store).
    pub database: Option<String>,
    /// Whether officer steps carry `Idempotency-Key` (retries go to the next node).
    pub idempotency: bool,
}

impl DrillConfig {
    /// One embedded node, state-driven recovery.
    pub fn single(clients: usize, kills: usize, people: u64) -> Self {
        Self {
            clients,
            kills,
            min_gap: Duration::from_millis(300),
            max_gap: Duration::from_millis(1500),
            people,
            extra: vec![],
            nodes: 1,
            database: None,
            idempotency: false,
        }
    }
}

/// What a drill saw.
#[derive(Debug, Default)]
pub struct DrillReport {
    pub kills: usize,
    pub issued: usize,
    /// Requests that failed at the transport and were retried.
    pub retried: u64,
    /// Answers that came from an idempotency record rather than a second change.
    pub replayed: u64,
    /// Clients that could not obtain their credential.
    pub stranded: Vec<String>,
    /// Acknowledged issuances missing after a restart.
    pub lost: Vec<String>,
    /// Status indices used by more than one application.
    pub duplicate_indices: Vec<u64>,
    /// Applications holding more than one credential in the store (every key's credentials,
    /// listed through the admin API at the end).
    pub duplicate_credentials: Vec<String>,
    /// Credentials in the store, counted that way.
    pub stored_credentials: usize,
    /// Credentials that do not verify.
    pub unverified: Vec<String>,
    /// Nodes whose published status lists differ from the others' (cluster drill).
    pub disagreeing_nodes: Vec<String>,
}

impl DrillReport {
    pub fn clean(&self) -> bool {
        self.stranded.is_empty()
            && self.lost.is_empty()
            && self.duplicate_indices.is_empty()
            && self.duplicate_credentials.is_empty()
            && self.stored_credentials >= self.issued
            && self.unverified.is_empty()
            && self.disagreeing_nodes.is_empty()
    }

    pub fn summary(&self) -> String {
        format!(
            "kills {} issued {} stored {} retried {} stranded {} lost {} duplicate indices {} duplicate credentials {} \
             unverified {} disagreeing nodes {}",
            self.kills,
            self.issued,
            self.stored_credentials,
            self.retried,
            self.stranded.len(),
            self.lost.len(),
            self.duplicate_indices.len(),
            self.duplicate_credentials.len(),
            self.unverified.len(),
            self.disagreeing_nodes.len()
        )
    }
}

/// One acknowledged issuance.
#[derive(Debug, Clone)]
struct Issued {
    application: String,
    sd_jwt: String,
}

struct Shared {
    clients: Vec<Client>,
    officer: String,
    admin: String,
    idempotency: bool,
    stop: AtomicBool,
    retried: AtomicU64,
    issued: Mutex<Vec<Issued>>,
    stranded: Mutex<Vec<String>>,
}

/// A request the drill sends (and sends again after a transport failure).
#[derive(Debug, Clone)]
struct Req<'a> {
    method: &'a str,
    path: &'a str,
    token: Option<&'a str>,
    content_type: Option<&'a str>,
    body: Bytes,
    key: Option<&'a str>,
}

impl<'a> Req<'a> {
    fn get(path: &'a str, token: Option<&'a str>) -> Self {
        Req { method: "GET", path, token, content_type: None, body: Bytes::new(), key: None }
    }
    fn post(path: &'a str, token: Option<&'a str>, content_type: &'a str, body: Bytes, key: Option<&'a str>) -> Self {
        Req { method: "POST", path, token, content_type: Some(content_type), body, key }
    }
    fn json(path: &'a str, token: Option<&'a str>, body: &Value, key: Option<&'a str>) -> Self {
        Self::post(path, token, "application/json", Bytes::from(body.to_string()), key)
    }
}

/// Sends a request until it gets an answer (any status), retrying transport failures: on the
/// same node without idempotency keys (its state is re-read afterwards anyway), on the next
/// node with them.
async fn answer(shared: &Shared, primary: usize, r: &Req<'_>) -> Result<Answer> {
    let start = Instant::now();
    let mut node = primary;
    loop {
        let c = &shared.clients[node % shared.clients.len()];
        match c.call_keyed(r.method, r.path, r.token, r.content_type, r.body.clone(), r.key).await {
            Ok(a) => return Ok(a),
            Err(e) => {
                if start.elapsed() > OUTAGE {
                    bail!("no answer for {OUTAGE:?}: {e}");
                }
                shared.retried.fetch_add(1, Ordering::Relaxed);
                if shared.idempotency {
                    node += 1;
                }
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
async fn person(shared: &Shared, primary: usize, p: Person) -> Result<Issued> {
    let officer = shared.officer.as_str();
    let form = p.form();
    let key = |step: &str| shared.idempotency.then(|| format!("drill-{}-{step}", p.0));
    let submit_key = key("submit");
    let a =
        answer(shared, primary, &Req::json("/v1/applications", Some(officer), &form, submit_key.as_deref())).await?;
    let id = match a.status {
        201 => a.json()["id"].as_str().unwrap_or_default().to_owned(),
        // The first attempt was committed but its answer lost: find the application.
        409 if a.error_code() == "application_exists" => {
            let body = json!({"nationality": form["nationality"], "passport_number": form["passport_number"]});
            let a = answer(shared, primary, &Req::json("/v1/applications/lookup", Some(officer), &body, None)).await?;
            expect(&a, 200, "lookup")?["id"].as_str().unwrap_or_default().to_owned()
        }
        _ => return Err(anyhow!("submit: HTTP {} {}", a.status, String::from_utf8_lossy(&a.body))),
    };
    let mut code: Option<load::Code> = None;
    // Officer steps, driven by the state the issuer reports (after a crash, re-read and go on).
    loop {
        let view = format!("/v1/applications/{id}");
        let a = answer(shared, primary, &Req::get(&view, Some(officer))).await?;
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
        let step_key = key(step);
        let (ct, body) = if step == "biometrics" {
            load::biometrics_body(p.0 as u8)
        } else {
            ("application/json".to_owned(), Bytes::from_static(b"{}"))
        };
        let a = answer(shared, primary, &Req::post(&path, Some(officer), &ct, body, step_key.as_deref())).await?;
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
    for renewal in 0..3 {
        let Some(c_code) = code.clone() else { break };
        let body = load::token_body(&c_code);
        let a = answer(shared, primary, &Req::post("/token", None, "application/x-www-form-urlencoded", body, None))
            .await?;
        if a.status != 200 {
            // The code died (renewed): the officer renews the offer.
            let path = format!("/v1/applications/{id}/offer");
            let renew_key = key(&format!("renew-{renewal}"));
            let a = answer(shared, primary, &Req::json(&path, Some(officer), &json!({}), renew_key.as_deref())).await?;
            code = Some(load::code_of(&expect(&a, 200, "renew offer")?)?);
            continue;
        }
        let v = a.json();
        let access = v["access_token"].as_str().unwrap_or_default().to_owned();
        // A lost answer is retried with the same token and proof. A request whose answer was
        // lost has used its nonce, so the retry may hear `invalid_nonce`: a fresh nonce and a
        // proof by the same device key then get the same credential back. The proof's audience
        // is the issuer's public URL, which every node shares.
        let audience = shared.clients[0].issuer.clone();
        for _fresh_nonce in 0..5 {
            let n =
                answer(shared, primary, &Req::post("/nonce", Some(&access), "application/json", Bytes::new(), None))
                    .await?;
            let nonce = expect(&n, 200, "nonce")?["c_nonce"].as_str().unwrap_or_default().to_owned();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let body = load::credential_body(&device.proof(&audience, &nonce, now));
            let a = answer(shared, primary, &Req::post("/credential", Some(&access), "application/json", body, None))
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

/// The trust store a verifier syncing from node `n` would build (trust list and status lists,
/// all fetched from that node).
async fn synced_store(shared: &Shared, n: usize, root: &str) -> Result<verifier::TrustStore> {
    let trust = answer(shared, n, &Req::get("/.well-known/vneid-trust-list", None)).await?;
    let root: verifier::PublicKey = root.parse().map_err(|_| anyhow!("root key"))?;
    let mut store = verifier::TrustStore::from_signed(&String::from_utf8_lossy(&trust.body), &root)
        .map_err(|e| anyhow!("trust list: {e}"))?;
    for list in store.trust_list().status_lists.clone() {
        let path = list.uri.split_once("/status-lists/").map(|(_, id)| format!("/status-lists/{id}"));
        let tok = answer(shared, n, &Req::get(path.as_deref().unwrap_or("/"), None)).await?;
        store.add_status_list(list.id, &String::from_utf8_lossy(&tok.body)).map_err(|e| anyhow!("status list: {e}"))?;
    }
    Ok(store)
}

/// Checks the acknowledged issuances: every one present (its application `issued`, from one
/// list request), the new ones verifying against the published trust list and status lists, no
/// status index used by two applications.
async fn audit_issued(shared: &Shared, root: &str, checked: &mut Checked, report: &mut DrillReport) -> Result<()> {
    let issued = shared.issued.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    let list = answer(shared, 0, &Req::get("/v1/applications", Some(&shared.officer))).await?;
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
    let store = synced_store(shared, 0, root).await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    for i in &issued[checked.verified..] {
        match store.verify_sd_jwt(&i.sd_jwt, now, &verifier::Policy::default(), None) {
            verifier::Outcome::Valid(ok) => {
                if let Some((uri, idx)) = ok.status {
                    // Indices are unique per list: key by list and index.
                    let list = uri.rsplit('/').next().and_then(|l| l.parse::<u64>().ok()).unwrap_or(0);
                    let key = (list << 40) | idx;
                    if let Some(other) = checked.by_index.insert(key, i.application.clone()) {
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

/// Lists every credential in the store, key by key (`GET /v1/admin/keys`, then each key's
/// `GET /v1/admin/keys/{kid}/credentials` page by page), and reports applications that hold
/// more than one: a retried request must get its credential again, never a second one.
async fn count_stored_credentials(shared: &Shared, report: &mut DrillReport) -> Result<()> {
    let keys = answer(shared, 0, &Req::get("/v1/admin/keys", Some(&shared.admin))).await?;
    let keys = expect(&keys, 200, "keys")?;
    let mut per_app: BTreeMap<String, usize> = BTreeMap::new();
    for k in keys["keys"].as_array().cloned().unwrap_or_default() {
        let kid = k["kid"].as_str().unwrap_or_default().to_owned();
        let mut after = String::new();
        loop {
            let path = format!("/v1/admin/keys/{kid}/credentials?limit=1000&after={after}");
            let page = answer(shared, 0, &Req::get(&path, Some(&shared.admin))).await?;
            let page = expect(&page, 200, "credentials of a key")?;
            let creds = page["credentials"].as_array().cloned().unwrap_or_default();
            if creds.is_empty() {
                break;
            }
            for c in &creds {
                *per_app.entry(c["application"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
            }
            match page["next_after"].as_str() {
                Some(next) => after = next.to_owned(),
                None => break,
            }
        }
    }
    report.stored_credentials = per_app.values().sum();
    report.duplicate_credentials = per_app.into_iter().filter(|(_, n)| *n > 1).map(|(a, _)| a).collect();
    Ok(())
}

/// A node of the drill: how to start it again.
struct NodeSpec {
    data: PathBuf,
    listen: String,
    args: Vec<String>,
}

fn start(spec: &NodeSpec, registry: &Path) -> Result<Issuer> {
    let args: Vec<&str> = spec.args.iter().map(String::as_str).collect();
    Issuer::start_with(&spec.data, registry, &spec.listen, &args)
}

/// A free loopback port (bound, then released).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs a drill on fresh data folders under `dir`.
pub async fn drill(dir: &Path, cfg: &DrillConfig) -> Result<DrillReport> {
    let registry = dir.join("registry.jsonl");
    load::write_registry(&registry, cfg.people)?;
    let nodes = cfg.nodes.max(1);
    if nodes > 1 && cfg.database.is_none() {
        bail!("several nodes need a shared database");
    }
    let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect::<Result<_>>()?;
    // Every node answers for the same issuer: the first node's URL stands for the public one.
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let specs: Vec<NodeSpec> = (0..nodes)
        .map(|i| {
            let mut args = cfg.extra.clone();
            if let Some(db) = &cfg.database {
                args.extend([
                    "--database".into(),
                    db.clone(),
                    "--node".into(),
                    format!("node-{i}"),
                    "--keys".into(),
                    dir.join("deployment-keys").to_string_lossy().into_owned(),
                    "--public-url".into(),
                    public.clone(),
                ]);
            }
            NodeSpec { data: dir.join(format!("node-{i}")), listen: format!("127.0.0.1:{}", ports[i]), args }
        })
        .collect();
    // The first node creates the deployment keystore and the first admin; then the others.
    let mut running: Vec<Option<Issuer>> = Vec::new();
    for spec in &specs {
        running.push(Some(start(spec, &registry)?));
    }
    let first = running[0].as_ref().ok_or_else(|| anyhow!("no node"))?;
    let root = first.root_key.clone();
    let admin = first.admin_token.clone().ok_or_else(|| anyhow!("no admin token"))?;
    let clients: Vec<Client> = running.iter().flatten().map(|n| Client::new(&format!("http://{}", n.addr()))).collect();
    let officer = load::officer(&clients[0], &admin).await?;
    let shared = Arc::new(Shared {
        clients,
        officer,
        admin,
        idempotency: cfg.idempotency,
        stop: AtomicBool::new(false),
        retried: AtomicU64::new(0),
        issued: Mutex::new(Vec::new()),
        stranded: Mutex::new(Vec::new()),
    });
    let counter = Arc::new(Counter::starting_at(0));
    let mut workers = Vec::new();
    for w in 0..cfg.clients {
        let (shared, counter) = (shared.clone(), counter.clone());
        workers.push(tokio::spawn(async move {
            while !shared.stop.load(Ordering::Relaxed) {
                let p = counter.next();
                match person(&shared, w, p).await {
                    Ok(i) => shared.issued.lock().map(|mut v| v.push(i)).unwrap_or(()),
                    Err(e) => shared.stranded.lock().map(|mut v| v.push(format!("{p:?}: {e:#}"))).unwrap_or(()),
                }
            }
        }));
    }
    let mut report = DrillReport::default();
    let mut checked = Checked::default();
    for _ in 0..cfg.kills {
        let spread = cfg.max_gap.saturating_sub(cfg.min_gap).as_millis() as u64 + 1;
        tokio::time::sleep(cfg.min_gap + Duration::from_millis(rand_core::OsRng.next_u64() % spread)).await;
        let victim = (rand_core::OsRng.next_u64() % nodes as u64) as usize;
        if let Some(n) = running[victim].take() {
            n.kill();
        }
        report.kills += 1;
        let started = tokio::task::spawn_blocking({
            let (spec, registry) = (
                NodeSpec {
                    data: specs[victim].data.clone(),
                    listen: specs[victim].listen.clone(),
                    args: specs[victim].args.clone(),
                },
                registry.clone(),
            );
            move || start(&spec, &registry)
        })
        .await??;
        running[victim] = Some(started);
        audit_issued(&shared, &root, &mut checked, &mut report).await?;
        eprintln!(
            "drill: kill {} (node {victim}) done; {} issued so far; data {} KiB",
            report.kills,
            report.issued,
            load::disk_usage(dir) / 1024
        );
    }
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }
    audit_issued(&shared, &root, &mut checked, &mut report).await?;
    count_stored_credentials(&shared, &mut report).await?;
    if nodes > 1 {
        check_nodes_agree(&shared, &root, &mut report).await?;
    }
    report.lost.sort();
    report.lost.dedup();
    report.duplicate_indices.sort_unstable();
    report.duplicate_indices.dedup();
    report.unverified.sort();
    report.unverified.dedup();
    report.retried = shared.retried.load(Ordering::Relaxed);
    report.stranded = shared.stranded.lock().map(|v| v.clone()).unwrap_or_default();
    drop(running);
    Ok(report)
}

/// Changes statuses through different nodes, then requires every node's published status lists
/// to say the same (within a few seconds) and to show the changes.
async fn check_nodes_agree(shared: &Shared, root: &str, report: &mut DrillReport) -> Result<()> {
    let issued = shared.issued.lock().map_err(|_| anyhow!("poisoned"))?.clone();
    // Revoke and suspend a few credentials, each through another node.
    let mut changed = Vec::new();
    for (i, c) in issued.iter().take(2 * shared.clients.len()).enumerate() {
        let node = i % shared.clients.len();
        let view = format!("/v1/applications/{}", c.application);
        let a = answer(shared, node, &Req::get(&view, Some(&shared.officer))).await?;
        let cred = expect(&a, 200, "view")?["credential_id"].as_str().unwrap_or_default().to_owned();
        let status = if i % 2 == 0 { "revoked" } else { "suspended" };
        let path = format!("/v1/admin/credentials/{cred}/status");
        let body = json!({ "status": status });
        let a = answer(shared, node, &Req::json(&path, Some(&shared.admin), &body, None)).await?;
        expect(&a, 200, "status change")?;
        changed.push(i);
    }
    // Each node's view, until they agree and show the changes, or time runs out.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut views = Vec::new();
        for n in 0..shared.clients.len() {
            let store = synced_store(shared, n, root).await?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            let statuses: Vec<&'static str> = issued
                .iter()
                .map(|i| store.verify_sd_jwt(&i.sd_jwt, now, &verifier::Policy::default(), None).code())
                .collect();
            views.push(statuses);
        }
        let disagree: Vec<String> = (0..views.len())
            .filter(|&n| views[n] != views[0] || changed.iter().any(|&i| views[n][i] != "invalid"))
            .map(|n| format!("node-{n}"))
            .collect();
        if disagree.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            report.disagreeing_nodes = disagree;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
