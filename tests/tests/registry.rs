//! Registry changes through the real binaries: the registry's change log marks a card revoked,
//! replaced or reinstated; the issuer's job (run by an admin) applies it; a landlord who syncs
//! sees it offline; the holder is told; a replaced card's holder receives a renewal with
//! `wallet-sim` (the transaction code from the officer's offer response, and from the outbox),
//! after which the old credential is revoked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use anyhow::Result;
use e2e::registry::{audit_all, change, outbox, replaced, run_job, ChangeLog};
use e2e::{run, run_ok, Http, Issuer};
use serde_json::{json, Value};

/// A holder: a wallet home under the test folder.
struct Holder {
    home: String,
    qr: PathBuf,
}

impl Holder {
    fn new(dir: &Path, name: &str) -> Result<Self> {
        let home = dir.join(format!("wallet-{name}")).to_string_lossy().into_owned();
        run_ok("wallet-sim", &["--home", &home, "init"])?;
        Ok(Self { home, qr: dir.join(format!("{name}.txt")) })
    }

    fn receive(&self, offer: &e2e::Offer) -> Result<()> {
        run_ok("wallet-sim", &["--home", &self.home, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
        Ok(())
    }

    /// Shows the landlord QR and has the landlord verify it against `bundle`: (exit code, JSON).
    fn verify(&self, bundle: &Path) -> Result<(i32, Value)> {
        let qr = self.qr.to_string_lossy().into_owned();
        run_ok("wallet-sim", &["--home", &self.home, "present", "--purpose", "landlord", "--text", &qr])?;
        let out = run("verifier", &["verify", "--bundle", &bundle.to_string_lossy(), "--text", &qr, "--json"])?;
        Ok((out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout)?))
    }

    /// A copy of the wallet as it is now (the old credential, after a renewal replaced it).
    fn copy(&self, dir: &Path, name: &str) -> Result<Self> {
        let home = dir.join(format!("wallet-{name}"));
        std::fs::create_dir_all(&home)?;
        for entry in std::fs::read_dir(&self.home)? {
            let entry = entry?;
            std::fs::copy(entry.path(), home.join(entry.file_name()))?;
        }
        Ok(Self { home: home.to_string_lossy().into_owned(), qr: dir.join(format!("{name}.txt")) })
    }
}

fn sync(issuer: &Issuer, bundle: &Path) -> Result<()> {
    run_ok(
        "verifier",
        &["sync", "--issuer", &issuer.url, "--root-key", &issuer.root_key, "--out", &bundle.to_string_lossy()],
    )?;
    Ok(())
}

fn tk01(name: &str, latin: Option<&str>, birth: &str, nationality: &str, passport: &str, card: &str) -> Value {
    let mut v = json!({
        "full_name": name, "sex": "M", "date_of_birth": birth, "nationality": nationality,
        "passport_number": passport,
        "residence_card": {"number": card, "kind": "temporary", "issued_on": "2025-08-16", "expires_on": "2027-03-31"},
        "address": "5 Tràng Tiền, Hoàn Kiếm, Hà Nội", "phone": "0903111222",
        "email": "holder@example.com", "reception_point": "hn-ba-dinh-police"
    });
    if let Some(l) = latin {
        v["full_name_latin"] = json!(l);
    }
    v
}

#[test]
fn registry_changes_reach_holders_and_offline_verifiers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = ChangeLog::create(&dir.path().join("registry-changes.jsonl"))?;
    let data = dir.path().join("issuer-data");
    let issuer = Issuer::start(
        &data,
        &["--registry-changes", &log.path().to_string_lossy(), "--registry-sync-interval-secs", "0"],
    )?;
    let outbox_file = issuer::default_outbox(&data);
    let http: Http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let bundle = dir.path().join("bundle");

