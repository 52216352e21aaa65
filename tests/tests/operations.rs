//! Operating the real binary: SIGTERM under load exits 0 with every acknowledged write present;
//! `/readyz` tells the truth about the signing key's period (`/livez` does not care); the last
//! admin cannot lock themselves out, and `issuer admin recover` (offline) gets them back in,
//! audited; `--log-format json` writes JSON lines without personal data or secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use e2e::Issuer;
use serde_json::{json, Value};

fn letters(n: usize) -> String {
    n.to_string().chars().map(|d| char::from(b'A' + d.to_digit(10).unwrap() as u8)).collect()
}

fn form(worker: usize, i: usize) -> Value {
    json!({
        "full_name": format!("Trần Văn {} {}", letters(worker), letters(i)),
        "full_name_latin": format!("TRAN VAN {} {}", letters(worker), letters(i)),
        "sex": "M",
        "date_of_birth": "1985-05-06",
        "nationality": "FRA",
        "passport_number": format!("P{worker}{i:07}"),
        "residence_card": {"number": format!("TRC{worker}{i:07}"), "kind": "temporary", "issued_on": "2025-01-01", "expires_on": "2029-01-01"},
        "address": "2 Tràng Tiền, Hoàn Kiếm, Hà Nội",
        "phone": "0912000222",
        "email": format!("w{worker}.{i}@example.fr"),
        "reception_point": "hn-ba-dinh-police"
    })
}

#[test]
fn sigterm_under_load_exits_0_with_every_acknowledged_write_present() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let issuer = Issuer::start(&data, &[])?;
    let http = issuer.http();
    let officer = e2e::officer_token(&http, issuer.admin_token.as_deref().unwrap())?;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (http, officer, acked, errors, stop) =
                (http.clone(), officer.clone(), acked.clone(), errors.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0..100_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match http.post("/v1/applications", Some(&officer), &form(w, i)) {
                        Ok((201, v)) => acked.lock().unwrap().push(v["id"].as_str().unwrap().to_owned()),
                        Ok((status, v)) => errors.lock().unwrap().push(format!("{status} {v}")),
                        // The node stopped accepting: this request was never taken.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 150 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, lines) = issuer.terminate(Duration::from_secs(30))?;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    assert!(status.success(), "the issuer exited with {status} after SIGTERM");
    assert!(lines.iter().any(|l| l == "issuer stopped"), "{lines:?}");
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "requests in flight at SIGTERM must finish, not fail: {errors:?}");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150, "{} acknowledged", acked.len());

    let issuer = Issuer::start(&data, &[])?;
    let http = issuer.http();
    let (st, list) = http.get("/v1/applications?reception_point=hn-ba-dinh-police", Some(&officer))?;
    assert_eq!(st, 200, "{list}");
    let listed: std::collections::HashSet<&str> =
        list["applications"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !listed.contains(id.as_str())).collect();
    assert!(missing.is_empty(), "{} acknowledged applications lost: {missing:?}", missing.len());
    // The shutdown signed the audit chain's head.
    let running = e2e::run_ok("issuer", &["audit", "verify", "--data", data.to_str().unwrap(), "--json"]);
    assert!(running.is_err(), "audit verify must refuse to open the store of a running node");
    drop(issuer);
    let report: Value = serde_json::from_str(&e2e::run_ok(
        "issuer",
        &["audit", "verify", "--data", data.to_str().unwrap(), "--json"],
    )?)?;
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["checkpoints"].as_u64().unwrap() >= 1, "{report}");
    Ok(())
}

#[test]
fn readyz_fails_when_the_signing_key_is_outside_its_period_and_livez_does_not_care() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let issuer = Issuer::start(&data, &[])?;
    let http = issuer.http();
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 200, "{v}");
    assert!(v["checks"].as_array().unwrap().iter().all(|c| c["ok"] == true), "{v}");
    let (st, _) = http.get("/livez", None)?;
    assert_eq!(st, 200);
    drop(issuer);
    // 400 days later, the key (365 days to sign) is past its signing period.
    let issuer = Issuer::start(&data, &["--clock-offset", &(400 * 86_400).to_string()])?;
    let http = issuer.http();
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["status"], "not_ready");
    let key = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "signing_key").unwrap();
    assert_eq!(key["ok"], false, "{v}");
    assert!(key["detail"].as_str().unwrap().contains("past its signing period"), "{v}");
    let store = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "store").unwrap();
    assert_eq!(store["ok"], true, "only the key is wrong: {v}");
    let (st, _) = http.get("/livez", None)?;
    assert_eq!(st, 200);
    let m = ureq::get(issuer.metrics_url.as_deref().unwrap()).call()?.into_string()?;
    assert!(m.contains("issuer_ready 0"), "{m}");
    let days = m.lines().find(|l| l.starts_with("issuer_signing_key_days_left ")).unwrap();
    assert!(days.split(' ').nth(1).unwrap().parse::<f64>()? < 0.0, "{days}");
    Ok(())
}

