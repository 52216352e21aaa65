//! End-to-end tests of the `verifier` binary: real files, a real PNG decoded back, a real HTTP
//! exchange with an in-test server. Trust material is made here from fresh Ed25519 keys, so
//! nothing depends on the vectors in `testdata/`.
//!
//! Exit codes under test: 0 valid (warnings included), 1 invalid (malformed included), 3 cannot
//! decide (the bundle is too old for this proof), 2 error; and `--json` always one object.

// Tests may unwrap: a failure is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::{OsRng, RngCore as _};
use serde_json::Value;
use verifier::build::qr::{self, QrCredential};
use verifier::build::statuslist::{self, StatusList};
use verifier::build::{jws, trustlist::TrustList};
use verifier::{
    Bundle, CardKind, KeyId, KeyState, PersonClaims, PublicKey, Purpose, StatusListRef, StatusRef, TrustedKey,
};

const T0: u64 = 1_780_000_000; // 2026-05-28T20:26:40Z
const T0_RFC3339: &str = "2026-05-28T20:26:40Z";
const DAY: u64 = 86_400;
const REVOKED_IDX: u64 = 77;
const GOOD_IDX: u64 = 4242;

// ---------------------------------------------------------------------------------------------
// trust material

fn fresh_key() -> SigningKey {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

fn pk(k: &SigningKey) -> PublicKey {
    PublicKey::from_bytes(k.verifying_key().to_bytes())
}

fn kid(s: &str) -> KeyId {
    KeyId::try_from(s.as_bytes()).unwrap()
}

fn sign(k: &SigningKey, msg: &[u8]) -> [u8; 64] {
    k.sign(msg).to_bytes()
}

/// Keys of one test world: the offline root, the issuer's signing key, a key nobody listed, and
/// the holder's device key. `t0` is the issue time everything is built around.
struct World {
    root: SigningKey,
    issuer: SigningKey,
    stranger: SigningKey,
    holder: SigningKey,
    t0: u64,
}

impl World {
    fn new(t0: u64) -> Self {
        Self { root: fresh_key(), issuer: fresh_key(), stranger: fresh_key(), holder: fresh_key(), t0 }
    }

    fn trust_list(&self, seq: u64, status_uri: &str) -> String {
        let t0 = self.t0;
        let list = TrustList {
            v: 1,
            issuer: "https://issuer.example.vn".into(),
            seq,
            issued_at: t0,
            next_update: t0 + 7 * 86_400,
            keys: vec![TrustedKey {
                kid: kid("iss1"),
                x: pk(&self.issuer),
                state: KeyState::Active,
                sign_from: t0 - 30 * 86_400,
                sign_until: t0 + 365 * 86_400,
                valid_until: t0 + 6 * 365 * 86_400,
                node: None,
            }],
            status_lists: vec![StatusListRef { id: 1, uri: status_uri.into() }],
        };
        let input = list.signing_input(&kid("root"));
        jws::assemble(&input, &sign(&self.root, input.as_bytes()))
    }

    /// A status list token with `REVOKED_IDX` revoked, signed by `signer` as `signer_kid`.
    fn status_token(&self, uri: &str, signer: &SigningKey, signer_kid: &str) -> String {
        let mut sl = StatusList::new(2, 1 << 14).unwrap();
        assert!(sl.set(REVOKED_IDX, statuslist::INVALID));
        let input = sl.token_signing_input(&kid(signer_kid), uri, self.t0, self.t0 + 30 * 86_400, 3600);
        jws::assemble(&input, &sign(signer, input.as_bytes()))
    }

    fn bundle(&self) -> Bundle {
        let uri = "https://issuer.example.vn/status-lists/1";
        let mut b = Bundle::new(pk(&self.root), self.trust_list(7, uri), self.t0);
        b.status_lists.insert(1, self.status_token(uri, &self.issuer, "iss1"));
        b
    }

    /// A signed per-purpose credential (tagged COSE_Sign1 bytes) and its issuer signature.
    fn credential(&self, signer: &SigningKey, signer_kid: &str, purpose: Purpose, idx: u64) -> (Vec<u8>, [u8; 64]) {
        let cred = QrCredential {
            purpose,
            level: 2,
            issued_at: self.t0,
            expires_at: self.t0 + 2 * 365 * 86_400,
            holder: pk(&self.holder),
            status: Some(StatusRef { list: 1, idx }),
            claims: kim().restrict_to(purpose),
        };
        let unsigned = cred.to_sign1(&kid(signer_kid));
        let sig = sign(signer, &unsigned.to_be_signed());
        (unsigned.finish(&sig), sig)
    }

    /// The QR text, presented by the holder's device at `t` with a 60 s window.
    fn present(&self, credential: &[u8], purpose: Purpose, t: u64, challenge: &[u8]) -> String {
        let msg = qr::holder_signing_input(credential, purpose, t, 60, challenge);
        qr::encode_presentation(credential, t, 60, &sign(&self.holder, &msg))
    }

    /// A valid landlord proof presented a minute after issue.
    fn landlord_qr(&self) -> String {
        let (c, _) = self.credential(&self.issuer, "iss1", Purpose::Landlord, GOOD_IDX);
        self.present(&c, Purpose::Landlord, self.t0 + 60, b"")
    }
}

fn kim() -> PersonClaims {
    PersonClaims {
        name: Some("김민준".into()),
        name_latin: Some("KIM MIN JUN".into()),
        birth_date: Some("1990-04-12".parse().unwrap()),
        nationality: Some("KOR".into()),
        passport_number: Some("M12345678".into()),
        residence_card_number: Some("TRC0012345".into()),
        residence_card_kind: Some(CardKind::Temporary),
        residence_card_expiry: Some("2028-06-30".parse().unwrap()),
        eid_number: Some("079190001234".into()),
        age_over_18: Some(true),
        ..PersonClaims::default()
    }
}

/// `T0 + secs` as RFC 3339, for `--at`.
fn at(secs: u64) -> String {
    assert!(secs < 86_400);
    let (h, m, s) = (20 + (26 * 60 + 40 + secs) / 3600, (26 * 60 + 40 + secs) % 3600 / 60, (40 + secs) % 60);
    assert!(h < 24);
    format!("2026-05-28T{h:02}:{m:02}:{s:02}Z")
}

/// Any UNIX time as RFC 3339, for `--at`.
fn rfc(t: u64) -> String {
    let when = time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap()).unwrap();
    when.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// Changes one base45 digit so that one byte pair inside the issuer signature changes and the
/// text still decodes.
fn tamper_issuer_signature(text: &str, issuer_sig: &[u8; 64]) -> String {
    let bytes = verifier::testkit::internals::decode_text(text).unwrap();
    let start = bytes.windows(64).position(|w| w == issuer_sig).expect("issuer signature in the presentation");
    // Base45 turns byte pair k (bytes 2k, 2k+1) into characters 3k..3k+3 after the prefix; take
    // a pair in the middle of the signature and change its low digit (value ±1, never past
    // 65535 when lowered, and 65535 % 45 != 0 when raised from '0').
    let pair = (start + 32) / 2;
    let i = qr::PREFIX.len() + 3 * pair;
    let mut b = text.as_bytes().to_vec();
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(b).unwrap();
    let changed = verifier::testkit::internals::decode_text(&tampered).expect("still base45");
    let diff: Vec<usize> = (0..bytes.len()).filter(|&j| bytes[j] != changed[j]).collect();
    assert!(!diff.is_empty() && diff.iter().all(|&j| (start..start + 64).contains(&j)), "{diff:?}");
    tampered
}

// ---------------------------------------------------------------------------------------------
// running the binary

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one JSON line expected, got {:?}", self.stdout);
        serde_json::from_str(lines[0]).unwrap()
    }
}