    // 1. Revoked: Kim's credential verifies; the registry revokes the card; after the job and
    //    a sync, the landlord's verifier answers revoked.
    let kim = Holder::new(dir.path(), "kim")?;
    kim.receive(&e2e::enroll(&http, &officer, &e2e::kim_tk01())?)?;
    sync(&issuer, &bundle)?;
    assert_eq!(kim.verify(&bundle)?.0, 0, "valid before the change");
    log.append(&[change(1, "TRC0012345", "revoked", "deportation")])?;
    let p = run_job(&http, &admin)?;
    assert_eq!((p["position"].as_u64(), p["run"]["applied"].as_u64()), (Some(1), Some(1)), "{p}");
    let stale = dir.path().join("stale-bundle");
    std::fs::copy(&bundle, &stale)?;
    sync(&issuer, &bundle)?;
    let (code, v) = kim.verify(&bundle)?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "{v}");
    assert_eq!(kim.verify(&stale)?.0, 0, "nothing else reaches a verifier that has not synced");

    // 2. Replaced: Wang's credential is suspended; the registry's renewal is approved by the
    //    officer and received by the wallet; the new credential verifies and the old one is
    //    revoked.
    let wang_form = tk01("王芳", Some("WANG FANG"), "1985-11-03", "CHN", "EA1234567", "TRC0023456");
    let wang = Holder::new(dir.path(), "wang")?;
    wang.receive(&e2e::enroll(&http, &officer, &wang_form)?)?;
    sync(&issuer, &bundle)?;
    assert_eq!(wang.verify(&bundle)?.0, 0);
    log.append(&[replaced(2, "TRC0023456", "TRC0099001", "renewal")])?;
    run_job(&http, &admin)?;
    sync(&issuer, &bundle)?;
    let (code, v) = wang.verify(&bundle)?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("suspended")), "{v}");
    let wang_old = wang.copy(dir.path(), "wang-old")?;

    let (st, renewal) =
        http.post("/v1/applications/lookup", Some(&officer), &json!({"residence_card_number": "TRC0099001"}))?;
    assert_eq!(st, 200, "{renewal}");
    assert_eq!(renewal["state"], "data_checked", "no new enrollment: checked by the registry's change");
    let renewal_id = renewal["id"].as_str().unwrap().to_owned();
    let (st, offer) = http.post(&format!("/v1/applications/{renewal_id}/approve"), Some(&officer), &json!({}))?;
    assert_eq!(st, 200, "{offer}");
    let offer = e2e::Offer {
        uri: offer["offer_uri"].as_str().unwrap().to_owned(),
        tx_code: offer["tx_code"].as_str().unwrap().to_owned(),
    };
    // The holder, not at the counter, has the code from the outbox (SMS and e-mail) and the
    // offer's link by e-mail.
    let codes = outbox(&outbox_file, "tx_code")?;
    let sent = codes.iter().find(|l| l["application"] == renewal_id.as_str()).expect("a tx_code notice");
    assert_eq!(sent["tx_code"].as_str(), Some(offer.tx_code.as_str()));
    let links = outbox(&outbox_file, "renewal_offer")?;
    assert_eq!(links[0]["link"].as_str(), Some(offer.uri.as_str()));
    wang.receive(&offer)?;
    sync(&issuer, &bundle)?;
    assert_eq!(wang.verify(&bundle)?.0, 0, "the renewed credential verifies");
    let (code, v) = wang_old.verify(&bundle)?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("revoked")), "the old one is revoked: {v}");

    // 3. Reinstated: Thomas's card is replaced (suspended), then the replacement is annulled:
    //    the credential is valid again.
    let thomas_form = tk01("Thomas Müller", None, "1983-09-25", "DEU", "C01X00T47", "TRC0045678");
    let thomas = Holder::new(dir.path(), "thomas")?;
    thomas.receive(&e2e::enroll(&http, &officer, &thomas_form)?)?;
    log.append(&[replaced(3, "TRC0045678", "TRC0099002", "new_employer")])?;
    run_job(&http, &admin)?;
    sync(&issuer, &bundle)?;
    assert_eq!(thomas.verify(&bundle)?.1["reason"], "suspended");
    log.append(&[change(4, "TRC0045678", "reinstated", "decision_annulled")])?;
    run_job(&http, &admin)?;
    sync(&issuer, &bundle)?;
    let (code, v) = thomas.verify(&bundle)?;
    assert_eq!(code, 0, "reinstated: {v}");

    // Each holder was told, in their language, with the reason.
    let notices: Vec<(String, String)> = outbox(&outbox_file, "registry_change")?
        .iter()
        .map(|n| (n["reason"].as_str().unwrap().to_owned(), n["lang"].as_str().unwrap().to_owned()))
        .collect();
    let want = [("card_revoked", "ko"), ("card_replaced", "zh-CN"), ("card_replaced", "en"), ("card_reinstated", "en")];
    assert_eq!(notices, want.map(|(r, l)| (r.to_owned(), l.to_owned())).to_vec());

    // Officers see the changes on their point's report; every change is audited with its
    // registry event, and the audit log carries no card number.
    let (st, report) = http.get("/v1/reports/registry-changes", Some(&officer))?;
    assert_eq!(st, 200, "{report}");
    let seqs: Vec<u64> = report["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(report["changes"][1]["renewal"]["closed"], "issued");
    let audit = audit_all(&http, &admin)?;
    let by_registry: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "credential.status")
        .filter_map(|e| e["detail"].as_str())
        .filter(|d| d.contains("registry_seq="))
        .collect();
    assert_eq!(
        by_registry.len(),
        5,
        "revoked, suspended, revoked after renewal, suspended, reinstated: {by_registry:?}"
    );
    let text = serde_json::to_string(&audit)?;
    let numbers = ["TRC0012345", "TRC0023456", "TRC0099001", "TRC0045678", "TRC0099002"];
    for number in numbers {
        assert!(!text.contains(number), "{number} in the audit log");
    }
    // Nor in the data folder: the records of registry changes hold blind indexes.
    drop(issuer);
    for file in files(&data)? {
        let bytes = std::fs::read(&file)?;
        for number in numbers {
            assert!(!bytes.windows(number.len()).any(|w| w == number.as_bytes()), "{number} in {}", file.display());
        }
    }
    Ok(())
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// The job runs on its own schedule too: with a 1-second interval and no admin asking, a card
/// revoked in the registry's log is applied within seconds and reaches a synced verifier.
#[test]
fn the_periodic_job_applies_a_change_without_being_asked() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let log = ChangeLog::create(&dir.path().join("registry-changes.jsonl"))?;
    let data = dir.path().join("issuer-data");
    let issuer = Issuer::start(
        &data,
        &["--registry-changes", &log.path().to_string_lossy(), "--registry-sync-interval-secs", "1"],
    )?;
    let http: Http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    let officer = e2e::officer_token(&http, &admin)?;
    let bundle = dir.path().join("bundle");
    let kim = Holder::new(dir.path(), "kim")?;
    kim.receive(&e2e::enroll(&http, &officer, &e2e::kim_tk01())?)?;
    sync(&issuer, &bundle)?;
    assert_eq!(kim.verify(&bundle)?.0, 0, "valid before the change");
    log.append(&[change(1, "TRC0012345", "revoked", "deportation")])?;
    let t0 = std::time::Instant::now();
    loop {
        let p = e2e::registry::progress(&http, &admin)?;
        if p["position"].as_u64() == Some(1) && p["running"] == false {
            break;
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(30), "not applied in 30 s: {p}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The revocation is signed into the status list off the hot path: sync until it is there.
    let t0 = std::time::Instant::now();
    loop {
        sync(&issuer, &bundle)?;
        let (code, v) = kim.verify(&bundle)?;
        if code == 1 {
            assert_eq!(v["reason"].as_str(), Some("revoked"), "{v}");
            break;
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(10), "still {code}: {v}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let audit = audit_all(&http, &admin)?;
    assert!(audit.iter().any(|e| e["actor"] == "registry" && e["action"] == "credential.status"), "applied by the job");
    assert!(!audit.iter().any(|e| e["action"] == "registry.sync_requested"), "nobody asked for a run");
    Ok(())
}
