//! The bounds of the real binary, set in a configuration file: slow clients (a header sent byte
//! by byte, nothing at all, an idle kept-alive connection, a body that never finishes) are cut
//! off after their timeout while other clients are served at once; past the connection cap a
//! connection gets 503; past a client's rate limit, 429; after too many failed authentications,
//! 429 for that client only, and an aggregate entry in the audit log; the file's settings and
//! the environment's overrides take effect.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use e2e::{raw, Issuer};
use serde_json::Value;

const CONFIG: &str = r#"
[http]
header_read_timeout_ms = 800
idle_timeout_ms = 1500
request_timeout_ms = 1500
max_connections = 8
client_ip_header = "x-forwarded-for"

[rate_limits]
enabled = true
staff = { per_second = 0.2, burst = 4 }
token = { per_second = 0.2, burst = 3 }
nonce = { per_second = 0.2, burst = 2 }
credential = { per_second = 0.2, burst = 2 }
max_auth_failures = 3
auth_failure_window_s = 60

[audit]
failure_report_interval_s = 1
"#;

fn start(dir: &Path) -> Result<Issuer> {
    let config = dir.join("issuer.toml");
    std::fs::write(&config, CONFIG)?;
    Issuer::start(&dir.join("data"), &["--config", config.to_str().unwrap()])
}

/// Reads from a connection until the server closes it; how long that took.
fn closed_after(mut s: TcpStream, started: Instant) -> Duration {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

fn scrape(issuer: &Issuer) -> Result<String> {
    Ok(ureq::get(issuer.metrics_url.as_deref().unwrap()).call()?.into_string()?)
}

fn get(addr: &str, path: &str, client: &str, token: Option<&str>) -> Result<raw::Response> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("X-Forwarded-For", client), ("Accept-Language", "en")];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    raw::exchange(addr, &raw::request("GET", path, &h, b""), Duration::from_secs(5))
}

#[test]
fn slow_clients_are_cut_off_after_their_timeout_while_others_are_served() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = start(dir.path())?;
    let addr = issuer.addr().to_owned();
    let t0 = Instant::now();
    // Three slowloris clients send a header one byte every 150 ms; one sends nothing at all.
    let mut slow = Vec::new();
    for _ in 0..3 {
        let s = TcpStream::connect(&addr)?;
        let w = s.try_clone()?;
        std::thread::spawn(move || {
            let mut w = w;
            for b in b"GET /livez HTTP/1.1\r\nHost: issuer.test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                if w.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        s.set_nodelay(true)?;
        slow.push(s);
    }
    slow.push(TcpStream::connect(&addr)?);
    // Meanwhile, other clients are served at once.
    for _ in 0..5 {
        let t = Instant::now();
        let r = get(&addr, "/livez", "10.0.0.9", None)?;
        assert_eq!(r.status, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "a normal request took {:?}", t.elapsed());
    }
    // Each slow connection is closed once its header is 0.8 s late (not before, not much after).
    for s in slow {
        let after = closed_after(s, t0);
        assert!(
            after >= Duration::from_millis(700) && after < Duration::from_millis(3000),
            "a slow header was cut off after {after:?}"
        );
    }
    // A kept-alive connection is closed after 1.5 s without a request.
    let mut s = TcpStream::connect(&addr)?;
    s.write_all(b"GET /livez HTTP/1.1\r\nHost: issuer.test\r\n\r\n")?;
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf)?;
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let idle = Instant::now();
    let after = closed_after(s, idle);
    assert!(
        after >= Duration::from_millis(1300) && after < Duration::from_millis(4000),
        "idle connection closed after {after:?}"
    );
    // A body that stops half-way: 408 request_timeout, as JSON, and the connection closes.
    let mut s = TcpStream::connect(&addr)?;
    let admin = issuer.admin_token.clone().unwrap();
    let head = format!(
        "POST /v1/admin/tokens HTTP/1.1\r\nHost: issuer.test\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"role\":"
    );
    s.write_all(head.as_bytes())?;
    let t = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let r = raw::parse(&out)?;
    assert_eq!((r.status, r.json()["error"].as_str()), (408, Some("request_timeout")), "{:?}", r);
    assert!(t.elapsed() >= Duration::from_millis(1300), "cut off after {:?}", t.elapsed());
    // The timeouts show in the metrics.
    let m = scrape(&issuer)?;
    assert!(m.contains("issuer_http_connections_timed_out_total{phase=\"header\"} 4"), "{m}");
    Ok(())
}

