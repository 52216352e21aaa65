//! The `keys` binary, run as an admin would: real processes, real files, no terminal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "pkcs11")]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use keys::{Signer as _, SigningHandle};
use verifier::build::trustlist::StatusListRef;
use verifier::{KeyState, PublicKey, TrustList, TrustedKey};

const PASS: &str = "correct horse battery staple";
const DAY: u64 = 86_400;

/// The binary with no passphrase in its environment, no terminal on stdin, and a cheap Argon2id
/// where a keystore is created.
fn keys(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keys"));
    c.args(args).env_remove(keys::PASSPHRASE_ENV).env_remove(keys::PIN_ENV).stdin(Stdio::null());
    c
}

fn run(mut c: impl std::borrow::BorrowMut<Command>) -> Output {
    c.borrow_mut().output().expect("running keys")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[track_caller]
fn exit(out: &Output, code: i32, stderr_has: &str) {
    assert_eq!(out.status.code(), Some(code), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains(stderr_has), "stderr lacks {stderr_has:?}: {}", text(&out.stderr));
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `keys root init` with the passphrase in the environment; returns the printed root key.
fn init(dir: &Path) -> PublicKey {
    let out = run(keys(&["root", "init", "--keystore", s(dir), "--kdf-memory-mib", "1", "--kdf-passes", "1"])
        .env(keys::PASSPHRASE_ENV, PASS));
    ok(&out).trim().parse().expect("root init prints the root public key")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn key(state: KeyState, node: Option<&str>) -> TrustedKey {
    let h = SigningHandle::generate().unwrap();
    let t = now();
    TrustedKey {
        kid: h.kid().clone(),
        x: h.public_key(),
        state,
        sign_from: t - DAY,
        sign_until: t + 365 * DAY,
        valid_until: t + 6 * 365 * DAY,
        node: node.map(str::to_owned),
    }
}

fn list(seq: u64, keys: Vec<TrustedKey>) -> TrustList {
    let t = now();
    TrustList {
        v: 1,
        issuer: "https://issuer.test".into(),
        seq,
        issued_at: t,
        next_update: t + 7 * DAY,
        keys,
        status_lists: vec![StatusListRef { id: 1, uri: "https://issuer.test/status-lists/1".into() }],
    }
}

fn write_list(dir: &Path, name: &str, l: &TrustList) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(l).unwrap()).unwrap();
    p
}

fn sign(ks: &Path, input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["trust-list", "sign", "--keystore", s(ks), "--in", s(input), "--out", s(out)];
    args.extend_from_slice(extra);
    run(keys(&args).env(keys::PASSPHRASE_ENV, PASS))
}

#[test]
fn root_init_then_public_with_every_passphrase_source() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    let pk = init(&ks);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&ks).unwrap().permissions().mode() & 0o777, 0o700);
    }
    let public = || keys(&["root", "public", "--keystore", s(&ks)]);

    // Environment variable, no prompt.
    assert_eq!(ok(&run(public().env(keys::PASSPHRASE_ENV, PASS))).trim(), pk.to_string());
    // A file (with its trailing newline), which wins over the environment.
    let f = dir.path().join("pass");
    std::fs::write(&f, format!("{PASS}\n")).unwrap();
    let out = run(public().args(["--passphrase-file", s(&f)]).env(keys::PASSPHRASE_ENV, "not this one"));
    assert_eq!(ok(&out).trim(), pk.to_string());
    // An inherited descriptor.
    let out = run(Command::new("bash")
        .args(["-c", r#"exec "$0" root public --keystore "$1" --passphrase-fd 3 3<"$2""#])
        .args([env!("CARGO_BIN_EXE_keys"), s(&ks), s(&f)])
        .env_remove(keys::PASSPHRASE_ENV)
        .stdin(Stdio::null()));
    assert_eq!(ok(&out).trim(), pk.to_string());

    // The passphrase is never an argument.
    let out = run(public().args(["--passphrase", PASS]));
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stdout).contains(&pk.to_string()));
}

#[test]
fn the_passphrase_can_be_changed() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    let pk = init(&ks);
    let new = dir.path().join("new");
    std::fs::write(&new, "a brand new long passphrase\n").unwrap();
    let change = |file: &Path| {
        run(keys(&["root", "passphrase", "--keystore", s(&ks), "--kdf-memory-mib", "1", "--kdf-passes", "1"])
            .args(["--new-passphrase-file", s(file)])
            .env(keys::PASSPHRASE_ENV, PASS))
    };
    let short = dir.path().join("short");
    std::fs::write(&short, "too short").unwrap();
    exit(&change(&short), 2, "at least 12 characters");
    ok(&change(&new));
    let public = |pass: &str| run(keys(&["root", "public", "--keystore", s(&ks)]).env(keys::PASSPHRASE_ENV, pass));
    exit(&public(PASS), 2, "wrong passphrase");
    assert_eq!(ok(&public("a brand new long passphrase")).trim(), pk.to_string());
}

