//! Shared by the in-process API tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use issuer::clock::ManualClock;
use serde_json::{json, Value};
use tower::ServiceExt as _;

pub const LANGS: [&str; 4] = ["vi", "en", "zh-CN", "ko"];

/// 2026-11-27 (a Friday) 09:00 in Vietnam.
pub const FRIDAY_9AM: u64 = 1_795_744_800;

pub struct Api {
    pub app: axum::Router,
    pub clock: Arc<ManualClock>,
    pub service: Arc<issuer::service::Service>,
    pub admin: String,
    pub officer: String,
    pub dir: tempfile::TempDir,
}

pub fn registry() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../enrollment/data/registry-sample.jsonl")
}

impl Api {
    pub async fn new() -> Self {
        Self::with_registry(registry()).await
    }

    pub async fn with_registry(registry: PathBuf) -> Self {
        Self::with_config(registry, |_| {}).await
    }

    /// As [`Api::with_registry`], with the configuration adjusted first.
    pub async fn configured(registry: PathBuf, tweak: impl FnOnce(&mut issuer::Config)) -> Self {
        Self::with_config(registry, tweak).await
    }

    /// An issuer whose configuration `adjust` changes first (key mode, HSM, rotation policy,
    /// registry change log; the data folder is `config.data`).
    pub async fn with_config(registry: PathBuf, adjust: impl FnOnce(&mut issuer::Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(FRIDAY_9AM));
        let mut config = issuer::Config::new(dir.path().to_path_buf(), "127.0.0.1:8080".parse().unwrap());
        config.public_url = Some("https://issuer.test".into());
        config.registry = Some(registry);
        config.publish_interval = std::time::Duration::ZERO;
        config.outbox = Some(dir.path().join("outbox.jsonl"));
        adjust(&mut config);
        let (service, admin) = issuer::open(&config, clock.clone()).await.unwrap();
        let app = issuer::app(service.clone());
        let mut api = Api { app, clock, service, admin: admin.unwrap().to_string(), officer: String::new(), dir };
        let (st, v) = api
            .call(
                Method::POST,
                "/v1/admin/tokens",
                Some(&api.admin.clone()),
                None,
                json!({"role": "officer", "name": "officer-1", "reception_point": "hn-ba-dinh-police"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        api.officer = v["token"].as_str().unwrap().to_owned();
        api
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        lang: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
        let resp = self.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn submit(&self, form: Value, lang: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::POST, "/v1/applications", Some(&self.officer), lang, form).await
    }
}

pub fn kim() -> Value {
    json!({
        "full_name": "김민준",
        "full_name_latin": "KIM MIN JUN",
        "sex": "M",
        "date_of_birth": "1990-04-12",
        "nationality": "KOR",
        "passport_number": "M12345678",
        "residence_card": {"number": "TRC0012345", "kind": "temporary", "issued_on": "2025-07-01", "expires_on": "2028-06-30"},
        "address": "Số 12 Phố Liễu Giai, Ba Đình, Hà Nội",
        "phone": "0912345678",
        "email": "minjun.kim@example.com",
        "reception_point": "hn-ba-dinh-police"
    })
}

pub fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() { &mut base } else { base.pointer_mut(parent).unwrap() };
    if value.is_null() {
        target.as_object_mut().unwrap().remove(key);
    } else {
        target[key] = value;
    }
    base
}

pub fn codes(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .map(|a| a.iter().map(|r| r["code"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default()
}

impl Api {
    /// A multipart POST of (name, bytes) files and (name, value) fields.
    pub async fn multipart(
        &self,
        path: &str,
        lang: Option<&str>,
        files: &[(&str, Vec<u8>)],
        fields: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let boundary = "x-boundary-41f7";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, bytes) in files {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .header("authorization", format!("Bearer {}", self.officer));
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        let resp = self.app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Submits and uploads valid biometrics; returns the application id.
    pub async fn submit_with_biometrics(&self, form: Value) -> String {
        let (st, v) = self.submit(form, None).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let (st, v) = self
            .multipart(
                &format!("/v1/applications/{id}/biometrics"),
                None,
                &[("portrait", portrait()), ("fingerprint_2", fingerprint())],
                &[("portrait_quality", "80"), ("fingerprint_2_quality", "70")],
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        id
    }
}

pub fn portrait() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    v
}

pub fn fingerprint() -> Vec<u8> {
    let mut v = vec![0xff, 0xa0, 0xff, 0xa8];
    v.extend((0..2000u32).map(|i| (i * 13 % 241) as u8));
    v
}

pub fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

impl Api {
    /// A request with a raw (possibly broken) body, as the officer.
    pub async fn call_raw(&self, method: Method, path: &str, lang: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.officer))
            .header("accept-language", lang)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A form-encoded POST without a token.
    pub async fn form(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Plays an OpenID4VCI 1.0 wallet: redeems an offer with its transaction code, takes a
    /// nonce from the Nonce Endpoint, proves possession of a fixed device key (`proofs`) and
    /// returns the credential response.
    pub async fn redeem(&self, offer_uri: &str, tx_code: &str) -> Value {
        let offer = verifier::build::oid4vci::CredentialOffer::from_uri(offer_uri).unwrap();
        let code = offer.pre_authorized_code().unwrap();
        let (st, tok) = self.form("/token", &token_form(code, Some(tx_code))).await;
        assert_eq!(st, StatusCode::OK, "{tok}");
        let access = tok["access_token"].as_str().unwrap().to_owned();
        let nonce = self.nonce(None).await;
        let device = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let jwt = proof_jwt(&device, &offer.credential_issuer, self.clock.now_for_tests(), &nonce);
        let body = json!({"credential_configuration_id": verifier::build::oid4vci::CONFIGURATION_ID,
                          "proofs": {"jwt": [jwt]}});
        let (status, v) = self.call(Method::POST, "/credential", Some(&access), None, body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    /// A nonce from the Nonce Endpoint (bound to `access` when given).
    pub async fn nonce(&self, access: Option<&str>) -> String {
        let (st, v) = self.call(Method::POST, "/nonce", access, None, Value::Null).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v["c_nonce"].as_str().unwrap().to_owned()
    }
}

/// The token request body: the pre-authorized code grant, with a transaction code if given.
pub fn token_form(code: &str, tx_code: Option<&str>) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let mut f = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={}",
        enc(code)
    );
    if let Some(tx) = tx_code {
        f.push_str(&format!("&tx_code={}", enc(tx)));
    }
    f
}

/// A proof of possession of `device` over `nonce`, for `issuer`, at `iat`.
pub fn proof_jwt(device: &ed25519_dalek::SigningKey, issuer: &str, iat: u64, nonce: &str) -> String {
    use ed25519_dalek::Signer as _;
    let pk = verifier::PublicKey::from_bytes(device.verifying_key().to_bytes());
    let input = verifier::build::oid4vci::proof_signing_input(&pk, issuer, iat, nonce);
    verifier::build::jws::assemble(&input, &device.sign(input.as_bytes()).to_bytes())
}

trait NowForTests {
    fn now_for_tests(&self) -> u64;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> u64 {
        issuer::clock::Clock::now(self)
    }
}
