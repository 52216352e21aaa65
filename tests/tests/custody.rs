//! Key custody with the real binaries (`issuer`, `keys`, `verifier`, `wallet-sim`):
//!
//! - the rotation drill, with the keystore backend and with keys on a SoftHSM2 token (which the
//!   test makes, installing SoftHSM2 when missing; it fails, never skips, without it): a bundle
//!   synced before a planned rotation verifies a credential signed by the new key after the
//!   switch, credentials signed by the retired key still verify, and an emergency revocation
//!   reaches a freshly synced bundle as `key_revoked`;
//! - production mode: the root key made offline by `keys root init`, the trust list prepared by
//!   the issuer, signed by `keys trust-list sign`, uploaded and checked against the pinned root
//!   (one signed by another root is refused), the keystore opened by a passphrase from a
//!   descriptor or the environment, and no private key in clear in the data folder, the keys
//!   folder, the outbox or the log (searched for the key bytes and their hex and base64 forms,
//!   found by decrypting both keystores independently of the `keys` crate);
//! - re-issuance after a revocation, interrupted by `kill -9` half-way and run again: every
//!   affected credential is re-offered exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use e2e::{enroll, kim_tk01, officer_token, run, run_ok, Issuer};
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

/// A wallet that received the offer; returns its folder.
fn wallet(dir: &Path, name: &str, offer: &e2e::Offer) -> Result<PathBuf> {
    let w = dir.join(name);
    let ws = w.to_string_lossy().into_owned();
    run_ok("wallet-sim", &["--home", &ws, "init"])?;
    run_ok("wallet-sim", &["--home", &ws, "receive", &offer.uri, "--tx-code", &offer.tx_code])?;
    Ok(w)
}

/// The wallet's landlord QR, as text in a file.
fn present(wallet: &Path) -> Result<PathBuf> {
    let text = wallet.with_extension("txt");
    run_ok(
        "wallet-sim",
        &["--home", &wallet.to_string_lossy(), "present", "--purpose", "landlord", "--text", &text.to_string_lossy()],
    )?;
    Ok(text)
}

fn wang_tk01() -> Value {
    json!({
        "full_name": "王芳", "full_name_latin": "WANG FANG", "sex": "F", "date_of_birth": "1985-11-03",
        "nationality": "CHN", "passport_number": "EA1234567",
        "residence_card": {"number": "TRC0023456", "kind": "temporary", "issued_on": "2025-04-01", "expires_on": "2027-03-31"},
        "address": "Tòa nhà Keangnam, Phạm Hùng, Nam Từ Liêm, Hà Nội", "phone": "+84 987 654 321",
        "email": "wang.fang@example.cn", "reception_point": "hn-ba-dinh-police"
    })
}

fn key<'a>(report: &'a Value, kid: &str) -> &'a Value {
    report["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap_or_else(|| panic!("{kid}: {report}"))
}

fn active(report: &Value) -> String {
    let a: Vec<&Value> = report["keys"].as_array().unwrap().iter().filter(|k| k["state"] == "active").collect();
    assert_eq!(a.len(), 1, "{report}");
    a[0]["kid"].as_str().unwrap().to_owned()
}

fn audit_actions(http: &e2e::Http, admin: &str) -> Result<Vec<Value>> {
    let (st, audit) = http.get("/v1/admin/audit?limit=1000", Some(admin))?;
    assert_eq!(st, 200);
    Ok(audit["entries"].as_array().unwrap().iter().map(|e| e["entry"].clone()).collect())
}

fn count(entries: &[Value], action: &str) -> usize {
    entries.iter().filter(|e| e["action"] == action).count()
}

