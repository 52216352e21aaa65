//! Key custody, in process with a clock the tests move: planned rotation waits for the verifier
//! sync interval and the admin is warned ahead; signing, issuance and rotation with the keystore
//! backend and with an HSM (a throwaway SoftHSM2 token; these tests fail, never skip, without
//! SoftHSM2), whose key cannot be read; production mode publishes only the prepared trust list
//! signed by the pinned root; re-issuance after a revocation re-offers each credential once,
//! and resumes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use axum::http::{Method, StatusCode};
use common::{kim, Api};
use serde_json::{json, Value};

const DAY: u64 = 86_400;

fn now(api: &Api) -> u64 {
    issuer::clock::Clock::now(api.clock.as_ref())
}

async fn get(api: &Api, path: &str) -> (StatusCode, Value) {
    api.call(Method::GET, path, Some(&api.admin), None, Value::Null).await
}

async fn post(api: &Api, path: &str) -> (StatusCode, Value) {
    api.call(Method::POST, path, Some(&api.admin), None, json!({})).await
}

async fn keys(api: &Api) -> Value {
    let (st, v) = get(api, "/v1/admin/keys").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

fn key<'a>(report: &'a Value, kid: &str) -> &'a Value {
    report["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap_or_else(|| panic!("{kid} in {report}"))
}

fn active(report: &Value) -> String {
    let a: Vec<&Value> = report["keys"].as_array().unwrap().iter().filter(|k| k["state"] == "active").collect();
    assert_eq!(a.len(), 1, "{report}");
    a[0]["kid"].as_str().unwrap().to_owned()
}

async fn audit_actions(api: &Api, action: &str) -> Vec<Value> {
    let (_, v) = get(api, "/v1/admin/audit?limit=1000").await;
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entry"]["action"] == action)
        .map(|e| e["entry"].clone())
        .collect()
}

/// The second applicant of the sample registry.
fn wang() -> Value {
    json!({
        "full_name": "王芳", "full_name_latin": "WANG FANG", "sex": "F", "date_of_birth": "1985-11-03",
        "nationality": "CHN", "passport_number": "EA1234567",
        "residence_card": {"number": "TRC0023456", "kind": "temporary", "issued_on": "2025-04-01", "expires_on": "2027-03-31"},
        "address": "Số 5 Phố Huế, Hai Bà Trưng, Hà Nội", "phone": "0987654321", "email": "wang.fang@example.com",
        "reception_point": "hn-ba-dinh-police"
    })
}

fn name(n: u64) -> String {
    format!("CUSTODY TESTER {}", char::from(b'A' + n as u8))
}

/// Synthetic applicant `n` (0 to 25), known to the registry [`registry`] writes.
fn person(n: u64) -> Value {
    json!({
        "full_name": name(n), "full_name_latin": name(n), "sex": "M",
        "date_of_birth": "1990-01-01", "nationality": "KOR", "passport_number": format!("CT{n:07}"),
        "residence_card": {"number": format!("TRC{n:09}"), "kind": "temporary", "issued_on": "2025-01-01",
                           "expires_on": "2028-12-31"},
        "address": format!("Số {n} Phố Huế, Hà Nội"), "phone": format!("09{n:08}"), "email": format!("ct{n}@example.com"),
        "reception_point": "hn-ba-dinh-police"
    })
}

fn registry(dir: &std::path::Path, count: u64) -> PathBuf {
    let mut lines = std::fs::read_to_string(common::registry()).unwrap();
    for n in 0..count {
        let line = json!({
            "full_name": name(n), "full_name_latin": name(n),
            "date_of_birth": "1990-01-01", "sex": "M", "nationality": "KOR", "passport_number": format!("CT{n:07}"),
            "residence_card": {"number": format!("TRC{n:09}"), "kind": "temporary", "issued_on": "2025-01-01",
                               "expires_on": "2028-12-31", "status": "valid"},
            "biometrics_on_file": true
        });
        lines.push_str(&format!("{line}\n"));
    }
    let p = dir.join("registry.jsonl");
    std::fs::write(&p, lines).unwrap();
    p
}