#[test]
fn a_wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    init(&ks);
    let out =
        run(keys(&["root", "public", "--keystore", s(&ks)]).env(keys::PASSPHRASE_ENV, "correct horse battery stapl"));
    exit(&out, 2, "wrong passphrase");
    assert!(out.stdout.is_empty());

    // And nothing gets signed with it.
    let input = write_list(dir.path(), "unsigned.json", &list(1, vec![key(KeyState::Active, None)]));
    let signed = dir.path().join("signed.jwt");
    let out = run(keys(&["trust-list", "sign", "--keystore", s(&ks), "--in", s(&input), "--out", s(&signed), "--yes"])
        .env(keys::PASSPHRASE_ENV, "wrong"));
    exit(&out, 2, "wrong passphrase");
    assert!(!signed.exists());
}

#[test]
fn no_passphrase_and_no_terminal_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    // setsid: no controlling terminal, as in CI or under cron.
    let out = run(Command::new("setsid")
        .args(["-w", env!("CARGO_BIN_EXE_keys"), "root", "init", "--keystore", s(&ks)])
        .env_remove(keys::PASSPHRASE_ENV)
        .stdin(Stdio::null()));
    exit(&out, 2, "no terminal");
    assert!(!ks.join("keystore.json").exists());
}

#[test]
fn root_init_refuses_a_short_passphrase_and_a_second_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    let out = run(keys(&["root", "init", "--keystore", s(&ks), "--kdf-memory-mib", "1", "--kdf-passes", "1"])
        .env(keys::PASSPHRASE_ENV, "short"));
    exit(&out, 2, "at least 12 characters");
    init(&ks);
    let out = run(keys(&["root", "init", "--keystore", s(&ks), "--kdf-memory-mib", "1", "--kdf-passes", "1"])
        .env(keys::PASSPHRASE_ENV, PASS));
    exit(&out, 2, "already holds a keystore");
}

#[test]
fn signs_a_prepared_list_that_verifies_under_the_root_only() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    let root = init(&ks);
    let prepared = list(7, vec![key(KeyState::Active, Some("hn")), key(KeyState::Next, Some("hn"))]);
    let input = write_list(dir.path(), "unsigned.json", &prepared);
    let signed = dir.path().join("signed.jwt");

    let out = sign(&ks, &input, &signed, &["--yes"]);
    let summary = ok(&out);
    for k in &prepared.keys {
        assert!(summary.contains(&k.kid.to_string()), "summary lacks {}: {summary}", k.kid);
    }
    for want in ["seq 7", "active", "next", "hn", "https://issuer.test/status-lists/1", "d left"] {
        assert!(summary.contains(want), "summary lacks {want:?}: {summary}");
    }
    let jws = std::fs::read_to_string(&signed).unwrap();

    // What verifiers and the issuer do with it.
    assert_eq!(TrustList::verify(jws.trim(), &root).unwrap(), prepared);
    assert_eq!(keys::accept_signed_trust_list(&jws, &root, &prepared).unwrap(), prepared);
    let out = run(keys(&["trust-list", "verify", "--root-key", &root.to_string(), "--in", s(&signed)]));
    let shown = ok(&out);
    assert!(shown.contains("valid: signed by root key") && shown.contains("seq 7"), "{shown}");
    // The root key from a file.
    let rk = dir.path().join("root.pub");
    std::fs::write(&rk, format!("{root}\n")).unwrap();
    ok(&run(keys(&["trust-list", "verify", "--root-key", &format!("@{}", s(&rk)), "--in", s(&signed)])));

    // Another root: refused by the tool and by the issuer's check.
    let other = init(&dir.path().join("other-root"));
    let out = run(keys(&["trust-list", "verify", "--root-key", &other.to_string(), "--in", s(&signed)]));
    exit(&out, 1, "INVALID");
    assert!(matches!(
        keys::accept_signed_trust_list(&jws, &other, &prepared),
        Err(keys::KeyError::TrustList(verifier::Error::TrustListSignature))
    ));
    // A list signed by another root, checked against ours.
    let by_other = dir.path().join("by-other.jwt");
    ok(&sign(&dir.path().join("other-root"), &input, &by_other, &["--yes"]));
    let out = run(keys(&["trust-list", "verify", "--root-key", &root.to_string(), "--in", s(&by_other)]));
    exit(&out, 1, "does not verify under the root key");
    let jws_other = std::fs::read_to_string(&by_other).unwrap();
    assert!(keys::accept_signed_trust_list(&jws_other, &root, &prepared).is_err());

    // A damaged file.
    let mut bad = jws.clone().into_bytes();
    let i = bad.len() / 2;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let damaged = dir.path().join("damaged.jwt");
    std::fs::write(&damaged, bad).unwrap();
    exit(&run(keys(&["trust-list", "verify", "--root-key", &root.to_string(), "--in", s(&damaged)])), 1, "INVALID");
}