fn verifier<I: AsRef<std::ffi::OsStr>>(args: &[I], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verifier"));
    cmd.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A scratch directory with a bundle for `world` in it.
struct Desk {
    dir: tempfile::TempDir,
    bundle: PathBuf,
}

impl Desk {
    fn new(world: &World) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle.json");
        std::fs::write(&bundle, world.bundle().to_json()).unwrap();
        Self { dir, bundle }
    }

    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `verifier verify --bundle … --text FILE --json` plus `extra`.
    fn verify_text(&self, text: &str, extra: &[&str]) -> Run {
        let f = self.file("qr.txt", format!("{text}\n"));
        let mut args = vec!["verify".into(), "--bundle".into(), self.bundle.display().to_string()];
        args.extend(["--text".into(), f.display().to_string(), "--json".into()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        verifier(&args, None)
    }
}

fn assert_invalid(run: &Run, reason: &str) {
    assert_eq!(run.code, 1, "stdout {} stderr {}", run.stdout, run.stderr);
    let j = run.json();
    assert_eq!(j["outcome"], "invalid");
    assert_eq!(j["valid"], false);
    assert_eq!(j["reason"], reason);
    assert!(j["detail"].is_string());
    assert!(j["claims"].is_null());
}

/// Exit 3 and a `cannot_decide` verdict that says what to do.
fn assert_cannot_decide(run: &Run, reason: &str) {
    assert_eq!(run.code, 3, "stdout {} stderr {}", run.stdout, run.stderr);
    let j = run.json();
    assert_eq!(j["outcome"], "cannot_decide");
    assert_eq!(j["valid"], false);
    assert_eq!(j["reason"], reason);
    assert!(j["advice"].as_str().is_some_and(|a| a.contains("verifier sync")), "{j}");
    assert!(j["claims"].is_null());
    assert!(run.stderr.contains("verifier sync"), "{}", run.stderr);
}

/// Exit 2, and with `--json` one object saying what went wrong and what to do.
fn assert_error_json(run: &Run, reason: &str) -> Value {
    assert_eq!(run.code, 2, "stdout {} stderr {}", run.stdout, run.stderr);
    let j = run.json();
    assert_eq!(j["outcome"], "error", "{j}");
    assert_eq!(j["valid"], false);
    assert_eq!(j["reason"], reason, "{j}");
    assert!(j["detail"].is_string() && j["advice"].is_string(), "{j}");
    assert!(j["claims"].is_null());
    assert!(!run.stderr.is_empty());
    j
}

// ---------------------------------------------------------------------------------------------
// verify

#[test]
fn valid_proof_json_and_human() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let text = w.landlord_qr();

    let run = desk.verify_text(&text, &["--purpose", "landlord", "--at", &at(70)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let j = run.json();
    assert_eq!(j["outcome"], "valid");
    assert_eq!(j["valid"], true);
    assert_eq!(j["warnings"], serde_json::json!([]));
    assert_eq!(j["status_list_age"], 70);
    assert_eq!(j["max_status_age"], 7 * DAY);
    assert_eq!(j["bundle_synced_at"], T0);
    assert_eq!(j["reason"], Value::Null);
    assert_eq!(j["detail"], Value::Null);
    assert_eq!(j["purpose"], "landlord");
    assert_eq!(j["kid"], kid("iss1").to_string());
    assert_eq!(j["claims"], serde_json::to_value(kim().restrict_to(Purpose::Landlord)).unwrap());
    assert_eq!(j["claims"]["name_latin"], "KIM MIN JUN");
    assert!(j["claims"].get("passport_number").is_none(), "landlord proofs carry no passport number");
    assert_eq!(j["issued_at"], T0);
    assert_eq!(j["expires_at"], T0 + 2 * 365 * 86_400);
    assert_eq!(j["presented_at"], T0 + 60);

    // Human output, no purpose asked, text on stdin.
    let bundle = desk.bundle.display().to_string();
    let run = verifier(&["verify", "--bundle", &bundle, "--text", "-", "--at", &at(70)], Some(&format!("{text}\r\n")));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("VALID purpose=landlord kid=aXNzMQ issued={T0_RFC3339} expires=2028-05-27T20:26:40Z")
    );
    let rest: Vec<&str> = lines.collect();
    assert!(rest.contains(&"name_latin: KIM MIN JUN"), "{rest:?}");
    assert!(rest.contains(&"age_over_18: true"), "{rest:?}");
    assert!(rest.contains(&"residence_card_expiry: 2028-06-30"), "{rest:?}");
}

#[test]
fn every_purpose_verifies() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    for p in Purpose::ALL {
        let (c, _) = w.credential(&w.issuer, "iss1", p, GOOD_IDX);
        let run = desk.verify_text(&w.present(&c, p, T0 + 60, b""), &["--purpose", p.as_str(), "--at", &at(61)]);
        assert_eq!(run.code, 0, "{p}: {}", run.stdout);
        assert_eq!(run.json()["claims"], serde_json::to_value(kim().restrict_to(p)).unwrap());
    }
}

#[test]
fn system_clock_is_the_default() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let w = World::new(now - 3600);
    let desk = Desk::new(&w);
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Bank, GOOD_IDX);
    let run = desk.verify_text(&w.present(&c, Purpose::Bank, now, b""), &["--purpose", "bank"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // The same proof judged a day later by the clock given on the command line.
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(now + 86_400);
    let later = time::OffsetDateTime::from(later).format(&time::format_description::well_known::Rfc3339).unwrap();
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Bank, GOOD_IDX);
    assert_invalid(
        &desk.verify_text(&w.present(&c, Purpose::Bank, now, b""), &["--at", &later]),
        "presentation_expired",
    );
}

