//! Backup and restore with the real binaries: after the journey and a suspension, an online
//! backup is taken from the running node (`issuer backup --url`), more changes follow, the node
//! stops; `issuer restore` rebuilds a fresh node from the backup and the key-encryption key kept
//! apart, and verifies its audit chain; the restored node serves the same status list and trust
//! list keys, the holder's credential verifies against a bundle synced from it with the
//! original root key (suspended, as at backup time), and it goes on issuing status changes.
//! The backup holds no personal data in clear and not the key-encryption key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use e2e::{journey, run, run_ok, Issuer};
use serde_json::{json, Value};

/// The decoded claims of a compact JWS.
fn claims(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn verify(bundle: &Path, text: &Path) -> Result<(i32, Value)> {
    let out =
        run("verifier", &["verify", "--bundle", bundle.to_str().unwrap(), "--text", text.to_str().unwrap(), "--json"])?;
    Ok((out.status.code().unwrap_or(-1), serde_json::from_slice(&out.stdout)?))
}

#[test]
fn a_backup_restored_on_a_fresh_node_serves_the_same_credentials_and_status_lists() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let j = journey(dir.path())?;
    let http = j.issuer.http();
    let admin = j.issuer.admin_token.clone().unwrap();
    let root = j.issuer.root_key.clone();
    let addr = j.issuer.addr().to_owned();
    let url = j.issuer.url.clone();
    let (_, list) = http.get("/v1/applications", Some(&admin))?;
    let app = list["applications"][0]["id"].as_str().unwrap().to_owned();
    let (_, view) = http.get(&format!("/v1/applications/{app}"), Some(&admin))?;
    let cred = view["credential_id"].as_str().unwrap().to_owned();
    let (st, v) =
        http.post(&format!("/v1/admin/credentials/{cred}/status"), Some(&admin), &json!({"status": "suspended"}))?;
    assert_eq!(st, 200, "{v}");
    let status_before = claims(&http.get_text("/status-lists/1")?);
    let keys_before = claims(&http.get_text("/.well-known/vneid-trust-list")?)["keys"].clone();

    // Online: the node keeps running while it is backed up.
    let file = dir.path().join("issuer.vnbak");
    let out = Command::new(e2e::bin("issuer")?)
        .args(["backup", "--url", &url, "--out", file.to_str().unwrap()])
        .env("VNEID_ADMIN_TOKEN", &admin)
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A change after the backup is not in it.
    let later = e2e::officer_token(&http, &admin)?;
    let data = dir.path().join("issuer-data");
    let kek = std::fs::read(data.join("keys/kek"))?;
    let bytes = std::fs::read(&file)?;
    assert!(!bytes.windows(kek.len()).any(|w| w == kek.as_slice()), "the key-encryption key is in the backup");
    for needle in [&b"M12345678"[..], b"minjun.kim@example.com", "김민준".as_bytes()] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "personal data in clear in the backup");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
    }
    let (status, _) = j.issuer.terminate(Duration::from_secs(20))?;
    assert!(status.success());

    // A fresh node, from the backup and the kek kept apart.
    let fresh = dir.path().join("restored");
    let kek_copy = dir.path().join("kek-kept-apart");
    std::fs::write(&kek_copy, &kek)?;
    let out = run_ok(
        "issuer",
        &[
            "restore",
            "--in",
            file.to_str().unwrap(),
            "--data",
            fresh.to_str().unwrap(),
            "--key-file",
            kek_copy.to_str().unwrap(),
        ],
    )?;
    assert!(out.contains("audit chain intact"), "{out}");
    // Never over a node that exists.
    let again = run("issuer", &["restore", "--in", file.to_str().unwrap(), "--data", fresh.to_str().unwrap()])?;
    assert!(!again.status.success());

    let registry = e2e::workspace().join("enrollment/data/registry-sample.jsonl");
    let node = Issuer::start_with(&fresh, &registry, &addr, &[])?;
    assert!(node.admin_token.is_none(), "a restored node has its admins already");
    assert_eq!(node.root_key, root, "the same root key");
    assert_eq!(node.url, url);
    let http = node.http();
    // The same status list content and the same keys.
    let status_after = claims(&http.get_text("/status-lists/1")?);
    assert_eq!(status_after["status_list"], status_before["status_list"]);
    assert_eq!(status_after["sub"], status_before["sub"]);
    let keys_after = claims(&http.get_text("/.well-known/vneid-trust-list")?)["keys"].clone();
    assert_eq!(keys_after, keys_before);
    // The holder's credential, checked offline with a bundle synced from the restored node.
    let bundle = dir.path().join("restored.bundle");
    run_ok("verifier", &["sync", "--issuer", &node.url, "--root-key", &root, "--out", bundle.to_str().unwrap()])?;
    let w = j.wallet.to_str().unwrap();
    let text = dir.path().join("now.txt");
    run_ok("wallet-sim", &["--home", w, "present", "--purpose", "landlord", "--text", text.to_str().unwrap()])?;
    let (code, v) = verify(&bundle, &text)?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("suspended")), "{v}");
    // The token made after the backup is not there; the admin's is.
    let (st, _) = http.get("/v1/reports/daily-counts", Some(&later))?;
    assert_eq!(st, 401, "a token created after the backup must not exist on the restored node");
    let (_, view) = http.get(&format!("/v1/applications/{app}?reason=restore%20drill"), Some(&admin))?;
    assert_eq!(view["credential_id"].as_str(), Some(cred.as_str()));
    assert_eq!(view["form"]["passport_number"], "M12345678", "sealed data opens with the restored keys");
    // It goes on: reinstated, signed with the restored key, seen by a verifier.
    let (st, v) =
        http.post(&format!("/v1/admin/credentials/{cred}/status"), Some(&admin), &json!({"status": "valid"}))?;
    assert_eq!(st, 200, "{v}");
    run_ok("verifier", &["sync", "--issuer", &node.url, "--root-key", &root, "--out", bundle.to_str().unwrap()])?;
    run_ok("wallet-sim", &["--home", w, "present", "--purpose", "landlord", "--text", text.to_str().unwrap()])?;
    assert_eq!(verify(&bundle, &text)?.0, 0);
    let (st, r) = http.get("/v1/admin/audit/verify", Some(&admin))?;
    assert_eq!((st, r["ok"].as_bool()), (200, Some(true)), "{r}");
    Ok(())
}
