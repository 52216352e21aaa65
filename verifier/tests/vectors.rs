//! Test vectors of the wire formats (`verifier/testdata/`, described in `docs/formats.md`).
//!
//! The vectors are built from fixed seeds and times, and Ed25519 signatures are deterministic,
//! so the builders must reproduce the files byte for byte: `vectors_are_current` fails if a
//! format changes without the vectors (set `REGENERATE_VECTORS=1` to rewrite them, then review
//! the diff). `qr_cases` and `sd_jwt_cases` then check every case's expected verdict from the
//! files alone, as a third-party implementation would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Value};
use verifier::qr::{self, QrCheck};
use verifier::{Bundle, Date, Policy, Purpose};

use verifier::testkit::*;

fn tamper_signature(text: &str) -> String {
    // The issuer signature sits in the middle of the text; change one base45 character there to
    // another value that keeps the triplet decodable.
    let mut b = text.as_bytes().to_vec();
    let i = text.len() - 120;
    let i = i - (i - qr::PREFIX.len()) % 3; // first character of a triplet: low digit
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

fn qr_cases(w: &World) -> Vec<Value> {
    let exp = T0 + 2 * 365 * 86_400;
    let t = NOW - 10;
    let mut cases = Vec::new();
    let mut case = |name: &str, text: String, purpose: Option<Purpose>, now: u64, challenge: &str, expect: &str| {
        cases.push(json!({"name": name, "text": text, "purpose": purpose, "now": now, "challenge": challenge, "expect": expect}));
    };
    for p in Purpose::ALL {
        let c = credential(w, &w.issuer, p, 4242, exp);
        case(&format!("valid-{p}"), present(w, &c, p, t, &w.holder, b""), Some(p), NOW, "", "valid");
    }
    let land = credential(w, &w.issuer, Purpose::Landlord, 4242, exp);
    let good = present(w, &land, Purpose::Landlord, t, &w.holder, b"");
    case("valid-any-purpose", good.clone(), None, NOW, "", "valid");
    case("tampered-issuer-signature", tamper_signature(&good), Some(Purpose::Landlord), NOW, "", "bad_signature");
    case("wrong-purpose", good.clone(), Some(Purpose::Bank), NOW, "", "wrong_purpose");
    case("presentation-expired", good.clone(), Some(Purpose::Landlord), t + 61, "", "presentation_expired");
    case("presentation-from-future", good.clone(), Some(Purpose::Landlord), t - 3600, "", "presentation_not_yet_valid");
    case("challenge-expected", good.clone(), Some(Purpose::Landlord), NOW, "00112233", "bad_holder_signature");
    case(
        "challenge-bound",
        present(w, &land, Purpose::Landlord, t, &w.holder, &[0x00, 0x11, 0x22, 0x33]),
        Some(Purpose::Landlord),
        NOW,
        "00112233",
        "valid",
    );
    case(
        "other-device",
        present(w, &land, Purpose::Landlord, t, &w.stranger, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "bad_holder_signature",
    );
    let stranger = credential(w, &w.stranger, Purpose::Landlord, 4242, exp);
    case(
        "unknown-key",
        present(w, &stranger, Purpose::Landlord, t, &w.holder, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "unknown_key",
    );
    let by_revoked = credential(w, &w.revoked, Purpose::Landlord, 4242, exp);
    case(
        "key-revoked",
        present(w, &by_revoked, Purpose::Landlord, t, &w.holder, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "key_revoked",
    );
    let short = credential(w, &w.issuer, Purpose::Landlord, 4242, T0 + 3600);
    case(
        "credential-expired",
        present(w, &short, Purpose::Landlord, t, &w.holder, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "expired",
    );
    let revoked = credential(w, &w.issuer, Purpose::Landlord, 77, exp);
    case(
        "revoked",
        present(w, &revoked, Purpose::Landlord, t, &w.holder, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "revoked",
    );
    let suspended = credential(w, &w.issuer, Purpose::Landlord, 78, exp);
    case(
        "suspended",
        present(w, &suspended, Purpose::Landlord, t, &w.holder, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "suspended",
    );
    let beyond = credential(w, &w.issuer, Purpose::Landlord, 1 << 20, exp);
    case(
        "status-index-beyond-list",
        present(w, &beyond, Purpose::Landlord, t, &w.holder, b""),
        Some(Purpose::Landlord),
        NOW,
        "",
        "malformed",
    );
    case("trust-list-stale", good.clone(), Some(Purpose::Landlord), T0 + 38 * 86_400, "", "trust_list_stale");
    case("garbage", "VN1:HELLO WORLD".into(), None, NOW, "", "malformed");
    case("wrong-prefix", good.replacen("VN1:", "HC1:", 1), None, NOW, "", "malformed");
    case("truncated", good[..good.len() - 3].to_string(), None, NOW, "", "malformed");
    cases
}

fn sd_jwt_cases(w: &World) -> Vec<Value> {
    let good = sd_jwt(w, &w.issuer, 4242);
    let (jwt, discs, _) = verifier::sdjwt::split(&good);
    let some = format!("{jwt}~{}~{}~", discs[1], discs[4]);
    let forged = {
        let fake = base64_url(&json!(["c2FsdA", "nationality", "USA"]).to_string());
        format!("{jwt}~{fake}~")
    };
    vec![
        json!({"name": "all-disclosed", "sd_jwt": good, "now": NOW, "expect": "valid", "disclosed": 12}),
        json!({"name": "two-disclosed", "sd_jwt": some, "now": NOW, "expect": "valid", "disclosed": 2}),
        json!({"name": "forged-disclosure", "sd_jwt": forged, "now": NOW, "expect": "malformed"}),
        json!({"name": "revoked", "sd_jwt": sd_jwt(w, &w.issuer, 77), "now": NOW, "expect": "revoked"}),
        json!({"name": "unknown-key", "sd_jwt": sd_jwt(w, &w.stranger, 4242), "now": NOW, "expect": "unknown_key"}),
        json!({"name": "trust-list-stale", "sd_jwt": good, "now": T0 + 3 * 365 * 86_400, "expect": "trust_list_stale"}),
    ]
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn files(w: &World) -> Vec<(&'static str, String)> {
    let keys = json!({
        "root": {"seed_hex": hex32(1), "public": pk(&key(1)).to_string(), "kid": kid(&key(1)).to_string()},
        "issuer": {"seed_hex": hex32(2), "public": pk(&w.issuer).to_string(), "kid": kid(&w.issuer).to_string()},
        "holder": {"seed_hex": hex32(3), "public": pk(&w.holder).to_string()},
        "stranger": {"seed_hex": hex32(4), "public": pk(&w.stranger).to_string(), "kid": kid(&w.stranger).to_string()},
        "revoked_issuer": {"seed_hex": hex32(5), "public": pk(&w.revoked).to_string(), "kid": kid(&w.revoked).to_string()},
        "note": "Test keys only: Ed25519 seeds of 32 equal bytes. Never use them for anything else."
    });
    vec![
        ("bundle.json", String::from_utf8(w.bundle.to_json()).unwrap() + "\n"),
        ("keys.json", serde_json::to_string_pretty(&keys).unwrap() + "\n"),
        ("qr-cases.json", serde_json::to_string_pretty(&qr_cases(w)).unwrap() + "\n"),
        ("sd-jwt-cases.json", serde_json::to_string_pretty(&sd_jwt_cases(w)).unwrap() + "\n"),
    ]
}

fn hex32(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

#[test]
fn vectors_are_current() {
    let w = world();
    let regenerate = std::env::var_os("REGENERATE_VECTORS").is_some();
    for (name, content) in files(&w) {
        let path = testdata().join(name);
        if regenerate {
            std::fs::write(&path, &content).unwrap();
        } else {
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == content,
                "{name} is out of date: run REGENERATE_VECTORS=1 cargo test -p verifier --test vectors"
            );
        }
    }
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(testdata().join(name)).unwrap()).unwrap()
}

fn store() -> verifier::TrustStore {
    Bundle::from_json(&std::fs::read(testdata().join("bundle.json")).unwrap()).unwrap().open().unwrap()
}

#[test]
fn qr_cases_from_files() {
    let store = store();
    let cases = load("qr-cases.json");
    assert!(cases.as_array().unwrap().len() >= 20);
    for c in cases.as_array().unwrap() {
        let challenge = hex::decode(c["challenge"].as_str().unwrap()).unwrap();
        let check = QrCheck {
            purpose: c["purpose"].as_str().map(|p| p.parse().unwrap()),
            now: c["now"].as_u64().unwrap(),
            challenge: &challenge,
            policy: Policy::default(),
        };
        let got = match store.verify_qr(c["text"].as_str().unwrap(), &check) {
            Ok(v) => {
                assert_eq!(v.claims, kim().restrict_to(v.purpose), "{}", c["name"]);
                "valid".to_owned()
            }
            Err(e) => e.reason.code().to_owned(),
        };
        assert_eq!(got, c["expect"].as_str().unwrap(), "case {}", c["name"]);
    }
}

#[test]
fn sd_jwt_cases_from_files() {
    let store = store();
    for c in load("sd-jwt-cases.json").as_array().unwrap() {
        let got =
            store.verify_sd_jwt(c["sd_jwt"].as_str().unwrap(), c["now"].as_u64().unwrap(), &Policy::default(), None);
        match got {
            Ok(v) => {
                assert_eq!(c["expect"], "valid", "case {}", c["name"]);
                let disclosed = v.claims.len() - 1; // minus assurance_level, always in clear
                assert_eq!(disclosed as u64, c["disclosed"].as_u64().unwrap(), "case {}", c["name"]);
            }
            Err(e) => assert_eq!(e.reason.code(), c["expect"].as_str().unwrap(), "case {}", c["name"]),
        }
    }
}

#[test]
fn landlord_proof_fits_qr_version_13() {
    let w = world();
    let c = credential(&w, &w.issuer, Purpose::Landlord, 4242, T0 + 2 * 365 * 86_400);
    let text = present(&w, &c, Purpose::Landlord, NOW, &w.holder, b"");
    // QR version 13 at error correction M holds 483 alphanumeric characters.
    assert!(text.len() <= 483, "landlord QR text is {} characters", text.len());
}

#[test]
fn every_single_byte_change_is_rejected() {
    // Flip each byte of the CBOR presentation: nothing may verify, nothing may panic.
    let w = world();
    let store = w.bundle.open().unwrap();
    let c = credential(&w, &w.issuer, Purpose::Landlord, 4242, T0 + 2 * 365 * 86_400);
    let text = present(&w, &c, Purpose::Landlord, NOW, &w.holder, b"");
    let bytes = qr::decode_text(&text).unwrap();
    let check = QrCheck { purpose: None, now: NOW, challenge: b"", policy: Policy::default() };
    assert!(store.verify_qr(&text, &check).is_ok());
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let t = format!("{}{}", qr::PREFIX, verifier::base45::encode(&b));
            assert!(store.verify_qr(&t, &check).is_err(), "byte {i} bit {bit:#x} still verifies");
        }
    }
    for len in 0..bytes.len() {
        let t = format!("{}{}", qr::PREFIX, verifier::base45::encode(&bytes[..len]));
        assert!(store.verify_qr(&t, &check).is_err());
    }
    let _ = Date::from_days(0);
}

#[test]
fn fuzz_entry_points_survive_every_prefix_of_the_vectors() {
    // What the fuzz targets (fuzz/) start from: prefixes of real inputs must not panic.
    for c in load("qr-cases.json").as_array().unwrap() {
        let t = c["text"].as_str().unwrap().as_bytes();
        for len in (0..t.len()).step_by(7) {
            verifier::fuzzing::qr_text(&t[..len]);
        }
    }
    let bundle = std::fs::read(testdata().join("bundle.json")).unwrap();
    for len in (0..bundle.len()).step_by(53) {
        verifier::fuzzing::jws_and_bundle(&bundle[..len]);
    }
}