#[test]
fn tampered_issuer_signature_is_bad_signature() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let (c, sig) = w.credential(&w.issuer, "iss1", Purpose::Landlord, GOOD_IDX);
    let text = tamper_issuer_signature(&w.present(&c, Purpose::Landlord, T0 + 60, b""), &sig);
    let run = desk.verify_text(&text, &["--at", &at(70)]);
    assert_invalid(&run, "bad_signature");
    let j = run.json();
    assert_eq!(j["kid"], "aXNzMQ");
    assert_eq!(j["purpose"], "landlord");

    let bundle = desk.bundle.display().to_string();
    let run = verifier(&["verify", "--bundle", &bundle, "--text", "-", "--at", &at(70)], Some(&text));
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("INVALID reason=bad_signature ("), "{}", run.stdout);
    assert!(!run.stdout.contains("KIM"), "no claims from a rejected proof");
}

#[test]
fn old_presentation_is_expired() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let text = w.landlord_qr();
    assert_eq!(desk.verify_text(&text, &["--at", &at(120)]).code, 0);
    assert_invalid(&desk.verify_text(&text, &["--at", &at(121)]), "presentation_expired");
    assert_invalid(&desk.verify_text(&text, &["--at", &at(3600)]), "presentation_expired");
}

#[test]
fn wrong_purpose() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let run = desk.verify_text(&w.landlord_qr(), &["--purpose", "bank", "--at", &at(70)]);
    assert_invalid(&run, "wrong_purpose");
    assert_eq!(run.json()["purpose"], "landlord");
}

#[test]
fn key_not_in_trust_list_is_unknown() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let (c, _) = w.credential(&w.stranger, "str1", Purpose::Landlord, GOOD_IDX);
    let run = desk.verify_text(&w.present(&c, Purpose::Landlord, T0 + 60, b""), &["--at", &at(70)]);
    assert_invalid(&run, "unknown_key");
    assert_eq!(run.json()["kid"], kid("str1").to_string());
}

#[test]
fn stale_trust_list_cannot_decide() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let late = T0 + 38 * DAY; // next_update (7 days) + the default 30 days of grace, passed
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Landlord, GOOD_IDX);
    let run = desk.verify_text(&w.present(&c, Purpose::Landlord, late, b""), &["--at", &rfc(late)]);
    assert_cannot_decide(&run, "trust_list_stale");
}