/// Approves an application: (id, offer URI, transaction code).
async fn approved(api: &Api, form: Value) -> (String, String, String) {
    let id = api.submit_with_biometrics(form).await;
    let (st, v) = api
        .call(Method::POST, &format!("/v1/applications/{id}/national-check"), Some(&api.officer), None, json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) =
        api.call(Method::POST, &format!("/v1/applications/{id}/approve"), Some(&api.officer), None, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    (id, v["offer_uri"].as_str().unwrap().to_owned(), v["tx_code"].as_str().unwrap().to_owned())
}

/// Enrolls and issues: (application id, SD-JWT VC).
async fn issued(api: &Api, form: Value) -> (String, String) {
    let (id, offer, tx) = approved(api, form).await;
    let v = api.redeem(&offer, &tx).await;
    (id, v["credentials"][0]["credential"].as_str().unwrap().to_owned())
}

fn header(jws: &str) -> Value {
    use base64::Engine as _;
    let h = jws.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

fn kid_of(jws: &str) -> String {
    header(jws)["kid"].as_str().unwrap().to_owned()
}

/// What a verifier that syncs now holds: the trust list under the pinned root, and status list 1.
fn synced(api: &Api) -> verifier::TrustStore {
    with_trust_list(api, &api.service.trust_list_token().unwrap())
}

/// A trust list synced earlier, with today's status list (status lists refresh hourly; what
/// matters here is which keys the older trust list knows).
fn with_trust_list(api: &Api, trust_list: &str) -> verifier::TrustStore {
    let root: verifier::PublicKey = api.service.root_public().parse().unwrap();
    let mut store = verifier::TrustStore::from_signed(trust_list, &root).unwrap();
    store.add_status_list(1, &api.service.status_list_token(1).unwrap()).unwrap();
    store
}

fn verdict(store: &verifier::TrustStore, sd_jwt: &str, now: u64) -> String {
    let out = store.verify_sd_jwt(sd_jwt, now, &verifier::Policy::default(), None);
    match out.invalid() {
        Some(r) => r.reason.code().to_owned(),
        None => out.code().to_owned(),
    }
}

#[tokio::test]
async fn a_planned_rotation_waits_for_the_sync_interval_and_the_admin_is_warned_ahead() {
    let api = Api::new().await;
    let t0 = now(&api);
    let report = keys(&api).await;
    assert_eq!((report["mode"].as_str(), report["backend"].as_str()), (Some("development"), Some("keystore")));
    let a = active(&report);
    let ka = key(&report, &a);
    assert_eq!(ka["first_published"], json!(t0), "the first trust list named it at start");
    assert_eq!(ka["signing_days_left"], json!(365));
    assert_eq!(ka["custody"], "keystore");
    assert!(report["warnings"].as_array().unwrap().is_empty(), "{report}");

    // Prepared: published as next at once, activation allowed a sync interval later.
    let (st, v) = post(&api, "/v1/admin/keys").await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let b = v["next"].as_str().unwrap().to_owned();
    let report = keys(&api).await;
    let kb = key(&report, &b);
    assert_eq!((kb["state"].as_str(), kb["first_published"].as_u64()), (Some("next"), Some(t0)));
    assert_eq!(kb["activation_ready_at"], json!(t0 + 7 * DAY));
    let activate = format!("/v1/admin/keys/{b}/activate");
    let (st, v) = post(&api, &activate).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("key_not_synced")), "{v}");
    assert_eq!(v["ready_at"], (t0 + 7 * DAY).to_string());
    api.clock.advance(7 * DAY - 1);
    assert_eq!(post(&api, &activate).await.0, StatusCode::CONFLICT, "one second short");
    api.clock.advance(1);
    let (st, v) = post(&api, &activate).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(active(&keys(&api).await), b);
    let activated = audit_actions(&api, "key.activated").await;
    assert!(activated.iter().any(|e| e["subject"] == b && e["detail"].as_str().unwrap().contains("planned")));

    // Ten days before b stops signing: a warning in the API, audited once, however often asked.
    let until = key(&keys(&api).await, &b)["sign_until"].as_u64().unwrap();
    api.clock.set(until - 10 * DAY);
    let report = keys(&api).await;
    let w = &report["warnings"][0];
    assert_eq!(
        (w["code"].as_str(), w["kid"].as_str(), w["days_left"].as_u64()),
        (Some("signing_ends_soon"), Some(b.as_str()), Some(10))
    );
    assert!(w["message"].as_str().unwrap().contains("no next key"), "{w}");
    keys(&api).await;
    let warned = audit_actions(&api, "key.rotation_warning").await;
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["subject"], b);

    // An emergency skips the wait, and says so in the audit log.
    let (_, v) = post(&api, "/v1/admin/keys").await;
    let c = v["next"].as_str().unwrap().to_owned();
    let (st, v) = post(&api, &format!("/v1/admin/keys/{c}/activate?force=true")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let emergency = audit_actions(&api, "key.activated_emergency").await;
    assert_eq!(emergency.len(), 1);
    assert!(emergency[0]["detail"].as_str().unwrap().contains("EMERGENCY"), "{emergency:?}");
    // Development mode signs its own lists: nothing to prepare or upload.
    let (st, v) = get(&api, "/v1/admin/trust-list/pending").await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("trust_list_signed_here")));
}

