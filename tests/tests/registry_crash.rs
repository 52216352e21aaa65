//! The registry change job killed in the middle of a large batch (kill -9 of the issuer while it
//! applies thousands of changes) and run again applies each change exactly once: one
//! `registry.change` audit entry per feed position, one status change per change that moves a
//! credential, one renewal application, and the landlord sees the final status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use e2e::registry::{audit_all, change, progress, replaced, run_job, ChangeLog};
use e2e::{run, run_ok, Issuer};
use serde_json::json;

const TOTAL: u64 = 4000;
const REPLACED_AT: u64 = 600;
const REVOKED_AT: u64 = 3900;

#[test]
fn a_registry_job_killed_mid_batch_applies_each_change_exactly_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = ChangeLog::create(&dir.path().join("registry-changes.jsonl"))?;
    let data = dir.path().join("issuer-data");
    let args =
        ["--registry-changes", &log.path().to_string_lossy(), "--registry-sync-interval-secs", "0"].map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let issuer = Issuer::start(&data, &args)?;
    let admin = issuer.admin_token.clone().unwrap();
    let http = issuer.http();
    let officer = e2e::officer_token(&http, &admin)?;
    let wallet = dir.path().join("wallet").to_string_lossy().into_owned();
    run_ok("wallet-sim", &["--home", &wallet, "init"])?;
    let offer = e2e::enroll(&http, &officer, &e2e::kim_tk01())?;
    run_ok("wallet-sim", &["--home", &wallet, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;

    // A large export: cards nobody here holds, and two changes to Kim's card (replaced early,
    // then the old card revoked late).
    let entries: Vec<_> = (1..=TOTAL)
        .map(|seq| match seq {
            REPLACED_AT => replaced(seq, "TRC0012345", "TRC0099001", "renewal"),
            REVOKED_AT => change(seq, "TRC0012345", "revoked", "registry_correction"),
            _ => change(seq, &format!("TRC8{seq:07}"), "revoked", "deportation"),
        })
        .collect();
    log.append(&entries)?;

    // Start the job, and kill the issuer (SIGKILL) while it is part-way through.
    let (st, v) = http.post("/v1/admin/registry/sync", Some(&admin), &json!({}))?;
    assert_eq!(st, 202, "{v}");
    let t0 = Instant::now();
    loop {
        let p = progress(&http, &admin)?;
        let applied = p["run"]["applied"].as_u64().unwrap_or(0);
        assert!(p["running"] == true, "the run ended before it could be interrupted: {p}");
        if applied >= TOTAL / 4 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no progress: {p}");
        std::thread::sleep(Duration::from_millis(5));
    }
    issuer.kill();

    // Restarted: the position is where the crash left it, part-way.
    let issuer = Issuer::start(&data, &args)?;
    let http = issuer.http();
    let at_restart = progress(&http, &admin)?["position"].as_u64().unwrap();
    eprintln!("killed at feed position {at_restart} of {TOTAL}");
    assert!(at_restart > 0 && at_restart < TOTAL, "killed mid-batch: position {at_restart}");
    let p = run_job(&http, &admin)?;
    assert_eq!(p["position"].as_u64(), Some(TOTAL), "{p}");
    assert_eq!(p["run"]["from_position"].as_u64(), Some(at_restart));
    assert_eq!(p["run"]["applied"].as_u64(), Some(TOTAL - at_restart), "resumed exactly after the last durable change");
    assert_eq!(p["backlog"].as_u64(), Some(0));
    // Run again: nothing left.
    assert_eq!(run_job(&http, &admin)?["run"]["applied"].as_u64(), Some(0));

    // Each change applied exactly once.
    let audit = audit_all(&http, &admin)?;
    let mut per_seq: BTreeMap<u64, usize> = BTreeMap::new();
    for e in audit.iter().filter(|e| e["action"] == "registry.change") {
        *per_seq.entry(e["subject"].as_str().unwrap().parse()?).or_default() += 1;
    }
    assert_eq!(per_seq.len() as u64, TOTAL, "every position applied");
    assert!(per_seq.values().all(|n| *n == 1), "no position applied twice");
    assert_eq!(per_seq.keys().copied().collect::<Vec<_>>(), (1..=TOTAL).collect::<Vec<_>>());
    let moves: Vec<&str> =
        audit.iter().filter(|e| e["action"] == "credential.status").map(|e| e["detail"].as_str().unwrap()).collect();
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert!(moves[0].starts_with(&format!("suspended reason=card_replaced registry_seq={REPLACED_AT} ")), "{moves:?}");
    assert!(moves[1].starts_with(&format!("revoked reason=card_revoked registry_seq={REVOKED_AT} ")), "{moves:?}");
    let renewals = audit.iter().filter(|e| e["action"] == "application.submitted" && e["actor"] == "registry").count();
    assert_eq!(renewals, 1, "one renewal application");
    let (_, apps) = http.get("/v1/applications", Some(&officer))?;
    assert_eq!(apps["applications"].as_array().unwrap().len(), 2, "Kim's application and the renewal: {apps}");

    // The records: one per position, in order.
    let mut seen = 0;
    let mut after = 0;
    loop {
        let (st, page) = http.get(&format!("/v1/reports/registry-changes?after={after}&limit=500"), Some(&admin))?;
        assert_eq!(st, 200, "{page}");
        for c in page["changes"].as_array().unwrap() {
            seen += 1;
            assert_eq!(c["seq"].as_u64(), Some(seen));
        }
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seen, TOTAL);

    // The landlord who syncs sees the final status.
    let bundle = dir.path().join("bundle").to_string_lossy().into_owned();
    run_ok("verifier", &["sync", "--issuer", &issuer.url, "--root-key", &issuer.root_key, "--out", &bundle])?;
    let qr = dir.path().join("qr.txt").to_string_lossy().into_owned();
    run_ok("wallet-sim", &["--home", &wallet, "present", "--purpose", "landlord", "--text", &qr])?;
    let out = run("verifier", &["verify", "--bundle", &bundle, "--text", &qr, "--json"])?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["reason"], "revoked", "{v}");
    Ok(())
}