/// The cases: the status list in the bundle was signed at T0, and the proofs are shown
/// three or eight days later.
#[test]
fn status_list_age_is_judged_by_the_kind_of_verifier() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let shown_at = |days: u64, p: Purpose, idx: u64| {
        let t = T0 + days * DAY;
        let (c, _) = w.credential(&w.issuer, "iss1", p, idx);
        (w.present(&c, p, t, b""), rfc(t + 5))
    };

    // Three days old: a landlord decides, and is told the list is old (exit 0).
    let (text, now) = shown_at(3, Purpose::Landlord, GOOD_IDX);
    let run = desk.verify_text(&text, &["--purpose", "landlord", "--at", &now]);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    let j = run.json();
    assert_eq!((j["outcome"].as_str(), j["valid"].as_bool()), (Some("valid"), Some(true)));
    assert_eq!(j["warnings"], serde_json::json!(["status_stale"]));
    assert_eq!(j["status_list_age"], 3 * DAY + 5);
    assert_eq!(j["claims"]["name_latin"], "KIM MIN JUN");
    let bundle = desk.bundle.display().to_string();
    let human =
        verifier(&["verify", "--bundle", &bundle, "--text", "-", "--purpose", "landlord", "--at", &now], Some(&text));
    assert_eq!(human.code, 0);
    assert!(human.stdout.starts_with("VALID purpose=landlord "), "{}", human.stdout);
    assert!(human.stdout.contains("warning: status_stale: the status list is 3 days old"), "{}", human.stdout);

    // Three days old: a bank cannot decide (exit 3), and nothing is said against the holder.
    let (text, now) = shown_at(3, Purpose::Bank, GOOD_IDX);
    let run = desk.verify_text(&text, &["--purpose", "bank", "--at", &now]);
    assert_cannot_decide(&run, "status_stale");
    let j = run.json();
    assert_eq!(j["status_list_age"], 3 * DAY + 5);
    assert_eq!(j["max_status_age"], DAY);
    let human =
        verifier(&["verify", "--bundle", &bundle, "--text", "-", "--purpose", "bank", "--at", &now], Some(&text));
    assert_eq!(human.code, 3);
    assert!(human.stdout.starts_with("CANNOT DECIDE reason=status_stale ("), "{}", human.stdout);
    assert!(human.stdout.contains("status list 3 days old, this verifier accepts 24 hours"), "{}", human.stdout);
    assert!(human.stdout.contains("what to do: ") && !human.stdout.contains("INVALID"), "{}", human.stdout);
    // The bank may configure a longer age, and is then told the list is old.
    let run = desk.verify_text(&text, &["--purpose", "bank", "--at", &now, "--max-status-age", "4d"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["warnings"], serde_json::json!(["status_stale"]));
    // A residence office is as strict as a bank; with no purpose, the strictest rule applies.
    let (text, now) = shown_at(3, Purpose::ResidenceOffice, GOOD_IDX);
    assert_cannot_decide(&desk.verify_text(&text, &["--purpose", "residence-office", "--at", &now]), "status_stale");
    assert_cannot_decide(&desk.verify_text(&text, &["--at", &now]), "status_stale");

    // Eight days old: even a landlord cannot decide, unless configured to.
    let (text, now) = shown_at(8, Purpose::Landlord, GOOD_IDX);
    assert_cannot_decide(&desk.verify_text(&text, &["--purpose", "landlord", "--at", &now]), "status_stale");
    let run = desk.verify_text(&text, &["--purpose", "landlord", "--at", &now, "--max-status-age", "10d"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // And a landlord who accepts only a day cannot decide at three.
    let (text, now) = shown_at(3, Purpose::Landlord, GOOD_IDX);
    assert_cannot_decide(
        &desk.verify_text(&text, &["--purpose", "landlord", "--at", &now, "--max-status-age", "24h"]),
        "status_stale",
    );
}

#[test]
fn revoked_with_an_old_status_list_is_still_revoked() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let t = T0 + 3 * DAY;
    for p in [Purpose::Landlord, Purpose::Bank] {
        let (c, _) = w.credential(&w.issuer, "iss1", p, REVOKED_IDX);
        let run = desk.verify_text(&w.present(&c, p, t, b""), &["--purpose", p.as_str(), "--at", &rfc(t + 5)]);
        assert_invalid(&run, "revoked");
        assert_eq!(run.json()["status_list_age"], 3 * DAY + 5, "{p}");
    }
    // Eight days old and revoked: revoked, for the strictest verifier too.
    let t = T0 + 8 * DAY;
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Bank, REVOKED_IDX);
    assert_invalid(&desk.verify_text(&w.present(&c, Purpose::Bank, t, b""), &["--at", &rfc(t + 5)]), "revoked");
}

#[test]
fn revoked_status() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::ResidenceOffice, REVOKED_IDX);
    let run = desk.verify_text(&w.present(&c, Purpose::ResidenceOffice, T0 + 60, b""), &["--at", &at(70)]);
    assert_invalid(&run, "revoked");
    assert_eq!(run.json()["purpose"], "residence-office");
}

#[test]
fn challenge_binds_the_presentation() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Landlord, GOOD_IDX);
    let text = w.present(&c, Purpose::Landlord, T0 + 60, &[0xca, 0xfe, 0x01]);
    assert_eq!(desk.verify_text(&text, &["--challenge", "cafe01", "--at", &at(70)]).code, 0);
    assert_eq!(desk.verify_text(&text, &["--challenge", "CAFE01", "--at", &at(70)]).code, 0);
    assert_invalid(&desk.verify_text(&text, &["--challenge", "cafe02", "--at", &at(70)]), "bad_holder_signature");
    assert_invalid(&desk.verify_text(&text, &["--at", &at(70)]), "bad_holder_signature");
}

#[test]
fn garbage_is_malformed() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    for text in ["VN1:HELLO WORLD", "hello", "", "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC"] {
        assert_invalid(&desk.verify_text(text, &["--at", &at(70)]), "malformed");
    }
    let truncated = w.landlord_qr();
    assert_invalid(&desk.verify_text(&truncated[..truncated.len() - 3], &["--at", &at(70)]), "malformed");
    // Not UTF-8, and far too long: malformed content as well, not a file error.
    let f = desk.file("binary.txt", [0xffu8, 0xfe, 0x00, 0x41]);
    let bundle = desk.bundle.display().to_string();
    let run = verifier(&["verify", "--bundle", &bundle, "--json", "--text", &f.display().to_string()], None);
    assert_invalid(&run, "malformed");
    assert_invalid(&desk.verify_text(&format!("VN1:{}", "0".repeat(100_000)), &[]), "malformed");
    // Human form.
    let run = verifier(&["verify", "--bundle", &bundle, "--text", "-"], Some("VN1:HELLO WORLD\n"));
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "INVALID reason=malformed (not base45)\n");
}

