//! After issuance: an admin suspends, reinstates and revokes a credential, and rotates and
//! revokes signing keys; a landlord who re-syncs sees each change offline, one who does not keeps
//! the answer of their last sync.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use anyhow::Result;
use e2e::{journey_with, run, run_ok};
use serde_json::{json, Value};

fn verify(bundle: &Path, text: &Path) -> Result<(i32, Value)> {
    let out = run(
        "verifier",
        &["verify", "--bundle", &bundle.to_string_lossy(), "--text", &text.to_string_lossy(), "--json"],
    )?;
    Ok((out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout)?))
}

fn sync(url: &str, root: &str, bundle: &Path) -> Result<()> {
    run_ok("verifier", &["sync", "--issuer", url, "--root-key", root, "--out", &bundle.to_string_lossy()])?;
    Ok(())
}

#[test]
fn status_changes_and_key_rotation_reach_offline_verifiers_after_sync() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Verifiers here sync every two seconds: a next key may sign two seconds after it is published.
    let j = journey_with(dir.path(), &["--verifier-sync-interval-secs", "2"], None)?;
    let http = j.issuer.http();
    let admin = j.issuer.admin_token.clone().unwrap();
    let w = j.wallet.to_string_lossy().into_owned();
    let text = dir.path().join("now.txt");
    let present =
        || run_ok("wallet-sim", &["--home", &w, "present", "--purpose", "landlord", "--text", &text.to_string_lossy()]);

    // The admin finds the credential through the application.
    let (st, list) = http.get("/v1/applications", Some(&admin))?;
    assert_eq!(st, 200, "{list}");
    let app = list["applications"][0]["id"].as_str().unwrap().to_owned();
    let (_, view) = http.get(&format!("/v1/applications/{app}"), Some(&admin))?;
    assert_eq!(view["state"], "issued");
    let cred = view["credential_id"].as_str().unwrap().to_owned();
    let status =
        |s: &str| http.post(&format!("/v1/admin/credentials/{cred}/status"), Some(&admin), &json!({"status": s}));

    // Suspended: a landlord who re-syncs sees it; the old bundle still says valid.
    let old_bundle = dir.path().join("old-bundle");
    std::fs::copy(&j.bundle, &old_bundle)?;
    assert_eq!(status("suspended")?.0, 200);
    sync(&j.issuer.url, &j.issuer.root_key, &j.bundle)?;
    present()?;
    assert_eq!(verify(&j.bundle, &text)?.1["reason"], "suspended");
    assert_eq!(verify(&old_bundle, &text)?.0, 0, "a bundle synced before the change keeps its answer");
    // Reinstated, then revoked for good.
    assert_eq!(status("valid")?.0, 200);
    sync(&j.issuer.url, &j.issuer.root_key, &j.bundle)?;
    present()?;
    assert_eq!(verify(&j.bundle, &text)?.0, 0);
    assert_eq!(status("revoked")?.0, 200);
    let (st, v) = status("valid")?;
    assert_eq!((st, v["error"].as_str()), (409, Some("credential_revoked")), "revocation is final");
    sync(&j.issuer.url, &j.issuer.root_key, &j.bundle)?;
    present()?;
    assert_eq!(verify(&j.bundle, &text)?.1["reason"], "revoked");

    let kim_kid = verify(&j.bundle, &text)?.1["kid"].as_str().unwrap().to_owned();

    // A person whose credential was revoked may apply again.
    let officer = e2e::officer_token(&http, &admin)?;
    let (st, v) = http.post("/v1/applications", Some(&officer), &e2e::kim_tk01())?;
    assert_eq!(st, 201, "{v}");

    // Planned rotation: the next key is published first; a verifier that synced then accepts
    // what the key signs after its activation, without syncing again.
    let (st, v) = http.post("/v1/admin/keys", Some(&admin), &json!({}))?;
    assert_eq!(st, 201, "{v}");
    let next = v["next"].as_str().unwrap().to_owned();
    let planned = dir.path().join("planned-bundle");
    sync(&j.issuer.url, &j.issuer.root_key, &planned)?;
    let activate = format!("/v1/admin/keys/{next}/activate");
    let (st, v) = http.post(&activate, Some(&admin), &json!({}))?;
    assert_eq!((st, v["error"].as_str()), (409, Some("key_not_synced")), "not before verifiers had time to sync: {v}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (st, v) = http.post(&activate, Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    let offer = e2e::enroll(&http, &officer, &wang_tk01())?;
    let w2 = dir.path().join("wallet-wang").to_string_lossy().into_owned();
    run_ok("wallet-sim", &["--home", &w2, "init"])?;
    run_ok("wallet-sim", &["--home", &w2, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
    let wang = dir.path().join("wang.txt");
    run_ok("wallet-sim", &["--home", &w2, "present", "--purpose", "landlord", "--text", &wang.to_string_lossy()])?;
    let (code, v) = verify(&planned, &wang)?;
    assert_eq!((code, v["kid"].as_str()), (0, Some(next.as_str())), "{v}");

    // Emergency rotation, and revoking the key that signed Kim's credential: everything it
    // signed is refused after the next sync.
    let (st, v) = http.post("/v1/admin/keys/rotate", Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.iter().filter(|k| k["state"] == "active").count(), 1);
    assert_eq!(keys.iter().filter(|k| k["state"] == "retired").count(), 2);
    let (st, v) = http.post(&format!("/v1/admin/keys/{kim_kid}/revoke"), Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    sync(&j.issuer.url, &j.issuer.root_key, &j.bundle)?;
    assert_eq!(verify(&j.bundle, &text)?.1["reason"], "key_revoked");
    // Wang's credential, signed by the retired (not revoked) key, stays valid.
    run_ok("wallet-sim", &["--home", &w2, "present", "--purpose", "landlord", "--text", &wang.to_string_lossy()])?;
    assert_eq!(verify(&j.bundle, &wang)?.0, 0);

    // Every change is in the audit log, with ids and codes only.
    let (st, audit) = http.get("/v1/admin/audit?limit=1000", Some(&admin))?;
    assert_eq!(st, 200);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["entry"]["action"].as_str().unwrap()).collect();
    for want in [
        "application.submitted",
        "application.approved",
        "credential.issued",
        "credential.status",
        "key.rotated",
        "key.revoked",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    assert!(!audit.to_string().contains("M12345678"), "the audit log must not carry personal data");
    Ok(())
}

fn wang_tk01() -> Value {
    json!({
        "full_name": "王芳",
        "full_name_latin": "WANG FANG",
        "sex": "F",
        "date_of_birth": "1985-11-03",
        "nationality": "CHN",
        "passport_number": "EA1234567",
        "residence_card": {"number": "TRC0023456", "kind": "temporary", "issued_on": "2025-04-01", "expires_on": "2027-03-31"},
        "address": "Tòa nhà Keangnam, Phạm Hùng, Nam Từ Liêm, Hà Nội",
        "phone": "+84 987 654 321",
        "email": "wang.fang@example.cn",
        "reception_point": "hn-ba-dinh-police"
    })
}
