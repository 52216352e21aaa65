//! After issuance: an admin suspends, reinstates and revokes a credential, and rotates and
//! revokes signing keys; a landlord who re-syncs sees each change offline, one who does not keeps
//! the answer of their last sync.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use anyhow::Result;
use e2e::{journey, run, run_ok};
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
    let j = journey(dir.path())?;
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

    // Key rotation: the old key retires (what it signed stays valid), the new one is listed.
    let (st, v) = http.post("/v1/admin/keys/rotate", Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.iter().filter(|k| k["state"] == "active").count(), 1);
    assert_eq!(keys.iter().filter(|k| k["state"] == "retired").count(), 1);
    let old_kid = keys.iter().find(|k| k["state"] == "retired").unwrap()["kid"].as_str().unwrap().to_owned();
    // Revoking the retired key: everything it signed is refused after the next sync.
    let (st, v) = http.post(&format!("/v1/admin/keys/{old_kid}/revoke"), Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    sync(&j.issuer.url, &j.issuer.root_key, &j.bundle)?;
    assert_eq!(verify(&j.bundle, &text)?.1["reason"], "key_revoked");

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