#[test]
fn unreadable_files_exit_2() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let missing = desk.dir.path().join("missing.txt").display().to_string();
    let bundle = desk.bundle.display().to_string();
    let qr = desk.file("qr.txt", w.landlord_qr()).display().to_string();
    let dir = desk.dir.path().to_str().unwrap();
    for (args, reason) in [
        (vec!["verify", "--bundle", &bundle, "--text", &missing, "--json"], "input_unreadable"),
        (vec!["verify", "--bundle", &bundle, "--png", &missing, "--json"], "image_unreadable"),
        (vec!["verify", "--bundle", &missing, "--text", &qr, "--json"], "bundle_unreadable"),
        (vec!["verify", "--bundle", &bundle, "--text", dir, "--json"], "input_unreadable"),
    ] {
        // `--json` promises one object on stdout whatever happens; the message is on stderr too.
        let run = verifier(&args, None);
        let j = assert_error_json(&run, reason);
        assert!(j["detail"].as_str().unwrap().contains("cannot read"), "{args:?}: {j}");
        assert!(run.stderr.contains("cannot read"), "{args:?}: {}", run.stderr);
    }
    for args in [vec!["verify", "--bundle", &missing, "--text", &qr], vec!["inspect", "--text", &missing]] {
        let run = verifier(&args, None);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert_eq!(run.stdout, "", "{args:?}: without --json, errors go to stderr only");
        assert!(run.stderr.contains("cannot read"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn usage_errors_with_json_are_one_json_object() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let bundle = desk.bundle.display().to_string();
    let qr = desk.file("qr.txt", w.landlord_qr()).display().to_string();
    for args in [
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--json", "--at", "yesterday"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--json", "--purpose", "tenant"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--json", "--max-status-age", "a week"],
        vec!["verify", "--bundle", &bundle, "--json"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--json", "--root-key", "short"],
    ] {
        let run = verifier(&args, None);
        assert_error_json(&run, "usage");
    }
}

#[test]
fn bundle_pinned_to_another_root_is_reported_as_such() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let bundle = desk.bundle.display().to_string();
    let qr = desk.file("qr.txt", w.landlord_qr()).display().to_string();
    let other = pk(&fresh_key()).to_string();
    let ours = pk(&w.root).to_string();
    let args = ["verify", "--bundle", &bundle, "--text", &qr, "--at", &at(70), "--root-key", &other];
    let run = verifier(&[&args[..], &["--json"]].concat(), None);
    let j = assert_error_json(&run, "root_key_mismatch");
    let detail = j["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("pinned to root key {ours}")) && detail.contains(&other), "{detail}");
    assert!(!detail.contains("malformed"), "{detail}");
    assert!(j["advice"].as_str().unwrap().contains("--root-key"), "{j}");
    let run = verifier(&args, None);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("pinned to root key") && !run.stderr.contains("malformed"), "{}", run.stderr);
    // The right pin verifies.
    let run = verifier(&["verify", "--bundle", &bundle, "--text", &qr, "--at", &at(70), "--root-key", &ours], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn corrupted_bundle_exits_2() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let qr = desk.file("qr.txt", w.landlord_qr()).display().to_string();
    let good = w.bundle();

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"{ this is not a bundle".to_vec()),
        ("empty", Vec::new()),
        ("wrong format", String::from_utf8(good.to_json()).unwrap().replace("bundle/1", "bundle/9").into_bytes()),
    ];
    // Trust list signed by another root than the pinned one.
    let mut other_root = good.clone();
    other_root.root_key = pk(&fresh_key());
    cases.push(("other root", other_root.to_json()));
    // One character of the trust list's payload changed: the signature no longer verifies.
    let mut tampered = good.clone();
    let mut tl = tampered.trust_list.into_bytes();
    let dot = tl.iter().position(|&b| b == b'.').unwrap();
    tl[dot + 10] = if tl[dot + 10] == b'A' { b'B' } else { b'A' };
    tampered.trust_list = String::from_utf8(tl).unwrap();
    cases.push(("tampered trust list", tampered.to_json()));
    // A status list token signed by a key the trust list does not hold.
    let mut bad_status = good.clone();
    bad_status.status_lists.insert(1, w.status_token("https://issuer.example.vn/status-lists/1", &w.stranger, "str1"));
    cases.push(("foreign status list", bad_status.to_json()));

    for (name, content) in cases {
        let path = desk.file("corrupt.json", &content).display().to_string();
        let run = verifier(&["verify", "--bundle", &path, "--text", &qr, "--json", "--at", &at(70)], None);
        let j = assert_error_json(&run, "bundle_unusable");
        assert!(j["detail"].as_str().unwrap().contains("unusable bundle"), "{name}: {j}");
        assert!(run.stderr.contains("unusable bundle"), "{name}: {}", run.stderr);
        let run = verifier(&["verify", "--bundle", &path, "--text", &qr, "--at", &at(70)], None);
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{name}");
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let bundle = desk.bundle.display().to_string();
    let qr = desk.file("qr.txt", w.landlord_qr()).display().to_string();
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["verify", "--bundle", &bundle],
        vec!["verify", "--text", &qr],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--png", &qr],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--purpose", "tenant"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--at", "yesterday"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--at", "1969-12-31T23:59:59Z"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--challenge", "xyz"],
        vec!["verify", "--bundle", &bundle, "--text", &qr, "--challenge", &"00".repeat(65)],
        vec!["sync", "--issuer", "http://127.0.0.1:9"],
        vec!["sync", "--issuer", "ftp://example.vn", "--root-key", &pk(&w.root).to_string(), "--out", &bundle],
        vec!["sync", "--issuer", "http://127.0.0.1:9", "--root-key", "short", "--out", &bundle],
        vec!["inspect"],
    ] {
        let run = verifier(&args, None);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    for args in
        [vec!["--help"], vec!["verify", "--help"], vec!["sync", "--help"], vec!["inspect", "--help"], vec!["--version"]]
    {
        let run = verifier(&args, None);
        assert_eq!(run.code, 0, "{args:?}");
        assert!(!run.stdout.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// PNG

#[test]
fn png_roundtrip() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let text = w.landlord_qr();
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).unwrap();
    let png = desk.dir.path().join("qr.png");
    let mut picture = code.render::<image::Luma<u8>>().min_dimensions(400, 400).build();
    picture.save(&png).unwrap();
    // The same code as a dark-mode screenshot shows it.
    let dark = desk.dir.path().join("dark.png");
    image::imageops::invert(&mut picture);
    picture.save(&dark).unwrap();
    let bundle = desk.bundle.display().to_string();
    let png = png.display().to_string();

    let run = verifier(
        &["verify", "--bundle", &bundle, "--png", &png, "--purpose", "landlord", "--at", &at(70), "--json"],
        None,
    );
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    assert_eq!(run.json()["claims"]["name_latin"], "KIM MIN JUN");

    let dark = dark.display().to_string();
    let run = verifier(&["verify", "--bundle", &bundle, "--png", &dark, "--at", &at(70)], None);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("VALID purpose=landlord "), "{}", run.stdout);

    let run = verifier(&["inspect", "--png", &png], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("UNVERIFIED"));

    // An image without a QR code is malformed content (1); a file that is no PNG is an error (2).
    let blank = desk.dir.path().join("blank.png");
    image::GrayImage::from_pixel(200, 200, image::Luma([255u8])).save(&blank).unwrap();
    let blank = blank.display().to_string();
    let run = verifier(&["verify", "--bundle", &bundle, "--png", &blank, "--at", &at(70), "--json"], None);
    assert_invalid(&run, "malformed");
    let not_png = desk.file("not.png", "VN1:NOT AN IMAGE").display().to_string();
    let run = verifier(&["verify", "--bundle", &bundle, "--png", &not_png, "--json"], None);
    assert_error_json(&run, "image_unreadable");
}

/// Draws a QR finder pattern (7x7 modules) with its top-left corner at (x, y).
fn finder(img: &mut image::GrayImage, x: u32, y: u32, module: u32) {
    for my in 0..7 {
        for mx in 0..7 {
            let ring = mx.min(my).min(6 - mx).min(6 - my);
            let dark = ring != 1; // outer ring, white ring, 3x3 centre
            for py in 0..module {
                for px in 0..module {
                    let v = if dark { 0 } else { 255 };
                    img.put_pixel(x + mx * module + px, y + my * module + py, image::Luma([v]));
                }
            }
        }
    }
}

/// Runs `verify --png … --json` and returns the run and its wall time.
fn verify_png(desk: &Desk, png: &Path) -> (Run, Duration) {
    let bundle = desk.bundle.display().to_string();
    let png = png.display().to_string();
    let start = std::time::Instant::now();
    let run = verifier(&["verify", "--bundle", &bundle, "--png", &png, "--at", &at(70), "--json"], None);
    (run, start.elapsed())
}

/// The bound of issue 11: `verify --png` answers within one second, whatever the picture.
const IMAGE_BOUND: Duration = Duration::from_secs(1);

#[test]
fn hostile_pictures_are_answered_within_a_second() {
    let w = World::new(T0);
    let desk = Desk::new(&w);

    // 4096x4096 tiled with 16 384 finder patterns (4 px modules): rqrr alone would take minutes.
    let mut tiles = image::GrayImage::from_pixel(4096, 4096, image::Luma([255u8]));
    for ty in 0..128 {
        for tx in 0..128 {
            finder(&mut tiles, tx * 32 + 2, ty * 32 + 2, 4);
        }
    }
    let tiled = desk.dir.path().join("finders.png");
    tiles.save(&tiled).unwrap();
    let (run, took) = verify_png(&desk, &tiled);
    eprintln!(
        "finder tiling 4096x4096 ({} KB): exit {} in {took:?}",
        std::fs::metadata(&tiled).unwrap().len() >> 10,
        run.code
    );
    assert!(took < IMAGE_BOUND, "{took:?}");
    assert!(run.code == 1 || run.code == 2, "{}", run.stdout);
    if run.code == 2 {
        assert_error_json(&run, "image_too_complex");
    }

    // The largest picture read (16 megapixels), noise: the most work a PNG decoder can be given.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let noise = image::GrayImage::from_fn(4096, 4096, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        image::Luma([(seed & 0xff) as u8])
    });
    let noisy = desk.dir.path().join("noise.png");
    noise.save(&noisy).unwrap();
    let (run, took) = verify_png(&desk, &noisy);
    eprintln!("noise 4096x4096 ({} KB): exit {} in {took:?}", std::fs::metadata(&noisy).unwrap().len() >> 10, run.code);
    assert!(took < IMAGE_BOUND, "{took:?}");
    assert!(run.code == 1 || run.code == 2, "{}", run.stdout);

    // Decompression bombs: a few KB that claim 64 megapixels, or a whole 16 of flat black.
    let bomb = desk.dir.path().join("bomb.png");
    image::GrayImage::new(8192, 8192).save(&bomb).unwrap();
    let (run, took) = verify_png(&desk, &bomb);
    eprintln!("bomb 8192x8192 ({} KB): exit {} in {took:?}", std::fs::metadata(&bomb).unwrap().len() >> 10, run.code);
    assert!(took < IMAGE_BOUND, "{took:?}");
    let j = assert_error_json(&run, "image_too_large");
    assert!(j["detail"].as_str().unwrap().contains("8192x8192"), "{j}");
    let black = desk.dir.path().join("black.png");
    image::GrayImage::new(4096, 4096).save(&black).unwrap();
    let (run, took) = verify_png(&desk, &black);
    eprintln!("black 4096x4096 ({} KB): exit {} in {took:?}", std::fs::metadata(&black).unwrap().len() >> 10, run.code);
    assert!(took < IMAGE_BOUND, "{took:?}");
    assert!(run.code == 1 || run.code == 2, "{}", run.stdout);
    // A header that claims more than a PNG may hold: refused before any pixel is decoded.
    let mut huge = std::fs::read(&bomb).unwrap();
    huge[16..24].copy_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff]); // IHDR width, height
    let huge_path = desk.file("huge.png", &huge);
    let (run, took) = verify_png(&desk, &huge_path);
    assert!(took < IMAGE_BOUND, "{took:?}");
    assert_eq!(run.code, 2, "{}", run.stdout);
}