#[test]
fn past_the_connection_cap_a_new_connection_gets_503() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = start(dir.path())?;
    let addr = issuer.addr().to_owned();
    // Eight connections hold every place (until their header timeout).
    let held: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(&addr)).collect::<std::io::Result<_>>()?;
    std::thread::sleep(Duration::from_millis(100));
    let r = get(&addr, "/livez", "10.0.0.1", None)?;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.json()["error"], "too_many_connections", "{r:?}");
    assert_eq!(r.header("retry-after"), Some("1"));
    // Once they are cut off, the node serves again.
    drop(held);
    // The node notices the closed connections a moment later: a request in
    // between is refused too, and counted.
    let t0 = Instant::now();
    let mut refused = 1;
    loop {
        let r = get(&addr, "/livez", "10.0.0.1", None)?;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.json()["error"], "too_many_connections", "{r:?}");
        refused += 1;
        assert!(t0.elapsed() < Duration::from_secs(3), "still refused: {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = scrape(&issuer)?;
    assert!(m.contains(&format!("issuer_http_connections_refused_total {refused}\n")), "{refused}: {m}");
    Ok(())
}

#[test]
fn past_a_clients_rate_limit_429_and_failed_authentications_lock_that_client_out() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = start(dir.path())?;
    let addr = issuer.addr().to_owned();
    let admin = issuer.admin_token.clone().unwrap();
    // The staff limit: a burst of 4, then 429 with Retry-After, for this client only.
    for i in 0..4 {
        assert_eq!(get(&addr, "/v1/admin/keys", "10.0.0.1", Some(&admin))?.status, 200, "request {i}");
    }
    let r = get(&addr, "/v1/admin/keys", "10.0.0.1", Some(&admin))?;
    assert_eq!((r.status, r.json()["error"].as_str()), (429, Some("rate_limited")), "{r:?}");
    assert!(r.header("retry-after").and_then(|s| s.parse::<u32>().ok()).is_some_and(|s| s >= 1), "{r:?}");
    assert_eq!(get(&addr, "/v1/admin/keys", "10.0.0.2", Some(&admin))?.status, 200, "another client");
    // The token endpoint: its own limit, answered in OAuth's shape.
    let form = |client: &str| {
        raw::request(
            "POST",
            "/token",
            &[("X-Forwarded-For", client), ("Content-Type", "application/x-www-form-urlencoded")],
            b"grant_type=password",
        )
    };
    for _ in 0..3 {
        let r = raw::exchange(&addr, &form("10.0.0.3"), Duration::from_secs(5))?;
        assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("unsupported_grant_type")), "{r:?}");
    }
    let r = raw::exchange(&addr, &form("10.0.0.3"), Duration::from_secs(5))?;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.json()["error"], "rate_limited");
    assert!(r.json()["error_description"].is_string(), "{r:?}");
    // The Nonce Endpoint and the credential endpoint: their own limits, in OAuth's shape too.
    let nonce = |client: &str| raw::request("POST", "/nonce", &[("X-Forwarded-For", client)], b"");
    for i in 0..2 {
        let r = raw::exchange(&addr, &nonce("10.0.0.7"), Duration::from_secs(5))?;
        assert_eq!(r.status, 200, "nonce {i}: {r:?}");
        assert!(r.json()["c_nonce"].is_string(), "{r:?}");
    }
    let r = raw::exchange(&addr, &nonce("10.0.0.7"), Duration::from_secs(5))?;
    assert_eq!((r.status, r.json()["error"].as_str()), (429, Some("rate_limited")), "{r:?}");
    assert_eq!(raw::exchange(&addr, &nonce("10.0.0.8"), Duration::from_secs(5))?.status, 200, "another client");
    let credential = |client: &str| {
        raw::request(
            "POST",
            "/credential",
            &[
                ("X-Forwarded-For", client),
                ("Content-Type", "application/json"),
                ("Authorization", "Bearer not-an-access-token"),
            ],
            br#"{"credential_configuration_id":"vneid_l2_sd_jwt"}"#,
        )
    };
    for i in 0..2 {
        let r = raw::exchange(&addr, &credential("10.0.0.9"), Duration::from_secs(5))?;
        // Refused for itself (no proof, no access token), not for the rate.
        assert!(matches!(r.status, 400 | 401), "credential {i}: {r:?}");
    }
    let r = raw::exchange(&addr, &credential("10.0.0.9"), Duration::from_secs(5))?;
    assert_eq!((r.status, r.json()["error"].as_str()), (429, Some("rate_limited")), "{r:?}");
    assert!(r.json()["error_description"].is_string(), "{r:?}");
    // Three wrong tokens lock the client out, even with a right one afterwards; others go on.
    for _ in 0..3 {
        assert_eq!(get(&addr, "/v1/admin/keys", "10.0.0.4", Some("vnid_adm_guess"))?.status, 401);
    }
    let r = get(&addr, "/v1/admin/keys", "10.0.0.4", Some(&admin))?;
    assert_eq!((r.status, r.json()["error"].as_str()), (429, Some("too_many_attempts")), "{r:?}");
    assert_eq!(get(&addr, "/v1/admin/keys", "10.0.0.5", Some(&admin))?.status, 200);
    // Audited in aggregate: counts, no address.
    std::thread::sleep(Duration::from_millis(1500));
    let r = get(&addr, "/v1/admin/audit?limit=1000", "10.0.0.6", Some(&admin))?;
    assert_eq!(r.status, 200, "{r:?}");
    let entries = r.json()["entries"].as_array().cloned().unwrap_or_default();
    let failures: Vec<&Value> = entries.iter().filter(|e| e["entry"]["action"] == "auth.failures").collect();
    assert!(!failures.is_empty(), "no auth.failures entry: {entries:?}");
    let detail = failures[0]["entry"]["detail"].as_str().unwrap();
    assert!(detail.contains("failures=3") && detail.contains("locked_out=1"), "{detail}");
    assert!(!r.json().to_string().contains("10.0.0.4"), "the audit names no address");
    let m = scrape(&issuer)?;
    for want in [
        "issuer_rate_limited_total{cause=\"rate\",class=\"staff\"} 1",
        "issuer_rate_limited_total{cause=\"rate\",class=\"token\"} 1",
        "issuer_rate_limited_total{cause=\"rate\",class=\"nonce\"} 1",
        "issuer_rate_limited_total{cause=\"rate\",class=\"credential\"} 1",
        "issuer_rate_limited_total{cause=\"auth_failures\",class=\"staff\"} 1",
        "issuer_auth_failures_total{kind=\"staff\"} 3",
    ] {
        assert!(m.contains(want), "{want} not in {m}");
    }
    Ok(())
}

#[test]
fn the_configuration_file_and_the_environment_are_read_and_misspelt_keys_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("issuer.toml");
    std::fs::write(&config, "public_url = \"https://issuer.file.test\"\n[offers]\ntx_code_length = 8\n")?;
    let c = config.to_str().unwrap();
    let issuer = Issuer::start_env(&dir.path().join("a"), &["--config", c], &[], None)?;
    assert_eq!(issuer.url, "https://issuer.file.test");
    drop(issuer);
    // The environment overrides the file.
    let issuer = Issuer::start_env(
        &dir.path().join("b"),
        &["--config", c],
        &[("VNEID_PUBLIC_URL", "https://issuer.env.test")],
        None,
    )?;
    assert_eq!(issuer.url, "https://issuer.env.test");
    drop(issuer);
    // A misspelt key is refused at start, naming it.
    std::fs::write(&config, "[http]\nmax_conections = 10\n")?;
    let out = e2e::run("issuer", &["serve", "--config", c, "--data", dir.path().join("c").to_str().unwrap()])?;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_conections"), "{err}");
    Ok(())
}
