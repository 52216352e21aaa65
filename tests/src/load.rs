//! Load generation against a real issuer process: synthetic applicants (with a registry file
//! that knows them), an async HTTP/1.1 client with keep-alive, the full enrollment-to-credential
//! pipeline, the credential endpoint alone, the crash drill's recovery rules, and the
//! measurements the benchmarks report (latency percentiles, issuer CPU from `/proc`, bytes on
//! disk).
//!
//! Every request has a deadline ([`REQUEST_TIMEOUT`]): a request that does not answer in time
//! is counted as timed out, which the load tests require to be zero.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// The longest any request may take before it counts as timed out.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The reception point every synthetic applicant applies at.
pub const POINT: &str = "hn-ba-dinh-police";

const NATIONALITIES: [&str; 8] = ["KOR", "CHN", "JPN", "USA", "FRA", "DEU", "THA", "IND"];

fn letters(mut n: u64) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s
}

/// Synthetic applicant number `n`: unique passport and card, known to the registry file that
/// [`write_registry`] writes.
#[derive(Debug, Clone, Copy)]
pub struct Person(pub u64);

impl Person {
    fn name(self) -> String {
        format!("LOAD TESTER {}", letters(self.0))
    }
    fn nationality(self) -> &'static str {
        NATIONALITIES[(self.0 % 8) as usize]
    }
    pub fn passport(self) -> String {
        format!("LP{:09}", self.0)
    }
    pub fn card(self) -> String {
        format!("TRC{:09}", self.0)
    }

    /// The national registry's record of this person.
    pub fn registry_line(self) -> String {
        json!({
            "full_name": self.name(), "full_name_latin": self.name(), "date_of_birth": "1990-01-01", "sex": "M",
            "nationality": self.nationality(), "passport_number": self.passport(),
            "residence_card": {"number": self.card(), "kind": "temporary", "issued_on": "2025-01-01",
                               "expires_on": "2028-12-31", "status": "valid"},
            "biometrics_on_file": true
        })
        .to_string()
    }

    /// The TK01 form an officer enters for this person.
    pub fn form(self) -> Value {
        json!({
            "full_name": self.name(), "full_name_latin": self.name(), "sex": "M", "date_of_birth": "1990-01-01",
            "nationality": self.nationality(), "passport_number": self.passport(),
            "residence_card": {"number": self.card(), "kind": "temporary", "issued_on": "2025-01-01",
                               "expires_on": "2028-12-31"},
            "address": format!("Số {} Phố Huế, Quận Hai Bà Trưng, Hà Nội", self.0 % 1000 + 1),
            "phone": format!("09{:08}", self.0 % 100_000_000),
            "email": format!("lt{}@example.com", self.0),
            "reception_point": POINT
        })
    }
}

/// Writes a registry file (JSON Lines, docs/registry.md) knowing persons `0..count` and the
/// sample registry's people.
pub fn write_registry(path: &Path, count: u64) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(&std::fs::read(crate::workspace().join("enrollment/data/registry-sample.jsonl"))?)?;
    for n in 0..count {
        writeln!(f, "{}", Person(n).registry_line())?;
    }
    f.flush()?;
    Ok(())
}

