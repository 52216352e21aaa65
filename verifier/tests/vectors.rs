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
use verifier::build::qr as wire;
use verifier::{Bundle, Outcome, Policy, Purpose, QrCheck};

use verifier::testkit::*;

fn tamper_signature(text: &str) -> String {
    // The issuer signature sits in the middle of the text; change one base45 character there to
    // another value that keeps the triplet decodable.
    let mut b = text.as_bytes().to_vec();
    let i = text.len() - 120;
    let i = i - (i - wire::PREFIX.len()) % 3; // first character of a triplet: low digit
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

const DAY: u64 = 86_400;

/// One QR case. `verifier` names the kind of verifier whose default policy
/// (`Policy::for_verifier`) judges it; `purpose` is the purpose it asks for (or any).
struct Case<'a> {
    name: &'a str,
    text: String,
    purpose: Option<Purpose>,
    verifier: Purpose,
    now: u64,
    challenge: &'a str,
    expect: &'a str,
    warnings: &'a [&'a str],
}

impl Case<'_> {
    fn json(&self) -> Value {
        let outcome = match self.expect {
            "valid" => "valid",
            "trust_list_stale" | "status_stale" | "status_unknown" => "cannot_decide",
            _ => "invalid",
        };
        json!({"name": self.name, "text": self.text, "purpose": self.purpose, "verifier": self.verifier,
               "now": self.now, "challenge": self.challenge, "outcome": outcome, "expect": self.expect,
               "warnings": self.warnings})
    }
}