#[test]
fn refuses_lists_that_break_the_rules_and_signs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    let root = init(&ks);
    let signed = dir.path().join("signed.jwt");

    let mut two_active = list(1, vec![key(KeyState::Active, None), key(KeyState::Active, None)]);
    let out = sign(&ks, &write_list(dir.path(), "a.json", &two_active), &signed, &["--yes"]);
    exit(&out, 1, "both active");
    assert!(!signed.exists());

    two_active.keys[1].x = root;
    two_active.keys[1].state = KeyState::Next;
    let out = sign(&ks, &write_list(dir.path(), "b.json", &two_active), &signed, &["--yes"]);
    exit(&out, 1, "is the root key");

    std::fs::write(dir.path().join("c.json"), b"{\"v\":1}").unwrap();
    exit(&sign(&ks, &dir.path().join("c.json"), &signed, &["--yes"]), 1, "not a trust list");
    assert!(!signed.exists());
}

#[test]
fn without_yes_and_without_a_terminal_nothing_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    init(&ks);
    let input = write_list(dir.path(), "unsigned.json", &list(1, vec![key(KeyState::Active, None)]));
    let signed = dir.path().join("signed.jwt");
    let out = sign(&ks, &input, &signed, &[]);
    exit(&out, 2, "--yes");
    assert!(text(&out.stdout).contains("seq 1"), "the summary is shown first");
    assert!(!signed.exists());
}

#[test]
fn a_list_must_follow_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().join("root");
    init(&ks);
    let (a, b) = (key(KeyState::Active, None), key(KeyState::Next, None));
    let first = list(1, vec![a.clone(), b.clone()]);
    let prev = dir.path().join("seq1.jwt");
    ok(&sign(&ks, &write_list(dir.path(), "1.json", &first), &prev, &["--yes"]));

    // Planned rotation: b active, a retired. The summary shows what changed.
    let mut second = list(2, vec![a.clone(), b.clone()]);
    second.keys[0].state = KeyState::Retired;
    second.keys[0].sign_until = now();
    second.keys[1].state = KeyState::Active;
    let out = sign(
        &ks,
        &write_list(dir.path(), "2.json", &second),
        &dir.path().join("seq2.jwt"),
        &["--yes", "--previous", s(&prev)],
    );
    let shown = ok(&out);
    assert!(shown.contains("was active") && shown.contains("was next") && shown.contains("(previous 1)"), "{shown}");

    // Same seq again, or a revoked key brought back: refused.
    let out = sign(
        &ks,
        &write_list(dir.path(), "1b.json", &first),
        &dir.path().join("x.jwt"),
        &["--yes", "--previous", s(&prev)],
    );
    exit(&out, 1, "does not increase");
    let mut revoked = list(3, vec![a.clone(), b.clone()]);
    revoked.keys[0].state = KeyState::Revoked;
    let p3 = dir.path().join("seq3.jwt");
    ok(&sign(&ks, &write_list(dir.path(), "3.json", &revoked), &p3, &["--yes", "--previous", s(&prev)]));
    let mut back = revoked.clone();
    back.seq = 4;
    back.keys[0].state = KeyState::Active;
    back.keys[1].state = KeyState::Next;
    let out = sign(
        &ks,
        &write_list(dir.path(), "4.json", &back),
        &dir.path().join("y.jwt"),
        &["--yes", "--previous", s(&p3)],
    );
    exit(&out, 1, "back to active");
    assert!(!dir.path().join("x.jwt").exists() && !dir.path().join("y.jwt").exists());
}

/// `keys hsm generate` in one process, `keys hsm list` in another, then this process finds the key
/// by label and signs with it: the key outlives every process that used it.
#[cfg(feature = "pkcs11")]
#[test]
fn hsm_key_generated_by_the_tool_is_used_after_a_restart() {
    use ed25519_dalek::{Signature, VerifyingKey};

    let h = common::hsm();
    let args = |cmd: &str| {
        let mut c = keys(&["hsm", cmd, "--module", s(&h.module), "--token", &h.token]);
        c.env(keys::PIN_ENV, &h.pin).env("SOFTHSM2_CONF", &h.conf);
        c
    };
    let out = run(args("generate").args(["--label", "vneid-hn-2026"]));
    let printed = ok(&out);
    let (kid, pk) = printed.trim().split_once(' ').expect("kid and public key");
    assert!(text(&out.stderr).contains("extractable false"), "{}", text(&out.stderr));
    let listed = ok(&run(args("list")));
    assert!(listed.contains(&format!("{kid} {pk} vneid-hn-2026")), "{listed}");
    // The same label twice is refused.
    exit(&run(args("generate").args(["--label", "vneid-hn-2026"])), 2, "already exists");
    // A wrong PIN.
    exit(&run(args("list").env(keys::PIN_ENV, "0000")), 2, "wrong PIN");

    let token = keys::Pkcs11Token::open(&h.module, &h.token, zeroize::Zeroizing::new(h.pin.clone())).unwrap();
    let signer = token.signer("vneid-hn-2026", 1).unwrap();
    assert_eq!(signer.kid().to_string(), kid);
    assert_eq!(signer.public_key().to_string(), pk);
    let sig = signer.sign(b"after restart").unwrap();
    let vk = VerifyingKey::from_bytes(signer.public_key().as_bytes()).unwrap();
    vk.verify_strict(b"after restart", &Signature::from_bytes(&sig)).unwrap();
}