/// Why a request did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer in [`REQUEST_TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// The connection failed (refused, reset: the node is down or restarting).
    #[error("transport: {0}")]
    Transport(String),
}

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn error_code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// A keep-alive HTTP/1.1 client for one issuer.
#[derive(Clone, Debug)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    pub base: String,
    /// The issuer's own (public) URL: a wallet's proof is addressed to it, whichever node
    /// answers. The node's URL unless set with [`Client::node_of`].
    pub issuer: String,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        let base = base.trim_end_matches('/').to_owned();
        Self { http, issuer: base.clone(), base }
    }

    /// A client of one node (at `base`) of the issuer whose public URL is `issuer`.
    pub fn node_of(base: &str, issuer: &str) -> Self {
        Self { issuer: issuer.trim_end_matches('/').to_owned(), ..Self::new(base) }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Answer, CallError> {
        self.call_keyed(method, path, token, content_type, body, None).await
    }

    /// [`Self::call`] with an `Idempotency-Key`.
    pub async fn call_keyed(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, CallError> {
        let mut req = hyper::Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(Full::new(body)).map_err(|e| CallError::Transport(e.to_string()))?;
        let fut = async {
            let resp = self.http.request(req).await.map_err(|e| CallError::Transport(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.map_err(|e| CallError::Transport(e.to_string()))?.to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut).await.map_err(|_| CallError::Timeout)?
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Result<Answer, CallError> {
        self.call("POST", path, token, Some("application/json"), Bytes::from(body.to_string())).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Answer, CallError> {
        self.call("GET", path, token, None, Bytes::new()).await
    }
}

/// The multipart body of a biometric capture (a portrait and two fingerprints).
pub fn biometrics_body(seed: u8) -> (String, Bytes) {
    use std::io::Write as _;
    let boundary = "loadgen-boundary-7d2f1c";
    let mut body = Vec::new();
    for (name, value) in [("portrait_quality", "87"), ("fingerprint_2_quality", "71"), ("fingerprint_7_quality", "64")]
    {
        let _ = write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
    }
    let files = [
        ("portrait", crate::fake_portrait(seed)),
        ("fingerprint_2", crate::fake_fingerprint(seed.wrapping_add(1))),
        ("fingerprint_7", crate::fake_fingerprint(seed.wrapping_add(2))),
    ];
    for (name, bytes) in files {
        let _ = write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    let _ = write!(body, "--{boundary}--\r\n");
    (format!("multipart/form-data; boundary={boundary}"), Bytes::from(body))
}

/// What redeeming an offer takes: its pre-authorized code and its transaction code.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub tx_code: String,
}

/// The code and transaction code of an approval (or renewed offer) response.
pub fn code_of(offer: &Value) -> Result<Code> {
    let uri = offer["offer_uri"].as_str().unwrap_or_default();
    let parsed = verifier::build::oid4vci::CredentialOffer::from_uri(uri).map_err(|e| anyhow!("offer: {e}"))?;
    let code = parsed.pre_authorized_code().map(str::to_owned).ok_or_else(|| anyhow!("no code in offer"))?;
    let tx_code = offer["tx_code"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no tx_code with the offer"))?;
    Ok(Code { code, tx_code })
}

/// A wallet's device key and its proof of possession over a nonce.
#[derive(Debug)]
pub struct Device(SigningKey);

impl Device {
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    pub fn proof(&self, audience: &str, nonce: &str, now: u64) -> String {
        let public = verifier::PublicKey::from_bytes(self.0.verifying_key().to_bytes());
        let input = verifier::build::oid4vci::proof_signing_input(&public, audience, now, nonce);
        verifier::build::jws::assemble(&input, &self.0.sign(input.as_bytes()).to_bytes())
    }

    pub fn public(&self) -> String {
        B64.encode(self.0.verifying_key().to_bytes())
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Latencies of one kind of request.
#[derive(Debug, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The `p`-th percentile (0–100), in milliseconds.
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let i = (((self.0.len() - 1) as f64) * p / 100.0).round() as usize;
        self.0[i.min(self.0.len() - 1)].as_secs_f64() * 1000.0
    }
    pub fn max_ms(&self) -> f64 {
        self.0.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// One staff step or wallet step that must succeed with `want`.
async fn step(
    c: &Client,
    what: &str,
    fut: impl std::future::Future<Output = Result<Answer, CallError>>,
    want: u16,
) -> Result<Answer> {
    let a = fut.await.map_err(|e| anyhow!("{what}: {e}"))?;
    if a.status != want {
        bail!("{what} at {}: HTTP {} {}", c.base, a.status, String::from_utf8_lossy(&a.body));
    }
    Ok(a)
}

/// Takes a person from submission to approval; returns the application id and the offer's code.
pub async fn enroll(c: &Client, officer: &str, p: Person) -> Result<(String, Code)> {
    let a = step(c, "submit", c.post_json("/v1/applications", Some(officer), &p.form()), 201).await?;
    let id = a.json()["id"].as_str().ok_or_else(|| anyhow!("no id"))?.to_owned();
    let (ct, body) = biometrics_body(p.0 as u8);
    let path = format!("/v1/applications/{id}/biometrics");
    step(c, "biometrics", c.call("POST", &path, Some(officer), Some(&ct), body), 200).await?;
    let path = format!("/v1/applications/{id}/national-check");
    step(c, "national check", c.post_json(&path, Some(officer), &json!({})), 200).await?;
    let path = format!("/v1/applications/{id}/approve");
    let a = step(c, "approve", c.post_json(&path, Some(officer), &json!({})), 200).await?;
    let code = code_of(&a.json())?;
    Ok((id, code))
}

/// The token request body for a pre-authorized code and its transaction code.
pub fn token_body(code: &Code) -> Bytes {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    Bytes::from(format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={}&tx_code={}",
        enc(&code.code),
        enc(&code.tx_code)
    ))
}

/// A nonce from the Nonce Endpoint, bound to the session of `access`.
pub async fn nonce(c: &Client, access: &str) -> Result<String> {
    let v = step(c, "nonce", c.call("POST", "/nonce", Some(access), None, Bytes::new()), 200).await?.json();
    v["c_nonce"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no c_nonce"))
}

/// Trades a code for an access token, then takes a nonce for it: (access token, nonce).
pub async fn redeem(c: &Client, code: &Code) -> Result<(String, String)> {
    let fut = c.call("POST", "/token", None, Some("application/x-www-form-urlencoded"), token_body(code));
    let v = step(c, "token", fut, 200).await?.json();
    let access = v["access_token"].as_str().ok_or_else(|| anyhow!("no access token"))?.to_owned();
    let nonce = nonce(c, &access).await?;
    Ok((access, nonce))
}

/// The credential request body (OpenID4VCI 1.0 `proofs`) with one proof.
pub fn credential_body(proof: &str) -> Bytes {
    Bytes::from(
        json!({"credential_configuration_id": verifier::build::oid4vci::CONFIGURATION_ID,
               "proofs": {"jwt": [proof]}})
        .to_string(),
    )
}

/// Asks for the credential; returns the response body.
pub async fn collect(c: &Client, access: &str, proof: &str) -> Result<Value> {
    let fut = c.call("POST", "/credential", Some(access), Some("application/json"), credential_body(proof));
    Ok(step(c, "credential", fut, 200).await?.json())
}

/// The whole pipeline for one person: enroll, redeem, collect.
pub async fn pipeline(c: &Client, officer: &str, p: Person) -> Result<Value> {
    let (_, code) = enroll(c, officer, p).await?;
    let (access, nonce) = redeem(c, &code).await?;
    let device = Device::generate();
    collect(c, &access, &device.proof(&c.issuer, &nonce, unix_now())).await
}

/// Creates an officer token with the admin token.
pub async fn officer(c: &Client, admin: &str) -> Result<String> {
    let body = json!({"role": "officer", "name": "load-officer", "reception_point": POINT});
    let a = step(c, "officer token", c.post_json("/v1/admin/tokens", Some(admin), &body), 201).await?;
    a.json()["token"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no token"))
}

/// Hands out person numbers to concurrent workers.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn starting_at(n: u64) -> Self {
        Self(AtomicU64::new(n))
    }
    pub fn next(&self) -> Person {
        Person(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

/// What a timed run of concurrent workers did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub done: u64,
    pub failed: u64,
    pub timeouts: u64,
    pub elapsed: Duration,
    pub latencies: Latencies,
    pub first_error: Option<String>,
}

impl RunReport {
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `work` on `clients` concurrent workers until `duration` has passed; each call of `work`
/// is one unit (an issuance). Returns counts and per-unit latencies.
pub async fn run_for<F, Fut>(clients: usize, duration: Duration, work: F) -> RunReport
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let work = Arc::new(work);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for w in 0..clients {
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = RunReport::default();
            let mut i = 0;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match work(w * 1_000_000 + i).await {
                    Ok(()) => {
                        r.done += 1;
                        r.latencies.push(t0.elapsed());
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        if msg.contains("timed out") {
                            r.timeouts += 1;
                        }
                        r.failed += 1;
                        r.first_error.get_or_insert(msg);
                    }
                }
                i += 1;
            }
            r
        }));
    }
    let mut total = RunReport::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.done += r.done;
            total.failed += r.failed;
            total.timeouts += r.timeouts;
            total.latencies.extend(r.latencies);
            if total.first_error.is_none() {
                total.first_error = r.first_error;
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// A process's user + system CPU time so far, from `/proc/<pid>/stat` (USER_HZ = 100).
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/<pid>/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| anyhow!("odd /proc stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Ok(Duration::from_millis(ticks * 10))
}

/// The bytes the files under `dir` take on disk (allocated blocks).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

/// A probe that sends one fresh request every `every` while a load runs, and keeps the worst
/// latency seen and how many did not answer.
pub async fn probe(
    c: Client,
    officer: String,
    every: Duration,
    until: Instant,
    mut next: impl FnMut() -> Person,
) -> (Latencies, u64) {
    let mut lat = Latencies::default();
    let mut failed = 0;
    while Instant::now() < until {
        let p = next();
        let t0 = Instant::now();
        match c.post_json("/v1/applications", Some(&officer), &p.form()).await {
            Ok(a) if a.status == 201 => lat.push(t0.elapsed()),
            _ => failed += 1,
        }
        let t0 = Instant::now();
        match c.get("/healthz", None).await {
            Ok(a) if a.status == 200 => lat.push(t0.elapsed()),
            _ => failed += 1,
        }
        tokio::time::sleep(every).await;
    }
    (lat, failed)
}