/// Issuance, status list signing and a planned rotation on one backend; returns the two keys.
async fn sign_issue_rotate(api: &Api, backend: &str) -> (String, String) {
    let report = keys(api).await;
    assert_eq!(report["backend"], backend);
    let a = active(&report);
    assert_eq!(key(&report, &a)["custody"], backend);
    let (_, kim_sd) = issued(api, kim()).await;
    assert_eq!(kid_of(&kim_sd), a);
    assert_eq!(kid_of(&api.service.status_list_token(1).unwrap()), a, "status lists are signed by the node's key");
    assert_eq!(verdict(&synced(api), &kim_sd, now(api)), "valid");

    let (st, v) = post(api, "/v1/admin/keys").await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let b = v["next"].as_str().unwrap().to_owned();
    assert_eq!(key(&keys(api).await, &b)["custody"], backend);
    let before = api.service.trust_list_token().unwrap();
    api.clock.advance(7 * DAY);
    let (st, v) = post(api, &format!("/v1/admin/keys/{b}/activate")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (wang_id, wang_sd) = issued(api, wang()).await;
    assert_eq!(kid_of(&wang_sd), b);
    // A verifier that synced before the switch knows b already; kim's credential (retired key)
    // still verifies; the status list is now signed by b.
    assert_eq!(verdict(&with_trust_list(api, &before), &wang_sd, now(api)), "valid");
    assert_eq!(verdict(&synced(api), &kim_sd, now(api)), "valid");
    assert_eq!(kid_of(&api.service.status_list_token(1).unwrap()), b);
    // Suspending wang's credential: a status list signed by b that says so.
    let (_, view) =
        api.call(Method::GET, &format!("/v1/applications/{wang_id}"), Some(&api.admin), None, Value::Null).await;
    let cred = view["credential_id"].as_str().unwrap();
    let (st, v) = api
        .call(
            Method::POST,
            &format!("/v1/admin/credentials/{cred}/status"),
            Some(&api.admin),
            None,
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(verdict(&synced(api), &wang_sd, now(api)), "suspended");
    (a, b)
}

#[tokio::test]
async fn the_keystore_backend_signs_issues_and_rotates() {
    let api = Api::new().await;
    sign_issue_rotate(&api, "keystore").await;
    // Without a token there is no HSM key to register.
    let (st, v) = api.call(Method::POST, "/v1/admin/keys", Some(&api.admin), None, json!({"hsm_label": "k"})).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("key_transition_refused")), "{v}");
}

/// A throwaway SoftHSM2 token for this test process (`scripts/softhsm-token`, which installs
/// SoftHSM2 when missing); panics, never skips, without it.
struct Hsm {
    _dir: tempfile::TempDir,
    module: PathBuf,
    token: String,
    pin: String,
    pin_file: PathBuf,
}

fn hsm() -> &'static Hsm {
    static HSM: OnceLock<Hsm> = OnceLock::new();
    HSM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(common::workspace().join("scripts/softhsm-token"))
            .arg(dir.path())
            .env("VNEID_HSM_TOKEN", format!("issuer-test-{}", std::process::id()))
            .env_remove("VNEID_HSM_PIN")
            .env_remove("VNEID_HSM_SO_PIN")
            .output()
            .expect("running scripts/softhsm-token");
        assert!(
            out.status.success(),
            "SoftHSM2 is required for this test and scripts/softhsm-token failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            let v = stdout.lines().find_map(|l| l.strip_prefix(&format!("export {name}="))).unwrap().to_owned();
            v.trim_matches('\'').to_owned()
        };
        std::env::set_var("SOFTHSM2_CONF", var("SOFTHSM2_CONF"));
        let pin = var("VNEID_HSM_PIN");
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, &pin).unwrap();
        Hsm { module: PathBuf::from(var("VNEID_HSM_MODULE")), token: var("VNEID_HSM_TOKEN"), pin, pin_file, _dir: dir }
    })
}