#[test]
fn the_last_admin_cannot_lock_themselves_out_and_recover_mints_a_new_token_offline() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let issuer = Issuer::start(&data, &[])?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let (_, audit) = http.get("/v1/admin/audit?limit=100", Some(&admin))?;
    let created =
        audit["entries"].as_array().unwrap().iter().find(|e| e["entry"]["action"] == "token.created").unwrap();
    let own = created["entry"]["subject"].as_str().unwrap().to_owned();
    let (st, v) = http.post(&format!("/v1/admin/tokens/{own}/revoke"), Some(&admin), &json!({}))?;
    assert_eq!((st, v["error"].as_str()), (409, Some("last_admin")), "{v}");
    // Recovery is offline: refused while the node runs.
    let out = e2e::run("issuer", &["admin", "recover", "--data", d])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it first"), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, _) = issuer.terminate(Duration::from_secs(20))?;
    assert!(status.success());
    // Say the admin token is lost: recover mints another, printed once.
    let out = e2e::run_ok("issuer", &["admin", "recover", "--data", d, "--name", "night-shift-admin"])?;
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("NEW ADMIN TOKEN (shown once, store it now): "))
        .expect("the new token")
        .to_owned();
    assert!(token.starts_with("vnid_adm_"));
    let issuer = Issuer::start(&data, &[])?;
    let http = issuer.http();
    let (st, _) = http.get("/v1/admin/keys", Some(&token))?;
    assert_eq!(st, 200, "the recovered token is an admin's");
    // With two admins, the first may go; the recovery is in the audit log.
    let (st, v) = http.post(&format!("/v1/admin/tokens/{own}/revoke"), Some(&token), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    let (_, audit) = http.get("/v1/admin/audit?limit=1000", Some(&token))?;
    let rec = audit["entries"].as_array().unwrap().iter().find(|e| e["entry"]["action"] == "token.recovered").unwrap();
    assert_eq!(rec["entry"]["actor"], "offline-recovery");
    assert!(!audit.to_string().contains(&token), "the token itself is never logged");
    Ok(())
}

#[test]
fn json_logs_on_request_with_no_personal_data_or_secrets() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("issuer.log");
    let issuer = Issuer::start_env(
        &dir.path().join("data"),
        &["--log-format", "json"],
        &[("RUST_LOG", "issuer=debug,info")],
        Some(&log),
    )?;
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let offer = e2e::enroll(&http, &officer, &e2e::kim_tk01())?;
    let wallet = dir.path().join("wallet");
    let w = wallet.to_str().unwrap();
    e2e::run_ok("wallet-sim", &["--home", w, "init"])?;
    e2e::run_ok("wallet-sim", &["--home", w, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
    let (status, _) = issuer.terminate(Duration::from_secs(20))?;
    assert!(status.success());
    let text = std::fs::read_to_string(&log)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 10, "{} lines", lines.len());
    let mut requests = 0;
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{l}");
        if v["fields"]["message"] == "request" {
            requests += 1;
            // Route templates only: no id, no query.
            let route = v["fields"]["route"].as_str().unwrap_or_default();
            assert!(
                !route.contains('?')
                    && !route.split('/').any(|s| s.len() >= 16 && s.chars().all(|c| c.is_ascii_hexdigit())),
                "{l}"
            );
        }
    }
    assert!(requests >= 6, "{requests} request lines");
    let code = verifier::build::oid4vci::CredentialOffer::from_uri(&offer.uri)
        .map_err(anyhow::Error::msg)?
        .pre_authorized_code()
        .unwrap()
        .to_owned();
    for needle in [
        "M12345678",
        "TRC0012345",
        "minjun.kim",
        "912345678",
        "김민준",
        "KIM MIN JUN",
        "Liễu Giai",
        &admin,
        &officer,
        &code,
    ] {
        assert!(!text.contains(needle), "{needle:?} is in the log");
    }
    Ok(())
}

/// `/readyz` also fails when what verifiers download is older than the operator allows: here
/// the bounds are 2 s, the lists are signed again only every half hour (or at a change), so
/// a few seconds after start both checks fail while the store and the key are fine.
#[test]
fn readyz_fails_when_the_published_lists_are_older_than_allowed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let issuer = Issuer::start_env(
        &dir.path().join("data"),
        &[],
        &[("VNEID_HEALTH__MAX_TRUST_LIST_AGE_S", "2"), ("VNEID_HEALTH__MAX_STATUS_LIST_AGE_S", "2")],
        None,
    )?;
    let http = issuer.http();
    let check = |v: &serde_json::Value, name: &str| -> serde_json::Value {
        v["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).cloned().unwrap()
    };
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 200, "fresh at start: {v}");
    std::thread::sleep(std::time::Duration::from_secs(4));
    let (st, v) = http.get("/readyz", None)?;
    assert_eq!(st, 503, "{v}");
    assert_eq!(check(&v, "trust_list")["ok"], false, "{v}");
    assert_eq!(check(&v, "status_lists")["ok"], false, "{v}");
    assert!(check(&v, "status_lists")["detail"].as_str().unwrap().contains("oldest token"), "{v}");
    assert_eq!(check(&v, "store")["ok"], true, "{v}");
    assert_eq!(check(&v, "signing_key")["ok"], true, "{v}");
    let (st, _) = http.get("/livez", None)?;
    assert_eq!(st, 200);
    Ok(())
}