fn qr_cases(w: &World) -> Vec<Value> {
    let exp = T0 + 2 * 365 * DAY;
    let t = NOW - 10;
    let land = Some(Purpose::Landlord);
    let mut cases = Vec::new();
    let base = |name, text: &String| Case {
        name,
        text: text.clone(),
        purpose: land,
        verifier: Purpose::Landlord,
        now: NOW,
        challenge: "",
        expect: "valid",
        warnings: &[],
    };
    for p in Purpose::ALL {
        let c = credential(w, &w.issuer, p, 4242, exp);
        let name = format!("valid-{p}");
        let text = present(w, &c, p, t, &w.holder, b"");
        cases.push(Case { name: &name, purpose: Some(p), verifier: p, ..base("", &text) }.json());
    }
    let land_cred = credential(w, &w.issuer, Purpose::Landlord, 4242, exp);
    let good = present(w, &land_cred, Purpose::Landlord, t, &w.holder, b"");
    let with =
        |cred: &[u8], at: u64, holder, challenge: &[u8]| present(w, cred, Purpose::Landlord, at, holder, challenge);
    cases.extend(
        [
            Case { purpose: None, ..base("valid-any-purpose", &good) },
            Case { expect: "bad_signature", ..base("tampered-issuer-signature", &tamper_signature(&good)) },
            Case { purpose: Some(Purpose::Bank), expect: "wrong_purpose", ..base("wrong-purpose", &good) },
            Case { now: t + 61, expect: "presentation_expired", ..base("presentation-expired", &good) },
            Case { now: t - 3600, expect: "presentation_not_yet_valid", ..base("presentation-from-future", &good) },
            Case { challenge: "00112233", expect: "bad_holder_signature", ..base("challenge-expected", &good) },
            Case {
                challenge: "00112233",
                ..base("challenge-bound", &with(&land_cred, t, &w.holder, &[0x00, 0x11, 0x22, 0x33]))
            },
            Case { expect: "bad_holder_signature", ..base("other-device", &with(&land_cred, t, &w.stranger, b"")) },
        ]
        .map(|c| c.json()),
    );
    let by = |signer, idx, exp| credential(w, signer, Purpose::Landlord, idx, exp);
    let shown = |cred: Vec<u8>| with(&cred, t, &w.holder, b"");
    cases.extend(
        [
            Case { expect: "unknown_key", ..base("unknown-key", &shown(by(&w.stranger, 4242, exp))) },
            Case { expect: "key_revoked", ..base("key-revoked", &shown(by(&w.revoked, 4242, exp))) },
            Case { expect: "expired", ..base("credential-expired", &shown(by(&w.issuer, 4242, T0 + 3600))) },
            Case { expect: "revoked", ..base("revoked", &shown(by(&w.issuer, 77, exp))) },
            Case { expect: "suspended", ..base("suspended", &shown(by(&w.issuer, 78, exp))) },
            Case { expect: "malformed", ..base("status-index-beyond-list", &shown(by(&w.issuer, 1 << 20, exp))) },
            Case { now: T0 + 38 * DAY, expect: "trust_list_stale", ..base("trust-list-stale", &good) },
            Case { purpose: None, expect: "malformed", ..base("garbage", &"VN1:HELLO WORLD".to_owned()) },
            Case { purpose: None, expect: "malformed", ..base("wrong-prefix", &good.replacen("VN1:", "HC1:", 1)) },
            Case { purpose: None, expect: "malformed", ..base("truncated", &good[..good.len() - 3].to_owned()) },
        ]
        .map(|c| c.json()),
    );

    // Freshness by kind of verifier: the status list was signed at T0.
    let at = |now: u64, purpose, idx| {
        let cred = credential(w, &w.issuer, purpose, idx, exp);
        (present(w, &cred, purpose, now - 10, &w.holder, b""), now)
    };
    let (three_days, now3) = at(T0 + 3 * DAY, Purpose::Landlord, 4242);
    let (bank_three_days, _) = at(T0 + 3 * DAY, Purpose::Bank, 4242);
    let (eight_days, now8) = at(T0 + 8 * DAY, Purpose::Landlord, 4242);
    let (revoked_old, _) = at(T0 + 3 * DAY, Purpose::Bank, 77);
    let (suspended_old, _) = at(T0 + 3 * DAY, Purpose::Bank, 78);
    let bank = Some(Purpose::Bank);
    let long = credential_of(w, &w.issuer, &long_person(), Purpose::Landlord, 4242, exp);
    cases.extend(
        [
            Case { now: now3, warnings: &["status_stale"], ..base("landlord-status-3-days-old", &three_days) },
            Case {
                purpose: bank,
                verifier: Purpose::Bank,
                now: now3,
                expect: "status_stale",
                ..base("bank-status-3-days-old", &bank_three_days)
            },
            Case { now: now8, expect: "status_stale", ..base("landlord-status-8-days-old", &eight_days) },
            Case {
                purpose: bank,
                verifier: Purpose::Bank,
                now: now3,
                expect: "revoked",
                ..base("bank-revoked-status-3-days-old", &revoked_old)
            },
            Case {
                purpose: bank,
                verifier: Purpose::Bank,
                now: now3,
                expect: "status_stale",
                ..base("bank-suspended-status-3-days-old", &suspended_old)
            },
            Case { ..base("valid-landlord-long-name", &shown(long)) },
        ]
        .map(|c| c.json()),
    );
    cases
}

