//! The `wallet-sim` binary as the end-to-end tests and the README use it: arguments, outputs,
//! the stderr summary line and exit codes (0 ok, 1 failed, 2 usage or unreadable file).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::json;
use verifier::build::qr::{PersonClaims, QrCredential, StatusRef};
use verifier::build::sdjwt::SdJwtBuilder;
use verifier::{KeyId, PublicKey, Purpose};

fn wallet(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wallet-sim"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("WALLET_HOME")
        .output()
        .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Writes a credentials.json holding a landlord credential bound to the wallet's device key,
/// as `receive` would have.
fn store_landlord(home: &Path, holder: PublicKey) {
    let issuer = SigningKey::from_bytes(&[42; 32]);
    let kid = KeyId::try_from(&[1u8, 2, 3][..]).unwrap();
    let t = now();
    let cred = QrCredential {
        purpose: Purpose::Landlord,
        level: 2,
        issued_at: t - 100,
        expires_at: t + 86_400,
        holder,
        status: Some(StatusRef { list: 1, idx: 4242 }),
        claims: PersonClaims {
            name_latin: Some("NGUYEN THI LAN ANH PHILIPPA".into()),
            nationality: Some("AUS".into()),
            age_over_18: Some(true),
            ..PersonClaims::default()
        },
    };
    let unsigned = cred.to_sign1(&kid);
    let sig = issuer.sign(&unsigned.to_be_signed()).to_bytes();
    let bytes = unsigned.finish(&sig);
    let b = SdJwtBuilder::new(&kid, "http://issuer.test", t - 100, t + 86_400, &holder).disclosable(
        &[1; 16],
        "nationality",
        json!("AUS"),
    );
    let input = b.signing_input();
    let sig = issuer.sign(input.as_bytes()).to_bytes();
    let sd_jwt = b.finish(&input, &sig);
    let set = json!({
        "v": 1, "issuer": "http://issuer.test", "received_at": t - 50, "sd_jwt": sd_jwt,
        "qr": {"landlord": {"credential": B64.encode(bytes), "expires_at": t + 86_400}},
    });
    std::fs::write(home.join("credentials.json"), set.to_string()).unwrap();
}

#[test]
fn init_show_present_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("w");

    // No wallet yet: usage errors.
    assert_eq!(wallet(&home, &["show"]).status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_wallet-sim")).arg("init").env_remove("WALLET_HOME").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no --home");

    let first = wallet(&home, &["init"]);
    assert!(first.status.success());
    let key = String::from_utf8(first.stdout).unwrap();
    let public: PublicKey = key.trim().parse().unwrap();
    let again = wallet(&home, &["init"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), key);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // WALLET_HOME works as well as --home.
    let out = Command::new(env!("CARGO_BIN_EXE_wallet-sim")).arg("init").env("WALLET_HOME", &home).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), key);

    // Nothing received yet.
    assert!(wallet(&home, &["show"]).status.success());
    assert_eq!(wallet(&home, &["present", "--purpose", "landlord"]).status.code(), Some(1));
    // Bad arguments.
    for bad in [
        &["present", "--purpose", "landlord", "--at", "yesterday"][..],
        &["present", "--purpose", "landlord", "--challenge", "xyz"],
        &["present", "--purpose", "pharmacy"],
        &["present", "--purpose", "landlord", "--window", "0"],
        &["receive", "https://example.com/not-an-offer"],
    ] {
        assert_eq!(wallet(&home, bad).status.code(), Some(2), "{bad:?}");
    }
    // An offer that asks for a transaction code: without one (or a malformed one) it is a usage
    // error, said before anything is sent (nothing listens on port 1).
    let tx = verifier::build::oid4vci::TxCodeSpec::numeric(6, "sent by SMS");
    let offer = verifier::build::oid4vci::CredentialOffer::pre_authorized_with_tx_code("http://127.0.0.1:1", "c", &tx);
    let uri = offer.to_uri();
    let out = wallet(&home, &["receive", &uri]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tx-code"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(wallet(&home, &["receive", &uri, "--tx-code", "12ab56"]).status.code(), Some(2));
    // With a well-formed one it tries the issuer (unreachable here: exit 1).
    assert_eq!(wallet(&home, &["receive", &uri, "--tx-code", "123456"]).status.code(), Some(1));

    store_landlord(&home, public);
    let shown = wallet(&home, &["show"]);
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(text.contains("landlord:") && text.contains("name_latin, nationality, age_over_18"), "{text}");
    assert!(!text.contains("PHILIPPA"));
    let json: serde_json::Value = serde_json::from_slice(&wallet(&home, &["show", "--json"]).stdout).unwrap();
    assert_eq!(json["qr_credentials"]["landlord"]["claims"]["name_latin"], "NGUYEN THI LAN ANH PHILIPPA");

    // PNG, SVG and text together; the summary line on stderr.
    let (png, svg, txt) = (dir.path().join("l.png"), dir.path().join("l.svg"), dir.path().join("l.txt"));
    let out = wallet(
        &home,
        &[
            "present",
            "--purpose",
            "landlord",
            "--png",
            png.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
            "--text",
            txt.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty());
    let qr_text = std::fs::read_to_string(&txt).unwrap();
    assert!(qr_text.starts_with("VN1:") && qr_text.ends_with('\n'));
    let field = |k: &str| stderr.split_whitespace().find_map(|w| w.strip_prefix(&format!("{k}="))).unwrap().to_owned();
    assert_eq!(field("purpose"), "landlord");
    assert_eq!(field("ec"), "M");
    assert_eq!(field("chars").parse::<usize>().unwrap(), qr_text.trim_end().len());
    let img = image::open(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let (meta, decoded) = prepared.detect_grids()[0].decode().unwrap();
    assert_eq!(decoded, qr_text.trim_end());
    assert_eq!(meta.version.0.to_string(), field("version"));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    // Text to stdout; the terminal rendering when no output is named.
    let out = wallet(
        &home,
        &["present", "--purpose", "landlord", "--text", "-", "--challenge", "0a0b", "--at", "2026-11-29T10:00:00Z"],
    );
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("VN1:"));
    let out = wallet(&home, &["present", "--purpose", "landlord"]);
    let term = String::from_utf8(out.stdout).unwrap();
    assert!(term.contains('\u{2588}') && term.lines().count() > 20, "{term}");

    // No bank credential; a landlord credential presented after it expired.
    assert_eq!(wallet(&home, &["present", "--purpose", "bank"]).status.code(), Some(1));
    assert_eq!(
        wallet(&home, &["present", "--purpose", "landlord", "--at", "2099-01-01T00:00:00Z"]).status.code(),
        Some(1)
    );
    // An unreadable store is a usage problem.
    std::fs::write(home.join("credentials.json"), "{").unwrap();
    assert_eq!(wallet(&home, &["show"]).status.code(), Some(2));
}