/// Reads CKA_VALUE of the private key labelled `label` through PKCS#11 itself.
fn private_value_is_unreadable(label: &str) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::error::{Error, RvError};
    use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    let h = hsm();
    let ctx = Pkcs11::new(&h.module).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == h.token)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    match session.login(UserType::User, Some(&h.pin.clone().into())) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let found = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1, "{label}");
    let info = session.get_attribute_info(found[0], &[AttributeType::Value]).unwrap();
    assert!(matches!(info.as_slice(), [AttributeInfo::Sensitive]), "{info:?}");
    let attrs = session.get_attributes(found[0], &[AttributeType::Value]).unwrap();
    assert!(!attrs.iter().any(|a| matches!(a, Attribute::Value(_))), "CKA_VALUE was returned");
}

#[tokio::test]
async fn the_hsm_backend_signs_issues_and_rotates_and_its_keys_cannot_be_read() {
    let h = hsm();
    let api = Api::with_config(common::registry(), |c| {
        c.hsm = Some(issuer::unlock::Hsm {
            module: h.module.clone(),
            token: h.token.clone(),
            pin: keys::SecretSource::File(h.pin_file.clone()),
        });
    })
    .await;
    let (a, b) = sign_issue_rotate(&api, "hsm").await;
    let report = keys(&api).await;
    for kid in [&a, &b] {
        let k = key(&report, kid);
        assert_eq!((k["custody"].as_str(), k["non_extractable"].as_bool()), (Some("hsm"), Some(true)), "{k}");
        private_value_is_unreadable(k["hsm_label"].as_str().unwrap());
    }
    // A key an admin made on the token with `keys hsm generate` is registered as the next key.
    let token = keys::Pkcs11Token::open(&h.module, &h.token, zeroize::Zeroizing::new(h.pin.clone())).unwrap();
    let made = keys::Signer::kid(&token.generate("admin-made-1", 1).unwrap()).to_string();
    let (st, v) =
        api.call(Method::POST, "/v1/admin/keys", Some(&api.admin), None, json!({"hsm_label": "admin-made-1"})).await;
    assert_eq!((st, v["next"].as_str()), (StatusCode::CREATED, Some(made.as_str())), "{v}");
    let k = key(&keys(&api).await, &made).clone();
    assert_eq!((k["state"].as_str(), k["hsm_label"].as_str()), (Some("next"), Some("admin-made-1")), "{k}");
    let (st, v) =
        api.call(Method::POST, "/v1/admin/keys", Some(&api.admin), None, json!({"hsm_label": "no-such-key"})).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("key_transition_refused")), "{v}");
    // The keystore has records of the token's keys, and no sealed seed for them.
    let sealed: Vec<String> = std::fs::read_dir(api.dir.path().join("keys/keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!sealed.iter().any(|f| f.starts_with(&a) || f.starts_with(&b)), "{sealed:?}");
}

#[tokio::test]
async fn production_publishes_only_the_prepared_list_signed_by_the_pinned_root() {
    use keys::Signer as _;
    let root = keys::SigningHandle::generate().unwrap();
    let other = keys::SigningHandle::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("passphrase");
    std::fs::write(&pass, "a production passphrase\n").unwrap();
    let pk = root.public_key();
    let p2 = pass.clone();
    let api = Api::with_config(common::registry(), move |c| {
        c.key_mode = issuer::unlock::KeyMode::Production { root: pk, passphrase: keys::SecretSource::File(p2) };
    })
    .await;
    assert_eq!(api.service.root_public(), root.public_key().to_string());
    assert!(api.service.trust_list_token().is_none(), "nothing published before an upload");
    let (st, v) = api.call(Method::GET, "/.well-known/vneid-trust-list", None, None, Value::Null).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("trust_list_unavailable")));
    let report = keys(&api).await;
    assert_eq!(report["mode"], "production");
    assert!(report["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "trust_list_missing"), "{report}");
    // No key file, no root key in the keystore.
    assert!(!api.dir.path().join("keys/kek").exists());

    let (st, pending) = get(&api, "/v1/admin/trust-list/pending").await;
    assert_eq!(st, StatusCode::OK, "{pending}");
    let list: verifier::TrustList = serde_json::from_value(pending.clone()).unwrap();
    assert_eq!(get(&api, "/v1/admin/trust-list/pending").await.1, pending, "the same list until it changes");
    let upload = |jws: String| {
        let api = &api;
        async move {
            let req = axum::http::Request::builder()
                .method(Method::POST)
                .uri("/v1/admin/trust-list")
                .header("content-type", "application/jwt")
                .header("authorization", format!("Bearer {}", api.admin))
                .body(axum::body::Body::from(jws))
                .unwrap();
            let resp = tower::ServiceExt::oneshot(api.app.clone(), req).await.unwrap();
            let st = resp.status();
            let b = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
            (st, serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null))
        }
    };
    // Signed by another root: refused, audited, nothing published.
    let (st, v) = upload(keys::sign_trust_list(&other, &list).unwrap()).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("trust_list_signature")), "{v}");
    // Signed by the root, but not the prepared list.
    let mut edited = list.clone();
    edited.next_update += DAY;
    let (st, v) = upload(keys::sign_trust_list(&root, &edited).unwrap()).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("trust_list_mismatch")), "{v}");
    assert_eq!(audit_actions(&api, "trust_list.refused").await.len(), 2);
    assert!(api.service.trust_list_token().is_none());
    // The prepared list, signed by the root: published, and served.
    let (st, v) = upload(keys::sign_trust_list(&root, &list).unwrap()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let served = api.service.trust_list_token().unwrap();
    assert_eq!(verifier::TrustList::verify(&served, &root.public_key()).unwrap(), list);
    let a = active(&keys(&api).await);
    assert_eq!(key(&keys(&api).await, &a)["first_published"], json!(now(&api)));

    // A next key is published only by the next upload: until then its activation is refused
    // even after a week, and it waits a week from the upload.
    let (_, v) = post(&api, "/v1/admin/keys").await;
    let b = v["next"].as_str().unwrap().to_owned();
    let report = keys(&api).await;
    assert!(report["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "trust_list_outdated"), "{report}");
    api.clock.advance(7 * DAY);
    let (st, v) = post(&api, &format!("/v1/admin/keys/{b}/activate")).await;
    assert_eq!(
        (st, v["error"].as_str(), v.get("ready_at")),
        (StatusCode::CONFLICT, Some("key_not_synced"), None),
        "{v}"
    );
    let (_, pending) = get(&api, "/v1/admin/trust-list/pending").await;
    let next: verifier::TrustList = serde_json::from_value(pending).unwrap();
    assert!(next.seq > list.seq && next.keys.iter().any(|k| k.kid.to_string() == b));
    // Uploading the old list again: it is not the prepared one any more.
    let (st, _) = upload(keys::sign_trust_list(&root, &list).unwrap()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, v) = upload(keys::sign_trust_list(&root, &next).unwrap()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    api.clock.advance(7 * DAY);
    let (st, v) = post(&api, &format!("/v1/admin/keys/{b}/activate")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The key change must reach verifiers: the admin is told to publish again.
    let report = keys(&api).await;
    assert!(report["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "trust_list_outdated"), "{report}");
}

/// The re-offers in the outbox: application → (offer URI, transaction code), every line.
fn reoffers(api: &Api) -> Vec<(String, String, String)> {
    std::fs::read_to_string(api.dir.path().join("outbox.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["kind"] == "reoffer")
        .map(|l| {
            (
                l["application"].as_str().unwrap().to_owned(),
                l["offer_uri"].as_str().unwrap().to_owned(),
                l["tx_code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn wait_until_idle(api: &Api, kid: &str) -> Value {
    for _ in 0..2000 {
        let (st, p) = get(api, &format!("/v1/admin/keys/{kid}/reissue")).await;
        assert_eq!(st, StatusCode::OK, "{p}");
        if p["state"] != "running" {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the re-issuance of {kid} is still running");
}

#[tokio::test]
async fn a_revoked_keys_credentials_are_reoffered_once_and_an_interrupted_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path(), 4);
    let api = Api::with_config(reg, |c| c.reoffer_rate = 1000).await;
    let mut holders = Vec::new();
    for n in 0..4 {
        holders.push(issued(&api, person(n)).await);
    }
    let bad = kid_of(&holders[0].1);
    // One of them was revoked for its own reasons: it is not re-offered.
    let (_, view) =
        api.call(Method::GET, &format!("/v1/applications/{}", holders[3].0), Some(&api.admin), None, Value::Null).await;
    let revoked_cred = view["credential_id"].as_str().unwrap().to_owned();
    let (st, _) = api
        .call(
            Method::POST,
            &format!("/v1/admin/credentials/{revoked_cred}/status"),
            Some(&api.admin),
            None,
            json!({"status": "revoked"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    // Compromise: emergency rotation, then the revocation lists what the key signed.
    let (st, v) = post(&api, "/v1/admin/keys/rotate").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let good = v["active"].as_str().unwrap().to_owned();
    let (st, v) = post(&api, &format!("/v1/admin/keys/{bad}/revoke")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["signed_credentials"]["count"], 4, "{v}");
    let (_, page) = get(&api, &format!("/v1/admin/keys/{bad}/credentials?limit=3")).await;
    assert_eq!(page["credentials"].as_array().unwrap().len(), 3);
    let after = page["next_after"].as_str().unwrap();
    let (_, rest) = get(&api, &format!("/v1/admin/keys/{bad}/credentials?after={after}")).await;
    assert_eq!(rest["credentials"].as_array().unwrap().len(), 1);
    let (st, v) = post(&api, &format!("/v1/admin/keys/{good}/reissue")).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("key_not_revoked")));

    // The notifier fails half-way through the first run (the outbox cannot be written): the
    // offers are made and kept, their notices wait.
    let outbox = api.dir.path().join("outbox.jsonl");
    let saved = api.dir.path().join("outbox.saved");
    std::fs::rename(&outbox, &saved).unwrap();
    std::fs::create_dir(&outbox).unwrap();
    let (st, p) = post(&api, &format!("/v1/admin/keys/{bad}/reissue")).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{p}");
    let p = wait_until_idle(&api, &bad).await;
    assert_eq!(
        (
            p["state"].as_str(),
            p["total"].as_u64(),
            p["offered"].as_u64(),
            p["skipped"].as_u64(),
            p["notices_pending"].as_u64()
        ),
        (Some("interrupted"), Some(4), Some(3), Some(1), Some(3)),
        "{p}"
    );
    assert_eq!(audit_actions(&api, "offer.reoffer_not_sent").await.len(), 3);
    std::fs::remove_dir(&outbox).unwrap();
    std::fs::rename(&saved, &outbox).unwrap();

    // Run again: the same offers are sent, no new ones are made.
    let (st, _) = post(&api, &format!("/v1/admin/keys/{bad}/reissue")).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let p = wait_until_idle(&api, &bad).await;
    assert_eq!(
        (p["state"].as_str(), p["done"].as_u64(), p["notices_pending"].as_u64()),
        (Some("finished"), Some(4), Some(0)),
        "{p}"
    );
    let (st, p2) = post(&api, &format!("/v1/admin/keys/{bad}/reissue")).await;
    assert_eq!((st, p2["state"].as_str()), (StatusCode::ACCEPTED, Some("finished")));
    assert_eq!(audit_actions(&api, "credential.reoffered").await.len(), 3, "each credential re-offered once");
    assert_eq!(audit_actions(&api, "credential.reoffer_skipped").await.len(), 1);
    assert_eq!(audit_actions(&api, "reissue.resumed").await.len(), 1);
    assert_eq!(audit_actions(&api, "reissue.finished").await.len(), 1);
    let lines = reoffers(&api);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let apps: std::collections::BTreeSet<&str> = lines.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(apps, holders[..3].iter().map(|h| h.0.as_str()).collect());

    // Each holder takes the new offer and gets a credential signed by the active key; the old
    // one is refused as signed by a revoked key.
    let store_now = synced(&api);
    for (app, offer, tx) in &lines {
        let v = api.redeem(offer, tx).await;
        let sd = v["credentials"][0]["credential"].as_str().unwrap();
        assert_eq!(kid_of(sd), good);
        assert_eq!(verdict(&synced(&api), sd, now(&api)), "valid");
        let old = &holders.iter().find(|h| &h.0 == app).unwrap().1;
        assert_eq!(verdict(&store_now, old, now(&api)), "key_revoked");
    }
    assert_eq!(audit_actions(&api, "credential.reissued").await.len(), 3);
}