/// The rotation drill on one backend.
fn rotation_drill(token: Option<&e2e::hsm::Token>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = if token.is_some() { "hsm" } else { "keystore" };
    let mut extra: Vec<String> = vec!["--verifier-sync-interval-secs".into(), "3".into()];
    let mut env = Vec::new();
    if let Some(t) = token {
        extra.extend(t.issuer_args());
        env.push(("SOFTHSM2_CONF", t.conf.as_str()));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let registry = e2e::workspace().join("enrollment/data/registry-sample.jsonl");
    let issuer = Issuer::start_full(&[], &dir.path().join("data"), &registry, "127.0.0.1:0", &extra, None, &env)?;
    let (http, root) = (issuer.http(), issuer.root_key.clone());
    let admin = issuer.admin_token.clone().unwrap();
    let officer = officer_token(&http, &admin)?;
    let keys = || -> Result<Value> {
        let (st, v) = http.get("/v1/admin/keys", Some(&admin))?;
        assert_eq!(st, 200, "{v}");
        Ok(v)
    };

    // Kim's credential, signed by key a.
    let kim = wallet(dir.path(), "kim", &enroll(&http, &officer, &kim_tk01())?)?;
    let report = keys()?;
    assert_eq!((report["mode"].as_str(), report["backend"].as_str()), (Some("development"), Some(backend)));
    let a = active(&report);
    assert_eq!(key(&report, &a)["custody"], backend);
    if token.is_some() {
        assert_eq!(key(&report, &a)["non_extractable"], true, "{report}");
    }

    // Planned rotation: b is prepared and published; a verifier syncs; b may sign only once it
    // has been published for the sync interval.
    let (st, v) = http.post("/v1/admin/keys", Some(&admin), &json!({}))?;
    assert_eq!(st, 201, "{v}");
    let b = v["next"].as_str().unwrap().to_owned();
    let planned = dir.path().join("planned.bundle");
    sync(&issuer.url, &root, &planned)?;
    let activate = format!("/v1/admin/keys/{b}/activate");
    let (st, v) = http.post(&activate, Some(&admin), &json!({}))?;
    assert_eq!((st, v["error"].as_str()), (409, Some("key_not_synced")), "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (st, v) = http.post(&activate, Some(&admin), &json!({}))?;
        if st == 200 {
            break;
        }
        assert_eq!(v["error"], "key_not_synced", "{v}");
        assert!(Instant::now() < deadline, "activation still refused: {v}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let report = keys()?;
    assert_eq!(active(&report), b);
    assert_eq!(
        (key(&report, &a)["state"].as_str(), key(&report, &b)["custody"].as_str()),
        (Some("retired"), Some(backend))
    );

    // Wang's credential, signed by b after the switch, verifies with the bundle synced before it.
    let wang = wallet(dir.path(), "wang", &enroll(&http, &officer, &wang_tk01())?)?;
    let (code, v) = verify(&planned, &present(&wang)?)?;
    assert_eq!((code, v["kid"].as_str()), (0, Some(b.as_str())), "{v}");
    // Kim's, signed by the retired key a, still verifies with a fresh bundle.
    let fresh = dir.path().join("fresh.bundle");
    sync(&issuer.url, &root, &fresh)?;
    let (code, v) = verify(&fresh, &present(&kim)?)?;
    assert_eq!((code, v["kid"].as_str()), (0, Some(a.as_str())), "{v}");

    // Emergency: b is compromised. A new key signs at once, b is revoked, and a bundle synced
    // afterwards refuses what b signed.
    let (st, v) = http.post("/v1/admin/keys/rotate", Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    let c = v["active"].as_str().unwrap().to_owned();
    let (st, v) = http.post(&format!("/v1/admin/keys/{b}/revoke"), Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["signed_credentials"]["count"], 1, "{v}");
    let after = dir.path().join("after.bundle");
    sync(&issuer.url, &root, &after)?;
    let (code, v) = verify(&after, &present(&wang)?)?;
    assert_eq!((code, v["reason"].as_str()), (1, Some("key_revoked")), "{v}");
    let (code, v) = verify(&after, &present(&kim)?)?;
    assert_eq!(code, 0, "the retired key a was not revoked: {v}");
    let report = keys()?;
    assert_eq!(key(&report, &c)["custody"], backend);
    if token.is_some() {
        for k in [&a, &b, &c] {
            assert_eq!(key(&report, k)["non_extractable"], true, "{report}");
        }
    }
    let audit = audit_actions(&http, &admin)?;
    for action in ["key.prepared", "key.activated", "key.rotated", "key.revoked", "trust_list.published"] {
        assert!(count(&audit, action) >= 1, "{action} missing");
    }
    assert!(audit.iter().any(|e| e["action"] == "key.rotated" && e["detail"].as_str().unwrap().contains("EMERGENCY")));
    Ok(())
}

#[test]
fn rotation_drill_with_the_keystore_backend() -> Result<()> {
    rotation_drill(None)
}

#[test]
fn rotation_drill_with_keys_on_a_softhsm2_token() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let token = e2e::hsm::Token::create(dir.path(), &format!("drill-{}", std::process::id()))?;
    rotation_drill(Some(&token))
}

// ----- production mode -----

fn b64url(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// One key read out of a keystore.
struct Opened {
    kid: String,
    role: String,
    seed: [u8; 32],
}

/// Opens a passphrase keystore the way `keys` documents it (keys/src/lib.rs), without the `keys`
/// crate: Argon2id over the passphrase gives the key-encryption key, which opens the master key
/// (XChaCha20-Poly1305), from which HMAC-SHA-256 derives the key that opens each sealed seed. Each
/// seed is checked against its record's public key. Returns the master key and the keys.
fn open_keystore(dir: &Path, passphrase: &str) -> Result<(Vec<u8>, Vec<Opened>)> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    use hmac::Mac;

    let open = |key: &[u8], aad: &[u8], sealed: &[u8]| -> Result<Vec<u8>> {
        let (nonce, ct) = sealed.split_at(24);
        XChaCha20Poly1305::new(key.into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| anyhow!("does not open"))
    };
    let header: Value = serde_json::from_slice(&std::fs::read(dir.join("keystore.json"))?)?;
    let kek_src = &header["kek"];
    assert_eq!(kek_src["kind"], "argon2id", "{header}");
    let p = &kek_src["params"];
    let params = argon2::Params::new(
        p["m_kib"].as_u64().unwrap() as u32,
        p["t"].as_u64().unwrap() as u32,
        p["p"].as_u64().unwrap() as u32,
        Some(32),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut kek = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &b64url(kek_src["salt"].as_str().unwrap()), &mut kek)
        .map_err(|e| anyhow!("{e}"))?;
    let master = open(&kek, b"vneid-keystore/v1/master", &b64url(header["master"].as_str().unwrap()))?;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&master)?;
    mac.update(b"vneid-keystore/v1/key/seed-seal");
    let seed_key = mac.finalize().into_bytes();
    let records: Value = serde_json::from_slice(&std::fs::read(dir.join("keys.json"))?)?;
    let mut out = Vec::new();
    for r in records["keys"].as_array().unwrap() {
        if r.get("hsm_label").is_some() {
            continue;
        }
        let (kid, role) = (r["kid"].as_str().unwrap(), r["role"].as_str().unwrap());
        let file = std::fs::read(dir.join("keys").join(format!("{kid}.key")))?;
        let body = file.strip_prefix(b"VNK1").ok_or_else(|| anyhow!("not a sealed key"))?;
        let seed = open(&seed_key, format!("vneid-keystore/v1/seed\0{kid}\0{role}").as_bytes(), body)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| anyhow!("seed length"))?;
        let pk = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        assert_eq!(pk.to_vec(), b64url(r["public_key"].as_str().unwrap()), "{kid}: the seed is its record's key");
        out.push(Opened { kid: kid.to_owned(), role: role.to_owned(), seed });
    }
    Ok((master, out))
}

/// Every form a secret could be written in.
fn forms(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    let mut v = vec![secret.to_vec(), hex::encode(secret).into_bytes(), hex::encode_upper(secret).into_bytes()];
    for e in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        v.push(e.encode(secret).into_bytes());
    }
    v
}

