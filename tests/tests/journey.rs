//! The walking skeleton end to end, with the real binaries: an officer approves a foreign
//! resident, the wallet receives a level-2 credential, a landlord verifies its QR offline. Then
//! the altered cases, each with its reason code, and the independent checks (zxing-cpp decodes
//! the PNG as a phone would; the IETF reference `sd-jwt` verifies the SD-JWT VC).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};
use e2e::{journey, run, run_ok, Issuer};
use serde_json::Value;

/// `verifier verify … --json` with no network at all: inside a fresh network namespace that has
/// only a downed loopback interface. Returns (exit code, JSON verdict).
fn verify_offline(bundle: &Path, input: (&str, &Path), extra: &[&str]) -> Result<(i32, Value)> {
    let out = Command::new("unshare")
        .arg("--net")
        .arg(e2e::bin("verifier")?)
        .args(["verify", "--bundle"])
        .arg(bundle)
        .arg(input.0)
        .arg(input.1)
        .arg("--json")
        .args(extra)
        .stdin(Stdio::null())
        .output()?;
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8(out.stdout)?;
    if !(code == 0 || code == 1) {
        bail!("verifier exited {code}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((code, serde_json::from_str(&stdout)?))
}

fn python(script: &str, args: &[&Path]) -> Result<String> {
    e2e::interop(script, args)
}

fn stderr_field(stderr: &str, key: &str) -> Option<u64> {
    stderr.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))?.parse().ok())
}

#[test]
fn landlord_verifies_offline_and_every_alteration_is_rejected() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let j = journey(dir.path())?;
    let w = j.wallet.to_string_lossy().into_owned();

    // The demo's PNG verifies with no network, with the landlord's claims and nothing more.
    let (code, v) =
        verify_offline(&j.bundle, ("--png", &j.png), &["--purpose", "landlord", "--root-key", &j.issuer.root_key])?;
    assert_eq!(code, 0, "{v}");
    // A bundle pinned to another root than the app's is refused (exit 2: the verifier's own setup).
    let other_root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let out = run(
        "verifier",
        &[
            "verify",
            "--bundle",
            &j.bundle.to_string_lossy(),
            "--png",
            &j.png.to_string_lossy(),
            "--root-key",
            other_root,
        ],
    )?;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(v["valid"], true);
    assert_eq!(v["purpose"], "landlord");
    assert_eq!(v["claims"]["name_latin"], "KIM MIN JUN");
    assert_eq!(v["claims"]["nationality"], "KOR");
    assert!(v["claims"].get("passport_number").is_none(), "landlord QR must not carry the passport number");
    assert!(v["kid"].as_str().is_some_and(|k| !k.is_empty()));

    // The text file holds the same proof.
    let (code, _) = verify_offline(&j.bundle, ("--text", &j.text), &["--purpose", "landlord"])?;
    assert_eq!(code, 0);

    // One character changed inside the issuer's signature.
    let text = std::fs::read_to_string(&j.text)?;
    let text = text.trim_end();
    let mut b = text.as_bytes().to_vec();
    let i = text.len() - 120;
    let i = i - (i - 4) % 3;
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    let tampered = dir.path().join("tampered.txt");
    std::fs::write(&tampered, &b)?;
    let (code, v) = verify_offline(&j.bundle, ("--text", &tampered), &["--purpose", "landlord"])?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("bad_signature")), "{v}");

    // A presentation signed five minutes ago: a screenshot.
    let old = dir.path().join("old.txt");
    let five_min_ago = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let at = five_min_ago.format(&time::format_description::well_known::Rfc3339)?;
    run_ok(
        "wallet-sim",
        &["--home", &w, "present", "--purpose", "landlord", "--at", &at, "--text", &old.to_string_lossy()],
    )?;
    let (code, v) = verify_offline(&j.bundle, ("--text", &old), &["--purpose", "landlord"])?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("presentation_expired")), "{v}");

    // The bank credential shown to a landlord's verifier.
    let bank = dir.path().join("bank.png");
    run_ok("wallet-sim", &["--home", &w, "present", "--purpose", "bank", "--png", &bank.to_string_lossy()])?;
    let (code, v) = verify_offline(&j.bundle, ("--png", &bank), &["--purpose", "landlord"])?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("wrong_purpose")), "{v}");
    let (code, _) = verify_offline(&j.bundle, ("--png", &bank), &["--purpose", "bank"])?;
    assert_eq!(code, 0);

    // A credential from an issuer whose key is not in the trust list (another issuer instance).
    let rogue = Issuer::start(&dir.path().join("rogue-data"), &[])?;
    let http = rogue.http();
    let officer = e2e::officer_token(&http, rogue.admin_token.as_deref().unwrap_or_default())?;
    let offer = e2e::enroll(&http, &officer, &e2e::kim_tk01())?;
    let w2 = dir.path().join("wallet2").to_string_lossy().into_owned();
    run_ok("wallet-sim", &["--home", &w2, "init"])?;
    run_ok("wallet-sim", &["--home", &w2, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
    let forged = dir.path().join("forged.png");
    run_ok("wallet-sim", &["--home", &w2, "present", "--purpose", "landlord", "--png", &forged.to_string_lossy()])?;
    let (code, v) = verify_offline(&j.bundle, ("--png", &forged), &["--purpose", "landlord"])?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("unknown_key")), "{v}");

    // Garbage is malformed, exit 1; a missing file is a usage problem, exit 2.
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "VN1:NOT A PROOF")?;
    let (code, v) = verify_offline(&j.bundle, ("--text", &junk), &[])?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("malformed")));
    let missing =
        run("verifier", &["verify", "--bundle", &j.bundle.to_string_lossy(), "--text", "/nonexistent/qr.txt"])?;
    assert_eq!(missing.status.code(), Some(2));
    Ok(())
}

