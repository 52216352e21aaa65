//! End-to-end harness: runs the real `issuer`, `wallet-sim` and `verifier` binaries against each
//! other, the way an officer, a holder and a landlord would, and the [`journey`] that the `demo`
//! binary and the tests share.
//!
//! The binaries are found next to the running executable (`target/<profile>/`), or in
//! `VNEID_BIN_DIR`; the test command builds them first (`cargo build --bins --tests`). The
//! independent checks in Python run with [`python`]: the interpreter of the virtual environment
//! that `scripts/test` makes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};

pub mod drill;
pub mod hsm;
pub mod load;
pub mod pg;
pub mod registry;
use serde_json::{json, Value};

/// The workspace root (for the sample registry and other shipped files).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python interpreter for the independent checks (`tests/interop/*.py`): `VNEID_PYTHON`
/// (`scripts/test` sets it to its virtual environment's), else the workspace's `.venv` when there
/// is one, else `python3` on the PATH.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("VNEID_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = workspace().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Where the workspace's binaries are: `VNEID_BIN_DIR` when set, else `target/<profile>/`, the
/// folder of the running executable (of its parent for a test binary in `deps/`).
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("VNEID_BIN_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().ok_or_else(|| anyhow!("no parent"))?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

pub fn bin(name: &str) -> Result<PathBuf> {
    let p = bin_dir()?.join(name);
    if !p.exists() {
        bail!(
            "{} not found: build the binaries first (cargo build --bins, with --release for target/release)",
            p.display()
        );
    }
    Ok(p)
}

/// Runs a binary to completion.
pub fn run(name: &str, args: &[&str]) -> Result<Output> {
    let out =
        Command::new(bin(name)?).args(args).stdin(Stdio::null()).output().with_context(|| format!("running {name}"))?;
    Ok(out)
}

/// Runs a binary and requires success; returns stdout.
pub fn run_ok(name: &str, args: &[&str]) -> Result<String> {
    let out = run(name, args)?;
    if !out.status.success() {
        bail!(
            "{name} {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A running `issuer serve` on a free loopback port; killed on drop.
///
/// Unless a test says otherwise (`--metrics-listen`, `--config`), the harness serves metrics on
/// a free port of their own (so nodes started in parallel do not compete for the default one)
/// and turns the per-client rate limits off (every test client is 127.0.0.1, and the load tests
/// run hundreds of requests a second from it); the rate-limit tests set theirs in a file.
#[derive(Debug)]
pub struct Issuer {
    child: Child,
    /// The issuer's URL as it names itself (its public URL).
    pub url: String,
    /// The `host:port` this process listens on.
    listen: String,
    pub root_key: String,
    /// Set on the first start of a data folder only.
    pub admin_token: Option<String>,
    /// `http://ADDR/metrics`, when metrics are served.
    pub metrics_url: Option<String>,
    /// Lines the issuer prints on stdout after it started.
    lines: mpsc::Receiver<String>,
}

impl Issuer {
    /// Starts the issuer; its log (stderr) goes to this process's stderr.
    pub fn start(data: &Path, extra: &[&str]) -> Result<Self> {
        Self::start_logging(data, extra, None)
    }

    /// Starts the issuer; its log (stderr) goes to `log` when given (created or appended to),
    /// else to this process's stderr.
    pub fn start_logging(data: &Path, extra: &[&str], log: Option<&Path>) -> Result<Self> {
        let registry = workspace().join("enrollment/data/registry-sample.jsonl");
        Self::launch_env(&[], data, &registry, "127.0.0.1:0", extra, log, &[])
    }

    /// Starts with every knob: a wrapper command (`bash -c 'exec "$0" "$@" 3<FILE'` hands the
    /// issuer a descriptor), a registry, a listen address, extra arguments, a log file and
    /// environment variables (a PIN, `SOFTHSM2_CONF`).
    pub fn start_full(
        wrapper: &[&str],
        data: &Path,
        registry: &Path,
        listen: &str,
        extra: &[&str],
        log: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        Self::launch_env(wrapper, data, registry, listen, extra, log, env)
    }

    /// Starts on a given registry file and listen address (a fixed port lets clients reach a
    /// node restarted after a crash at the same address).
    pub fn start_with(data: &Path, registry: &Path, listen: &str, extra: &[&str]) -> Result<Self> {
        Self::launch_env(&[], data, registry, listen, extra, None, &[])
    }

    /// Starts with extra environment variables (configuration overrides) and its log in `log`
    /// when given.
    pub fn start_env(data: &Path, extra: &[&str], env: &[(&str, &str)], log: Option<&Path>) -> Result<Self> {
        let registry = workspace().join("enrollment/data/registry-sample.jsonl");
        Self::launch_env(&[], data, &registry, "127.0.0.1:0", extra, log, env)
    }

    /// Starts under a wrapper command (`strace -f -o FILE`, …) that runs the issuer as its
    /// arguments.
    pub fn start_wrapped(wrapper: &[&str], data: &Path, registry: &Path, listen: &str, extra: &[&str]) -> Result<Self> {
        Self::launch_env(wrapper, data, registry, listen, extra, None, &[])
    }

    fn launch_env(
        wrapper: &[&str],
        data: &Path,
        registry: &Path,
        listen: &str,
        extra: &[&str],
        log: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin("issuer")?);
                c
            }
            None => Command::new(bin("issuer")?),
        };
        cmd.args(["serve", "--listen", listen, "--data"]).arg(data).arg("--registry").arg(registry);
        if !extra.iter().any(|a| a.starts_with("--publish-interval")) {
            // Tests sync right after a change: sign changed lists at once.
            cmd.args(["--publish-interval-ms", "0"]);
        }
        if !extra.iter().any(|a| a.starts_with("--metrics-listen")) {
            cmd.args(["--metrics-listen", "127.0.0.1:0"]);
        }
        if !extra.iter().any(|a| a.starts_with("--config")) {
            cmd.env("VNEID_RATE_LIMITS__ENABLED", "false");
        }
        cmd.args(extra);
        cmd.envs(env.iter().copied());
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening the issuer's log {}", path.display()))?,
            ),
            None => Stdio::inherit(),
        };
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr).spawn().context("starting issuer")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading after start-up (and after the receiver is gone): an issuer that prints
            // later must not find its stdout closed.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut url, mut root_key, mut admin_token, mut listen, mut metrics_url) = (None, None, None, None, None);
        while url.is_none() {
            let line = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => l,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let see = log.map(|l| format!("; its log: {}", l.display())).unwrap_or_default();
                    if e == mpsc::RecvTimeoutError::Disconnected {
                        bail!("issuer exited before it listened{see}");
                    }
                    bail!("issuer did not start within 60 s{see}");
                }
            };
            if let Some(k) = line.strip_prefix("root key (pin it in verifiers): ") {
                root_key = Some(k.trim().to_owned());
            } else if let Some(t) = line.strip_prefix("FIRST ADMIN TOKEN (shown once, store it now): ") {
                admin_token = Some(t.trim().to_owned());
            } else if let Some(m) = line.strip_prefix("metrics on ") {
                metrics_url = Some(m.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("issuer listening on ") {
                let mut parts = rest.split(" as ");
                listen = parts.next().map(|l| l.trim().trim_start_matches("http://").to_owned());
                url = parts.next().map(|u| u.trim().to_owned());
            }
        }
        Ok(Self {
            child,
            url: url.unwrap_or_default(),
            listen: listen.unwrap_or_default(),
            root_key: root_key.ok_or_else(|| anyhow!("no root key line"))?,
            admin_token,
            metrics_url,
            lines: rx,
        })
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; its exit status and
    /// what it printed on stdout meanwhile.
    pub fn terminate(mut self, within: Duration) -> Result<(std::process::ExitStatus, Vec<String>)> {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status()?;
        if !st.success() {
            bail!("kill -TERM {pid} failed");
        }
        let t0 = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let lines: Vec<String> = self.lines.try_iter().collect();
                return Ok((status, lines));
            }
            if t0.elapsed() > within {
                bail!("the issuer did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id (for CPU accounting).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `host:port` the node listens on.
    pub fn addr(&self) -> &str {
        &self.listen
    }

    /// Kills the process the hard way (SIGKILL), as a crash would.
    pub fn kill(self) {
        drop(self);
    }

    pub fn http(&self) -> Http {
        // One connection per request: a server may close a kept-alive connection after a response
        // (e.g. when the handler did not read the request body), and a pooled POST that lands on
        // such a connection fails with an EOF that ureq does not retry for non-idempotent methods.
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).max_idle_connections(0).build();
        Http { base: self.url.clone(), agent }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        // Under a wrapper (strace), the issuer is the wrapper's child: kill it too, or it would
        // outlive the test holding its output pipes.
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children.split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", c]).status();
        }
        if !children.trim().is_empty() {
            // Let the wrapper see its child die and finish its output.
            for _ in 0..100 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small JSON-over-HTTP client that returns status and body for every response.
#[derive(Debug, Clone)]
pub struct Http {
    pub base: String,
    agent: ureq::Agent,
}

impl Http {
    fn finish(r: std::result::Result<ureq::Response, ureq::Error>) -> Result<(u16, Value)> {
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(e.into()),
        };
        let status = resp.status();
        let text = resp.into_string()?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    fn req(&self, method: &str, path: &str, token: Option<&str>, lang: Option<&str>) -> ureq::Request {
        let mut r = self.agent.request(method, &format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.set("Authorization", &format!("Bearer {t}"));
        }
        if let Some(l) = lang {
            r = r.set("Accept-Language", l);
        }
        r
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, Value)> {
        Self::finish(self.req("GET", path, token, None).call())
    }

    pub fn get_text(&self, path: &str) -> Result<String> {
        Ok(self.req("GET", path, None, None).call()?.into_string()?)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value)> {
        self.post_lang(path, token, None, body)
    }

    pub fn post_lang(&self, path: &str, token: Option<&str>, lang: Option<&str>, body: &Value) -> Result<(u16, Value)> {
        Self::finish(self.req("POST", path, token, lang).send_json(body.clone()))
    }

    /// A `multipart/form-data` POST of (name, filename, bytes) parts and (name, value) fields.
    pub fn post_multipart(
        &self,
        path: &str,
        token: Option<&str>,
        files: &[(&str, &[u8])],
        fields: &[(&str, &str)],
    ) -> Result<(u16, Value)> {
        let boundary = "----vneid-e2e-boundary-7c1f";
        let mut body = Vec::new();
        for (name, value) in fields {
            write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")?;
        }
        for (name, bytes) in files {
            write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")?;
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        write!(body, "--{boundary}--\r\n")?;
        let r = self
            .req("POST", path, token, None)
            .set("Content-Type", &format!("multipart/form-data; boundary={boundary}"));
        Self::finish(r.send_bytes(&body))
    }
}

/// Runs one of the independent checks in `tests/interop/` with the Python the test command
/// prepared ([`python`]); returns its stdout.
pub fn interop(script: &str, args: &[&Path]) -> Result<String> {
    let py = python();
    let out = Command::new(&py)
        .arg(workspace().join("tests/interop").join(script))
        .args(args)
        .output()
        .with_context(|| format!("running {} (run scripts/test once: it makes .venv)", py.display()))?;
    if !out.status.success() {
        bail!("{script} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The folder of the Node.js independent checks (`tests/interop/node`): an OpenID4VCI 1.0 wallet
/// (`@openid4vc/openid4vci`) and an SD-JWT VC verifier (`@sd-jwt/sd-jwt-vc`), pinned by its
/// `package-lock.json`. The test command installs them with `npm ci` there.
pub fn node_interop_dir() -> PathBuf {
    workspace().join("tests/interop/node")
}

/// Runs one of the Node.js independent checks with `node` (or `VNEID_NODE`) and parses the one
/// JSON object it prints; `Ok((exit code, json))` whatever the script decided. Installs the
/// packages with `npm ci` first if the test command has not.
pub fn node_interop(script: &str, args: &[&str]) -> Result<(i32, Value)> {
    let dir = node_interop_dir();
    if !dir.join("node_modules").is_dir() {
        let out = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).output()?;
        if !out.status.success() {
            bail!("npm ci in {} failed: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
        }
    }
    let node = std::env::var("VNEID_NODE").unwrap_or_else(|_| "node".into());
    let out = Command::new(&node).arg(script).args(args).current_dir(&dir).stdin(Stdio::null()).output()?;
    let stdout = String::from_utf8(out.stdout)?;
    let v: Value = serde_json::from_str(&stdout).with_context(|| {
        format!("{script} printed no JSON ({}): {stdout}{}", out.status, String::from_utf8_lossy(&out.stderr))
    })?;
    Ok((out.status.code().unwrap_or(-1), v))
}

/// Deterministic stand-ins for captured biometrics: the right magic bytes, plausible sizes.
pub fn fake_portrait(seed: u8) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..6000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed));
    v
}

pub fn fake_fingerprint(seed: u8) -> Vec<u8> {
    let mut v = vec![0xff, 0xa0, 0xff, 0xa8];
    v.extend((0..3000u32).map(|i| (i.wrapping_mul(40_503) >> 7) as u8 ^ seed));
    v
}

/// The TK01 form of the demo applicant (present in the sample registry).
pub fn kim_tk01() -> Value {
    json!({
        "full_name": "김민준",
        "full_name_latin": "KIM MIN JUN",
        "sex": "M",
        "date_of_birth": "1990-04-12",
        "nationality": "KOR",
        "passport_number": "M12345678",
        "residence_card": {"number": "TRC0012345", "kind": "temporary", "issued_on": "2025-07-01", "expires_on": "2028-06-30"},
        "address": "Số 12 Phố Liễu Giai, Phường Ngọc Hà, Quận Ba Đình, Hà Nội",
        "phone": "0912345678",
        "email": "minjun.kim@example.com",
        "reception_point": "hn-ba-dinh-police"
    })
}

fn expect(what: &str, got: (u16, Value), status: u16) -> Result<Value> {
    if got.0 != status {
        bail!("{what}: expected HTTP {status}, got {} {}", got.0, got.1);
    }
    Ok(got.1)
}

/// Creates an officer token with the admin token.
pub fn officer_token(http: &Http, admin: &str) -> Result<String> {
    let v = expect(
        "create officer token",
        http.post(
            "/v1/admin/tokens",
            Some(admin),
            &json!({"role": "officer", "name": "officer-0042", "reception_point": "hn-ba-dinh-police"}),
        )?,
        201,
    )?;
    v["token"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no token in {v}"))
}

/// A credential offer as the officer hands it over: the URI (for the QR code) and the
/// transaction code (which also went to the applicant's phone and e-mail).
#[derive(Debug, Clone)]
pub struct Offer {
    pub uri: String,
    pub tx_code: String,
}

/// Takes an application from submission to approval; returns the credential offer.
pub fn enroll(http: &Http, officer: &str, form: &Value) -> Result<Offer> {
    let v = expect("submit TK01", http.post("/v1/applications", Some(officer), form)?, 201)?;
    let id = v["id"].as_str().ok_or_else(|| anyhow!("no id in {v}"))?.to_owned();
    let (portrait, f1, f2) = (fake_portrait(1), fake_fingerprint(2), fake_fingerprint(3));
    expect(
        "upload biometrics",
        http.post_multipart(
            &format!("/v1/applications/{id}/biometrics"),
            Some(officer),
            &[("portrait", &portrait), ("fingerprint_2", &f1), ("fingerprint_7", &f2)],
            &[("portrait_quality", "87"), ("fingerprint_2_quality", "71"), ("fingerprint_7_quality", "64")],
        )?,
        200,
    )?;
    expect(
        "national-data check",
        http.post(&format!("/v1/applications/{id}/national-check"), Some(officer), &json!({}))?,
        200,
    )?;
    let v = expect("approve", http.post(&format!("/v1/applications/{id}/approve"), Some(officer), &json!({}))?, 200)?;
    let uri = v["offer_uri"].as_str().ok_or_else(|| anyhow!("no offer_uri in {v}"))?.to_owned();
    let tx_code = v["tx_code"].as_str().ok_or_else(|| anyhow!("no tx_code in {v}"))?.to_owned();
    Ok(Offer { uri, tx_code })
}

/// What the journey leaves behind.
#[derive(Debug)]
pub struct Journey {
    pub issuer: Issuer,
    pub wallet: PathBuf,
    pub bundle: PathBuf,
    pub png: PathBuf,
    pub text: PathBuf,
}

/// The whole journey: an issuer starts on a fresh data folder, an officer enrolls and approves
/// the demo applicant, the wallet receives the credentials, a landlord syncs a bundle, the wallet
/// shows the landlord QR. Files land in `out`; the issuer's log goes to this process's stderr.
pub fn journey(out: &Path) -> Result<Journey> {
    journey_logging(out, None)
}

/// [`journey`], with the issuer's log in `log` when given.
pub fn journey_logging(out: &Path, log: Option<&Path>) -> Result<Journey> {
    journey_with(out, &[], log)
}

/// [`journey_logging`], with extra `issuer serve` arguments.
pub fn journey_with(out: &Path, extra: &[&str], log: Option<&Path>) -> Result<Journey> {
    std::fs::create_dir_all(out)?;
    let data = out.join("issuer-data");
    let issuer = Issuer::start_logging(&data, extra, log)?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().ok_or_else(|| anyhow!("fresh issuer printed no admin token"))?;
    let officer = officer_token(&http, &admin)?;
    let offer = enroll(&http, &officer, &kim_tk01())?;

    let wallet = out.join("wallet");
    let w = wallet.to_string_lossy().into_owned();
    run_ok("wallet-sim", &["--home", &w, "init"])?;
    run_ok("wallet-sim", &["--home", &w, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;

    let bundle = out.join("bundle");
    run_ok(
        "verifier",
        &["sync", "--issuer", &issuer.url, "--root-key", &issuer.root_key, "--out", &bundle.to_string_lossy()],
    )?;

    let (png, text) = (out.join("landlord.png"), out.join("landlord.txt"));
    run_ok(
        "wallet-sim",
        &[
            "--home",
            &w,
            "present",
            "--purpose",
            "landlord",
            "--png",
            &png.to_string_lossy(),
            "--text",
            &text.to_string_lossy(),
        ],
    )?;

    let shown: Value = serde_json::from_str(&run_ok("wallet-sim", &["--home", &w, "show", "--json"])?)?;
    let sd_jwt = find_sd_jwt(&shown).ok_or_else(|| anyhow!("wallet-sim show --json has no SD-JWT: {shown}"))?;
    std::fs::write(out.join("credential.sd-jwt"), sd_jwt)?;
    std::fs::write(out.join("issuer-jwks.json"), http.get_text("/.well-known/jwks.json")?)?;
    Ok(Journey { issuer, wallet, bundle, png, text })
}

/// The first string in a JSON document that looks like an SD-JWT (`<jwt>~…~`).
pub fn find_sd_jwt(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.matches('.').count() >= 2 && s.ends_with('~') => Some(s.clone()),
        Value::Array(a) => a.iter().find_map(find_sd_jwt),
        Value::Object(m) => m.values().find_map(find_sd_jwt),
        _ => None,
    }
}

/// Raw HTTP/1.1 exchanges on fresh connections, for what a well-behaved client library would not
/// send: wrong methods, broken bodies, announced lengths with no body, slow bytes.
pub mod raw {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;
    use std::time::Duration;

    use anyhow::{anyhow, Context as _, Result};
    use serde_json::Value;

    /// A response as read off the socket.
    #[derive(Debug, Clone)]
    pub struct Response {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Response {
        /// A header's value (names compared case-insensitively).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        /// The body as JSON (`Null` when it is not).
        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or(Value::Null)
        }
    }

    /// The bytes of a request: `Host`, `Connection: close`, `Content-Length` when there is a
    /// body (unless `headers` names one), the headers given, the body.
    pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("{method} {path} HTTP/1.1\r\nHost: issuer.test\r\nConnection: close\r\n");
        let has_length = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        if !body.is_empty() && !has_length {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// Sends `request` on a new connection to `addr` and reads the response to the end of the
    /// connection.
    pub fn exchange(addr: &str, request: &[u8], timeout: Duration) -> Result<Response> {
        let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.write_all(request)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).context("reading the response")?;
        parse(&buf)
    }

    /// Parses one response (body by `Content-Length`, chunked, or to the end).
    pub fn parse(buf: &[u8]) -> Result<Response> {
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow!("no complete response head"))?;
        let head = std::str::from_utf8(&buf[..end])?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 =
            status_line.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| anyhow!("bad status line"))?;
        let headers: Vec<(String, String)> =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        let rest = &buf[end + 4..];
        let find = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let body = if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
            rest[..len.min(rest.len())].to_vec()
        } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut out = Vec::new();
            let mut r = rest;
            while let Some(i) = r.windows(2).position(|w| w == b"\r\n") {
                let n = usize::from_str_radix(std::str::from_utf8(&r[..i])?.trim(), 16)?;
                if n == 0 || r.len() < i + 2 + n {
                    break;
                }
                out.extend_from_slice(&r[i + 2..i + 2 + n]);
                r = &r[(i + 4 + n).min(r.len())..];
            }
            out
        } else {
            rest.to_vec()
        };
        Ok(Response { status, headers, body })
    }
}