#[test]
fn a_small_code_in_a_large_photo_is_still_found() {
    let w = World::new(T0);
    let desk = Desk::new(&w);
    let text = w.landlord_qr();
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).unwrap();
    let qr = code.render::<image::Luma<u8>>().module_dimensions(8, 8).build();
    // A 2400x1800 photo, the code in a corner, a quarter of its width: found in the copy
    // downscaled to 1280 pixels, at 4 pixels per module.
    let mut photo = image::GrayImage::from_pixel(2400, 1800, image::Luma([235u8]));
    image::imageops::overlay(&mut photo, &qr, 300, 200);
    let path = desk.dir.path().join("photo.png");
    photo.save(&path).unwrap();
    let (run, took) = verify_png(&desk, &path);
    eprintln!("photo 2400x1800 with a {}px code: exit {} in {took:?}", qr.width(), run.code);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    assert!(took < IMAGE_BOUND, "{took:?}");
}

// ---------------------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_shows_structure_not_values() {
    let w = World::new(T0);
    let (c, sig) = w.credential(&w.issuer, "iss1", Purpose::Bank, GOOD_IDX);
    let text = w.present(&c, Purpose::Bank, T0 + 60, b"");
    for t in [text.clone(), tamper_issuer_signature(&text, &sig)] {
        let run = verifier(&["inspect", "--text", "-"], Some(&t));
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out = &run.stdout;
        assert!(out.starts_with("UNVERIFIED"), "{out}");
        for want in [
            "kid: aXNzMQ",
            "purpose: bank",
            "level: 2",
            &format!("issued: {T0_RFC3339}"),
            "d=60s",
            "status: list=1 idx=4242",
        ] {
            assert!(out.contains(want), "{want} missing from {out}");
        }
        assert!(out.contains(&format!("holder_key: {}", pk(&w.holder))));
        assert!(out.contains("claims (7): name_latin, birth_date, nationality, passport_number"), "{out}");
        for value in ["KIM MIN JUN", "M12345678", "079190001234", "1990-04-12"] {
            assert!(!out.contains(value), "inspect must not show claim values: {value}");
        }
    }
    let run = verifier(&["inspect", "--text", "-"], Some("VN1:HELLO WORLD"));
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("UNVERIFIED MALFORMED reason=malformed"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// sync

/// A tiny HTTP/1.1 server on 127.0.0.1: one request per connection, at most `budget`
/// connections, then the thread ends. Routes can be changed while it runs.
struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(budget: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = Arc::new(Mutex::new(HashMap::new()));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for s in listener.incoming().take(budget).flatten() {
                serve_one(s, &r, &h);
            }
        });
        Self { base, routes, hits }
    }

    fn route(&self, path: &str, body: &str) {
        self.routes.lock().unwrap().insert(path.into(), body.into());
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

fn serve_one(mut s: TcpStream, routes: &Mutex<HashMap<String, String>>, hits: &Mutex<Vec<String>>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    hits.lock().unwrap().push(path.clone());
    let body = routes.lock().unwrap().get(&path).cloned();
    let response = match body {
        Some(b) => {
            let ct = if path.contains("status") { "application/statuslist+jwt" } else { "application/jwt" };
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                b.len()
            )
        }
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    };
    let _ = s.write_all(response.as_bytes());
}