fn sd_jwt_cases(w: &World) -> Vec<Value> {
    let good = sd_jwt(w, &w.issuer, 4242);
    let (jwt, discs, _) = verifier::build::sdjwt::split(&good);
    let some = format!("{jwt}~{}~{}~", discs[1], discs[4]);
    let forged = {
        let fake = base64_url(&json!(["c2FsdA", "nationality", "USA"]).to_string());
        format!("{jwt}~{fake}~")
    };
    let case = |name: &str, sd_jwt: &str, now: u64, outcome: &str, expect: &str| json!({"name": name, "sd_jwt": sd_jwt, "verifier": "bank", "now": now, "outcome": outcome, "expect": expect});
    let valid = |name: &str, sd_jwt: &str, disclosed: u64| {
        let mut c = case(name, sd_jwt, NOW, "valid", "valid");
        c["disclosed"] = json!(disclosed);
        c
    };
    vec![
        valid("all-disclosed", &good, 12),
        valid("two-disclosed", &some, 2),
        case("forged-disclosure", &forged, NOW, "invalid", "malformed"),
        case("revoked", &sd_jwt(w, &w.issuer, 77), NOW, "invalid", "revoked"),
        case("unknown-key", &sd_jwt(w, &w.stranger, 4242), NOW, "invalid", "unknown_key"),
        case("trust-list-stale", &good, T0 + 3 * 365 * DAY, "cannot_decide", "trust_list_stale"),
        case("status-3-days-old", &good, T0 + 3 * DAY, "cannot_decide", "status_stale"),
        case("revoked-status-3-days-old", &sd_jwt(w, &w.issuer, 77), T0 + 3 * DAY, "invalid", "revoked"),
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

/// `(outcome, expect, warnings)` of a verification, as the case files write them.
fn summary<T>(o: &Outcome<T>, warnings: impl Fn(&T) -> Vec<String>) -> (String, String, Vec<String>) {
    match o {
        Outcome::Valid(v) => ("valid".into(), "valid".into(), warnings(v)),
        Outcome::Invalid(r) => ("invalid".into(), r.reason.code().into(), vec![]),
        Outcome::CannotDecide(u) => ("cannot_decide".into(), u.reason.code().into(), vec![]),
    }
}

fn policy_of(case: &Value) -> Policy {
    Policy::for_verifier(case["verifier"].as_str().unwrap().parse().unwrap())
}

#[test]
fn qr_cases_from_files() {
    let store = store();
    let cases = load("qr-cases.json");
    assert!(cases.as_array().unwrap().len() >= 26);
    for c in cases.as_array().unwrap() {
        let challenge = hex::decode(c["challenge"].as_str().unwrap()).unwrap();
        let check = QrCheck {
            purpose: c["purpose"].as_str().map(|p| p.parse().unwrap()),
            now: c["now"].as_u64().unwrap(),
            challenge: &challenge,
            policy: policy_of(c),
        };
        let outcome = store.verify_qr(c["text"].as_str().unwrap(), &check);
        if let Outcome::Valid(v) = &outcome {
            let person = if c["name"].as_str().unwrap().contains("long-name") { long_person() } else { kim() };
            assert_eq!(v.claims, person.restrict_to(v.purpose), "{}", c["name"]);
        }
        let got = summary(&outcome, |v| v.warnings.iter().map(|w| w.code().to_owned()).collect());
        let want: Vec<String> = serde_json::from_value(c["warnings"].clone()).unwrap();
        assert_eq!(
            got,
            (c["outcome"].as_str().unwrap().to_owned(), c["expect"].as_str().unwrap().to_owned(), want),
            "case {}",
            c["name"]
        );
    }
}

#[test]
fn sd_jwt_cases_from_files() {
    let store = store();
    for c in load("sd-jwt-cases.json").as_array().unwrap() {
        let got = store.verify_sd_jwt(c["sd_jwt"].as_str().unwrap(), c["now"].as_u64().unwrap(), &policy_of(c), None);
        if let Outcome::Valid(v) = &got {
            let disclosed = v.claims.len() - 1; // minus assurance_level, always in clear
            assert_eq!(disclosed as u64, c["disclosed"].as_u64().unwrap(), "case {}", c["name"]);
        }
        let (outcome, expect, _) = summary(&got, |_| vec![]);
        assert_eq!(
            (outcome.as_str(), expect.as_str()),
            (c["outcome"].as_str().unwrap(), c["expect"].as_str().unwrap()),
            "case {}",
            c["name"]
        );
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
    let bytes = verifier::testkit::internals::decode_text(&text).unwrap();
    let check = QrCheck { purpose: None, now: NOW, challenge: b"", policy: Policy::default() };
    assert!(store.verify_qr(&text, &check).is_valid());
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let t = format!("{}{}", wire::PREFIX, verifier::testkit::internals::base45_encode(&b));
            assert!(!store.verify_qr(&t, &check).is_valid(), "byte {i} bit {bit:#x} still verifies");
        }
    }
    for len in 0..bytes.len() {
        let t = format!("{}{}", wire::PREFIX, verifier::testkit::internals::base45_encode(&bytes[..len]));
        assert!(!store.verify_qr(&t, &check).is_valid());
    }
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