#[test]
fn independent_implementations_agree() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let j = journey(dir.path())?;
    let w = j.wallet.to_string_lossy().into_owned();

    // zxing-cpp (as in phone scanners) reads the PNG back to exactly the wallet's text.
    let decoded: Value = serde_json::from_str(&python("decode_qr.py", &[&j.png])?)?;
    let text = std::fs::read_to_string(&j.text)?;
    assert_eq!(decoded["text"].as_str(), Some(text.trim_end()));
    assert_eq!(decoded["ec_level"].as_str(), Some("M"), "{decoded}");

    // Each purpose's QR: its version at EC level M; the landlord's must be 13 or lower.
    for purpose in ["landlord", "bank", "residence-office"] {
        let png = dir.path().join(format!("{purpose}.png"));
        let out = run("wallet-sim", &["--home", &w, "present", "--purpose", purpose, "--png", &png.to_string_lossy()])?;
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let version = stderr_field(&stderr, "version").unwrap_or(99);
        let bytes = stderr_field(&stderr, "bytes").unwrap_or(0);
        eprintln!("{purpose}: QR version {version}, {bytes} bytes");
        if purpose == "landlord" {
            assert!(version <= 13, "landlord QR is version {version}");
        }
        let d: Value = serde_json::from_str(&python("decode_qr.py", &[&png])?)?;
        assert!(d["text"].as_str().is_some_and(|t| t.starts_with("VN1:")));
    }

    // The IETF reference SD-JWT implementation verifies the issued SD-JWT VC with every disclosure.
    let claims: Value = serde_json::from_str(&python(
        "check_sdjwt.py",
        &[&dir.path().join("credential.sd-jwt"), &dir.path().join("issuer-jwks.json")],
    )?)?;
    assert_eq!(claims["name_latin"], "KIM MIN JUN", "{claims}");
    assert_eq!(claims["name"], "김민준");
    assert_eq!(claims["passport_number"], "M12345678");
    assert_eq!(claims["vct"], verifier_vct());
    assert!(claims["cnf"]["jwk"]["x"].is_string());

    // A tampered SD-JWT (one character of the issuer-signed payload changed) fails there too.
    let sd = std::fs::read_to_string(dir.path().join("credential.sd-jwt"))?;
    let dot = sd.find('.').unwrap_or(0);
    let mut b = sd.into_bytes();
    let i = dot + 40;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    let bad = dir.path().join("forged.sd-jwt");
    std::fs::write(&bad, &b)?;
    assert!(python("check_sdjwt.py", &[&bad, &dir.path().join("issuer-jwks.json")]).is_err());
    Ok(())
}

fn verifier_vct() -> &'static str {
    "urn:vn:mps:vneid:level2:foreign-resident"
}