fn files_under(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            files_under(&e.unwrap().path(), out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

/// No file under `roots` holds any of `secrets` in any of its forms.
fn assert_nowhere(roots: &[&Path], secrets: &[(&str, Vec<u8>)]) -> usize {
    let mut files = Vec::new();
    for r in roots {
        files_under(r, &mut files);
    }
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for (name, s) in secrets {
            for form in forms(s) {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_slice()),
                    "{} holds {name} (form {})",
                    f.display(),
                    String::from_utf8_lossy(&form[..form.len().min(8)])
                );
            }
        }
    }
    files.len()
}

#[test]
fn production_mode_has_no_root_key_and_no_private_key_in_clear_and_publishes_only_what_the_pinned_root_signed(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let p = |name: &str| dir.path().join(name);
    let s = |path: &Path| path.to_string_lossy().into_owned();

    // The offline machine: a root keystore made by `keys`.
    let root_pass = "correct horse battery staple root";
    std::fs::write(p("root-pass"), root_pass)?;
    let init = |ks: &Path| {
        run_ok(
            "keys",
            &[
                "root",
                "init",
                "--keystore",
                &s(ks),
                "--passphrase-file",
                &s(&p("root-pass")),
                "--kdf-memory-mib",
                "64",
                "--kdf-passes",
                "1",
            ],
        )
    };
    let root = init(&p("root-ks"))?.trim().to_owned();
    std::fs::write(p("root.pub"), &root)?;

    // The issuer: production, the root pinned, the keystore passphrase on descriptor 3.
    let issuer_pass = "issuer keystore passphrase, never in argv";
    std::fs::write(p("issuer-pass"), issuer_pass)?;
    let data = p("issuer-data");
    let log = p("issuer.log");
    let fd3 = format!("exec \"$0\" \"$@\" 3<'{}'", s(&p("issuer-pass")));
    let wrapper = ["bash", "-c", fd3.as_str()];
    let registry = e2e::workspace().join("enrollment/data/registry-sample.jsonl");
    let root_arg = format!("@{}", s(&p("root.pub")));
    let args = ["--production", "--root-key", root_arg.as_str(), "--passphrase-fd", "3"];
    let issuer = Issuer::start_full(&wrapper, &data, &registry, "127.0.0.1:0", &args, Some(&log), &[])?;
    assert_eq!(issuer.root_key, root, "the node pins the offline root");
    let http = issuer.http();
    let admin = issuer.admin_token.clone().unwrap();
    assert!(!std::fs::read_to_string(&log)?.contains("DEVELOPMENT MODE"));
    // Nothing to sync before the first upload.
    let bundle = p("bundle");
    assert!(!run("verifier", &["sync", "--issuer", &issuer.url, "--root-key", &root, "--out", &s(&bundle)])?
        .status
        .success());

    // Prepared here, signed offline, uploaded.
    let (st, unsigned) = http.get("/v1/admin/trust-list/pending", Some(&admin))?;
    assert_eq!(st, 200, "{unsigned}");
    std::fs::write(p("unsigned.json"), serde_json::to_vec_pretty(&unsigned)?)?;
    let sign = |ks: &Path, out: &Path| {
        run_ok(
            "keys",
            &[
                "trust-list",
                "sign",
                "--keystore",
                &s(ks),
                "--passphrase-file",
                &s(&p("root-pass")),
                "--in",
                &s(&p("unsigned.json")),
                "--out",
                &s(out),
                "--yes",
            ],
        )
    };
    // Signed by another root: refused, nothing published.
    let other_root = init(&p("other-ks"))?.trim().to_owned();
    sign(&p("other-ks"), &p("other.jwt"))?;
    let upload = |path: &Path| {
        http.post("/v1/admin/trust-list", Some(&admin), &json!({"trust_list": std::fs::read_to_string(path).unwrap()}))
    };
    let (st, v) = upload(&p("other.jwt"))?;
    assert_eq!((st, v["error"].as_str()), (422, Some("trust_list_signature")), "{v}");
    assert!(!run("verifier", &["sync", "--issuer", &issuer.url, "--root-key", &root, "--out", &s(&bundle)])?
        .status
        .success());
    sign(&p("root-ks"), &p("signed.jwt"))?;
    let (st, v) = upload(&p("signed.jwt"))?;
    assert_eq!(st, 201, "{v}");
    // What the issuer serves is what the root signed, and anyone can check it.
    std::fs::write(p("served.jwt"), http.get_text("/.well-known/vneid-trust-list")?)?;
    assert_eq!(std::fs::read_to_string(p("served.jwt"))?.trim(), std::fs::read_to_string(p("signed.jwt"))?.trim());
    run_ok("keys", &["trust-list", "verify", "--root-key", &root_arg, "--in", &s(&p("served.jwt"))])?;
    let other_check = run("keys", &["trust-list", "verify", "--root-key", &other_root, "--in", &s(&p("served.jwt"))])?;
    assert_eq!(other_check.status.code(), Some(1), "it does not verify under another root");

    // The node issues, and a verifier pinning the root accepts it offline.
    let officer = officer_token(&http, &admin)?;
    let kim = wallet(dir.path(), "kim", &enroll(&http, &officer, &kim_tk01())?)?;
    sync(&issuer.url, &root, &bundle)?;
    let (code, v) = verify(&bundle, &present(&kim)?)?;
    assert_eq!(code, 0, "{v}");
    let audit = audit_actions(&http, &admin)?;
    assert_eq!((count(&audit, "trust_list.refused"), count(&audit, "trust_list.published")), (1, 1));

    // No private key in clear anywhere the issuer writes: the root's (kept offline) and the
    // node's signing keys, and the keystores' master keys, in raw, hex and base64 forms.
    let (root_master, root_keys) = open_keystore(&p("root-ks"), root_pass)?;
    assert!(root_keys.iter().any(|k| k.role == "root"));
    let (node_master, node_keys) = open_keystore(&data.join("keys"), issuer_pass)?;
    assert!(node_keys.iter().all(|k| k.role == "signing"), "no root key in the issuer's keystore");
    assert!(!node_keys.is_empty());
    let mut secrets: Vec<(&str, Vec<u8>)> =
        vec![("the root keystore's master key", root_master), ("the issuer's master key", node_master)];
    for k in &root_keys {
        secrets.push(("the root private key", k.seed.to_vec()));
    }
    for k in &node_keys {
        assert!(!k.kid.is_empty());
        secrets.push(("a signing private key", k.seed.to_vec()));
    }
    secrets.push(("the keystore passphrase", issuer_pass.as_bytes().to_vec()));
    drop(issuer);
    let outbox = issuer::default_outbox(&data);
    let n = assert_nowhere(&[&data, &log, &outbox], &secrets);
    assert!(n >= 5, "searched {n} files");
    assert!(!data.join("keys/kek").exists(), "no key file beside the keystore");

    // Restarts: the passphrase from the environment; a wrong one is refused at start.
    let registry_s = registry.clone();
    let again = |pass: &str| {
        Issuer::start_full(
            &[],
            &data,
            &registry_s,
            "127.0.0.1:0",
            &args[..3],
            Some(&log),
            &[("VNEID_KEYS_PASSPHRASE", pass)],
        )
    };
    let e = again("not the passphrase").unwrap_err();
    assert!(e.to_string().contains("exited"), "{e}");
    assert!(std::fs::read_to_string(&log)?.contains("wrong passphrase"), "the log says why");
    let issuer = again(issuer_pass)?;
    assert_eq!(
        issuer.http().get_text("/.well-known/vneid-trust-list")?.trim(),
        std::fs::read_to_string(p("signed.jwt"))?.trim()
    );
    drop(issuer);

    // Production refuses keys that are not a production keystore: the root's own keystore (a
    // root private key on the node), and a development keystore (its key file beside it).
    let refused = |keys: &Path, pass_file: &Path, log: &Path| -> Result<String> {
        let pass = std::fs::read_to_string(pass_file)?;
        let mut a: Vec<&str> = vec!["--production", "--root-key", root_arg.as_str(), "--keys"];
        let keys = s(keys);
        a.push(&keys);
        let e = Issuer::start_full(
            &[],
            &p("other-data"),
            &registry,
            "127.0.0.1:0",
            &a,
            Some(log),
            &[("VNEID_KEYS_PASSPHRASE", pass.as_str())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("exited"), "{e}");
        Ok(std::fs::read_to_string(log)?)
    };
    let said = refused(&p("root-ks"), &p("root-pass"), &p("refused-root.log"))?;
    assert!(said.contains("holds a root private key"), "{said}");
    let dev = Issuer::start(&p("dev-data"), &[])?;
    drop(dev);
    let said = refused(&p("dev-data").join("keys"), &p("issuer-pass"), &p("refused-dev.log"))?;
    assert!(said.contains("development key file (kek)"), "{said}");
    Ok(())
}

// ----- re-issuance -----

fn outbox_reoffers(outbox: &Path) -> Result<BTreeMap<String, BTreeSet<(String, String)>>> {
    let mut by_app: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for line in std::fs::read_to_string(outbox)?.lines() {
        let l: Value = serde_json::from_str(line)?;
        if l["kind"] == "reoffer" {
            by_app
                .entry(l["application"].as_str().unwrap().to_owned())
                .or_default()
                .insert((l["offer_uri"].as_str().unwrap().to_owned(), l["tx_code"].as_str().unwrap().to_owned()));
        }
    }
    Ok(by_app)
}

fn progress(http: &e2e::Http, admin: &str, kid: &str) -> Result<Value> {
    let (st, v) = http.get(&format!("/v1/admin/keys/{kid}/reissue"), Some(admin))?;
    if st != 200 {
        bail!("progress: {st} {v}");
    }
    Ok(v)
}

#[test]
fn a_reissuance_killed_half_way_and_run_again_reoffers_every_credential_exactly_once() -> Result<()> {
    const N: u64 = 6;
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry.jsonl");
    e2e::load::write_registry(&registry, N)?;
    let data = dir.path().join("data");
    // One re-offer a second (the gateway's pace): slow enough to be killed in the middle.
    let extra = ["--reoffer-rate", "1"];
    // One address across the restart: the offers name it.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string();
    let issuer = Issuer::start_with(&data, &registry, &listen, &extra)?;
    let admin = issuer.admin_token.clone().unwrap();
    let http = issuer.http();
    let officer = officer_token(&http, &admin)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = e2e::load::Client::new(&issuer.url);
    let mut kids = BTreeSet::new();
    for n in 0..N {
        let v = rt.block_on(e2e::load::pipeline(&client, &officer, e2e::load::Person(n)))?;
        let sd = e2e::find_sd_jwt(&v).unwrap();
        kids.insert(header_kid(&sd));
    }
    assert_eq!(kids.len(), 1);
    let bad = kids.into_iter().next().unwrap();
    let (st, v) = http.post("/v1/admin/keys/rotate", Some(&admin), &json!({}))?;
    assert_eq!(st, 200, "{v}");
    let good = v["active"].as_str().unwrap().to_owned();
    let (st, v) = http.post(&format!("/v1/admin/keys/{bad}/revoke"), Some(&admin), &json!({}))?;
    assert_eq!((st, v["signed_credentials"]["count"].as_u64()), (200, Some(N)), "{v}");

    let (st, v) = http.post(&format!("/v1/admin/keys/{bad}/reissue"), Some(&admin), &json!({}))?;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["total"], N);
    // Killed (SIGKILL) once a few are re-offered.
    let deadline = Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let p = progress(&http, &admin, &bad)?;
        if p["offered"].as_u64().unwrap() >= 2 {
            break p;
        }
        assert!(Instant::now() < deadline, "{p}");
        std::thread::sleep(Duration::from_millis(50));
    };
    issuer.kill();
    assert!(at_kill["done"].as_u64().unwrap() < N, "killed half-way: {at_kill}");

    // Started again on the same data: the re-issuance is interrupted, and running it again
    // finishes it.
    let issuer = Issuer::start_with(&data, &registry, &listen, &extra)?;
    let http = issuer.http();
    let p = progress(&http, &admin, &bad)?;
    assert_eq!(p["state"], "interrupted", "{p}");
    assert!(p["done"].as_u64().unwrap() < N, "{p}");
    // The admin's command resumes it and follows it to the end with a progress bar.
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, &admin)?;
    let out = run(
        "issuer",
        &["reissue", "--issuer", &issuer.url, "--kid", &bad, "--token-file", &token_file.to_string_lossy()],
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("[{}] {N}/{N}", "#".repeat(30))) && stderr.contains("finished"), "{stderr}");
    let done = progress(&http, &admin, &bad)?;
    assert_eq!(done["state"], "finished", "{done}");
    assert_eq!(
        (done["offered"].as_u64(), done["skipped"].as_u64(), done["notices_pending"].as_u64()),
        (Some(N), Some(0), Some(0)),
        "{done}"
    );

    // Exactly once: one re-offer per credential in the audit log, and every application's
    // notices (sent at least once) carry one and the same offer.
    let audit = audit_actions(&http, &admin)?;
    let reoffered: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "credential.reoffered")
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(reoffered.len() as u64, N, "{reoffered:?}");
    assert_eq!(reoffered.iter().collect::<BTreeSet<_>>().len() as u64, N);
    assert_eq!(count(&audit, "reissue.started"), 1);
    assert!(count(&audit, "reissue.resumed") >= 1);
    let by_app = outbox_reoffers(&issuer::default_outbox(&data))?;
    assert_eq!(by_app.len() as u64, N, "{by_app:?}");
    for (app, offers) in &by_app {
        assert_eq!(offers.len(), 1, "{app} was offered {} different offers", offers.len());
    }

    // A holder takes the re-offer: a credential signed by the active key, which verifies.
    let (uri, tx) = by_app.values().next().unwrap().iter().next().unwrap().clone();
    let w = wallet(dir.path(), "holder", &e2e::Offer { uri, tx_code: tx })?;
    let bundle = dir.path().join("bundle");
    sync(&issuer.url, &issuer.root_key, &bundle)?;
    let (code, v) = verify(&bundle, &present(&w)?)?;
    assert_eq!((code, v["kid"].as_str()), (0, Some(good.as_str())), "{v}");
    Ok(())
}

fn header_kid(jws: &str) -> String {
    let h: Value = serde_json::from_slice(&b64url(jws.split('.').next().unwrap())).unwrap();
    h["kid"].as_str().unwrap().to_owned()
}