const TL_PATH: &str = "/.well-known/vneid-trust-list";

fn sync(server: &Server, root: &str, out: &Path) -> Run {
    verifier(
        &["sync", "--issuer", &format!("{}/", server.base), "--root-key", root, "--out", out.to_str().unwrap()],
        None,
    )
}

fn synced_seq(path: &Path, w: &World) -> u64 {
    let b = Bundle::from_json(&std::fs::read(path).unwrap()).unwrap();
    TrustList::verify(&b.trust_list, &pk(&w.root)).unwrap().seq
}

#[test]
fn sync_writes_a_bundle_that_verifies_and_refuses_rollback() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let w = World::new(now - 3600);
    let server = Server::start(40);
    let status_uri = format!("{}/status-lists/1", server.base);
    server.route(TL_PATH, &w.trust_list(8, &status_uri));
    server.route("/status-lists/1", &w.status_token(&status_uri, &w.issuer, "iss1"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.json");
    let root = pk(&w.root).to_string();

    // First sync, root key from a file.
    let key_file = dir.path().join("root.key");
    std::fs::write(&key_file, format!("{root}\n")).unwrap();
    let run = sync(&server, &format!("@{}", key_file.display()), &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run.stdout.trim_end();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(line.starts_with("synced issuer=https://issuer.example.vn seq=8 "), "{line}");
    assert!(line.contains("keys=active:1,next:0,retired:0,revoked:0 status_lists=1 next_update="), "{line}");
    let next_update = time::OffsetDateTime::from_unix_timestamp((w.t0 + 7 * 86_400) as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(line.contains(&format!("next_update={next_update}")), "{line}");
    assert_eq!(server.hits(), vec![TL_PATH.to_owned(), "/status-lists/1".to_owned()]);
    let bundle = Bundle::from_json(&std::fs::read(&out).unwrap()).unwrap();
    assert!(bundle.synced_at >= now && bundle.synced_at <= now + 600);
    assert_eq!(bundle.status_lists.len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temp file left behind: {leftovers:?}");

    // The synced bundle verifies offline, with the system clock.
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Landlord, GOOD_IDX);
    let qr = dir.path().join("qr.txt");
    std::fs::write(&qr, w.present(&c, Purpose::Landlord, now, b"")).unwrap();
    let run = verifier(&["verify", "--bundle", out.to_str().unwrap(), "--text", qr.to_str().unwrap(), "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let (c, _) = w.credential(&w.issuer, "iss1", Purpose::Landlord, REVOKED_IDX);
    std::fs::write(&qr, w.present(&c, Purpose::Landlord, now, b"")).unwrap();
    let run = verifier(&["verify", "--bundle", out.to_str().unwrap(), "--text", qr.to_str().unwrap(), "--json"], None);
    assert_invalid(&run, "revoked");

    // An older trust list is refused and the bundle is left as it was.
    let before = std::fs::read(&out).unwrap();
    server.route(TL_PATH, &w.trust_list(7, &status_uri));
    let run = sync(&server, &root, &out);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("rollback"), "{}", run.stderr);
    assert!(run.stderr.contains("seq 8") && run.stderr.contains("seq 7"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), before);

    // The same seq again is a refresh; a newer one moves forward.
    server.route(TL_PATH, &w.trust_list(8, &status_uri));
    assert_eq!(sync(&server, &root, &out).code, 0);
    server.route(TL_PATH, &w.trust_list(9, &status_uri));
    let run = sync(&server, &root, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(" seq=9 "));
    assert_eq!(synced_seq(&out, &w), 9);
}

#[test]
fn sync_refuses_bad_trust_material() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let w = World::new(now - 3600);
    let server = Server::start(40);
    let status_uri = format!("{}/status-lists/1", server.base);
    server.route(TL_PATH, &w.trust_list(3, &status_uri));
    server.route("/status-lists/1", &w.status_token(&status_uri, &w.issuer, "iss1"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.json");

    // A root key that did not sign the list.
    let run = sync(&server, &pk(&w.stranger).to_string(), &out);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("trust list"), "{}", run.stderr);
    assert!(!out.exists());

    // A status list signed by a key the trust list does not hold: nothing written.
    server.route("/status-lists/1", &w.status_token(&status_uri, &w.stranger, "str1"));
    let root = pk(&w.root).to_string();
    let run = sync(&server, &root, &out);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("status list"), "{}", run.stderr);
    assert!(!out.exists());

    // A status list that is not there.
    server.routes.lock().unwrap().remove("/status-lists/1");
    let run = sync(&server, &root, &out);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("404"), "{}", run.stderr);
    assert!(!out.exists());

    // An existing file that is not a bundle, or a bundle pinned to another root, is not replaced.
    server.route("/status-lists/1", &w.status_token(&status_uri, &w.issuer, "iss1"));
    std::fs::write(&out, "precious notes").unwrap();
    let run = sync(&server, &root, &out);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a verifier bundle"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious notes");
    let other = World::new(now);
    std::fs::write(&out, other.bundle().to_json()).unwrap();
    let run = sync(&server, &root, &out);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("another root key"), "{}", run.stderr);

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = verifier(&["sync", "--issuer", &dead, "--root-key", &root, "--out", out.to_str().unwrap()], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(TL_PATH), "{}", run.stderr);
}

/// A bundle without the status list a credential points to cannot say whether it was revoked:
/// cannot decide (`status_unknown`, exit 3), for every kind of verifier, never valid or invalid.
#[test]
fn a_credential_whose_status_list_is_missing_cannot_be_decided() {
    let w = World::new(T0);
    let mut b = w.bundle();
    b.status_lists.clear();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.json");
    std::fs::write(&bundle, b.to_json()).unwrap();
    let desk = Desk { dir, bundle };
    for p in [Purpose::Landlord, Purpose::Bank, Purpose::ResidenceOffice] {
        let (c, _) = w.credential(&w.issuer, "iss1", p, GOOD_IDX);
        let text = w.present(&c, p, T0 + 60, b"");
        let run = desk.verify_text(&text, &["--purpose", p.as_str(), "--at", &rfc(T0 + 65)]);
        assert_cannot_decide(&run, "status_unknown");
    }
}
