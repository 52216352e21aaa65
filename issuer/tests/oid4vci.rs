//! OpenID4VCI 1.0 through the HTTP API, in process with a manual clock: the metadata documents,
//! the transaction code (second channel, counting, the fifth wrong code kills the offer), the
//! Nonce Endpoint (single use, expiry, sessions), `proofs` and batches, OAuth errors and
//! `Cache-Control: no-store`. Every refusal gets its standard `error` and never a credential.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::*;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

const CONFIG: &str = verifier::build::oid4vci::CONFIGURATION_ID;

/// The second applicant of the sample registry.
fn wang() -> Value {
    json!({
        "full_name": "王芳",
        "full_name_latin": "WANG FANG",
        "sex": "F",
        "date_of_birth": "1985-11-03",
        "nationality": "CHN",
        "passport_number": "EA1234567",
        "residence_card": {"number": "TRC0023456", "kind": "temporary", "issued_on": "2025-04-01", "expires_on": "2027-03-31"},
        "address": "Số 5 Phố Huế, Hai Bà Trưng, Hà Nội",
        "phone": "0987654321",
        "email": "wang.fang@example.com",
        "reception_point": "hn-ba-dinh-police"
    })
}

/// An approved application: (id, offer URI, transaction code).
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

fn code_of(offer_uri: &str) -> String {
    verifier::build::oid4vci::CredentialOffer::from_uri(offer_uri).unwrap().pre_authorized_code().unwrap().to_owned()
}

/// A raw request: status, headers, JSON body.
async fn raw(api: &Api, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = api.app.clone().oneshot(req).await.unwrap();
    let (st, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (st, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn token(
    api: &Api,
    code: &str,
    tx: Option<&str>,
    lang: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    raw(api, req.body(Body::from(token_form(code, tx))).unwrap()).await
}

async fn access_token(api: &Api, offer: &str, tx: &str) -> String {
    let (st, _, v) = token(api, &code_of(offer), Some(tx), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

async fn credential(api: &Api, access: &str, body: Value) -> (StatusCode, axum::http::HeaderMap, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/credential")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {access}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    raw(api, req).await
}

fn now(api: &Api) -> u64 {
    issuer::clock::Clock::now(api.clock.as_ref())
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn proofs(api: &Api, keys: &[u8], nonce: &str) -> Value {
    let jwts: Vec<String> = keys.iter().map(|k| proof_jwt(&key(*k), "https://issuer.test", now(api), nonce)).collect();
    json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": jwts}})
}

/// The payload of an SD-JWT VC's issuer-signed JWT.
fn payload(sd_jwt: &str) -> Value {
    let jwt = sd_jwt.split('~').next().unwrap();
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn holder_of(sd_jwt: &str) -> String {
    payload(sd_jwt)["cnf"]["jwk"]["x"].as_str().unwrap().to_owned()
}

fn x_of(n: u8) -> String {
    B64.encode(key(n).verifying_key().to_bytes())
}

/// A refusal in OAuth form: the status, the standard code, a description, no credential, and
/// `Cache-Control: no-store`.
fn refused(what: &str, got: &(StatusCode, axum::http::HeaderMap, Value), status: StatusCode, error: &str) {
    let (st, headers, v) = got;
    assert_eq!((*st, v["error"].as_str()), (status, Some(error)), "{what}: {v}");
    assert!(v["error_description"].as_str().is_some_and(|d| d.len() > 10), "{what}: {v}");
    assert!(v.get("credentials").is_none() && v.get("access_token").is_none(), "{what}: {v}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store", "{what}");
}

async fn audit_actions(api: &Api, action: &str) -> usize {
    let page = api.service.store().audit_page(None, 10_000).await.unwrap();
    page.iter().filter(|(_, e)| e.action == action).count()
}

#[tokio::test]
async fn the_three_metadata_documents() {
    let api = Api::new().await;
    let (st, m) = api.call(Method::GET, "/.well-known/openid-credential-issuer", None, None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(m["credential_issuer"], "https://issuer.test");
    assert_eq!(m["credential_endpoint"], "https://issuer.test/credential");
    assert_eq!(m["nonce_endpoint"], "https://issuer.test/nonce");
    assert!(m["batch_credential_issuance"]["batch_size"].as_u64().unwrap() >= 2);
    // 1.0 puts these in the authorization server metadata, not here.
    assert!(m.get("token_endpoint").is_none() && m.get("pre-authorized_grant_anonymous_access_supported").is_none());
    let c = &m["credential_configurations_supported"][CONFIG];
    assert_eq!(c["format"], "dc+sd-jwt");
    assert_eq!(c["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"], json!(["EdDSA"]));
    let locales =
        |d: &Value| d.as_array().unwrap().iter().map(|e| e["locale"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(locales(&c["credential_metadata"]["display"]), ["vi", "en", "zh-CN", "ko"]);
    let claims = c["credential_metadata"]["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 13);
    for claim in claims {
        assert_eq!(locales(&claim["display"]).len(), 4, "{claim}");
        assert!(claim["display"].as_array().unwrap().iter().all(|d| !d["name"].as_str().unwrap().starts_with("api-")));
    }

    let (st, a) = api.call(Method::GET, "/.well-known/oauth-authorization-server", None, None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(a["issuer"], "https://issuer.test");
    assert_eq!(a["token_endpoint"], "https://issuer.test/token");
    assert_eq!(a["pre-authorized_grant_anonymous_access_supported"], true);
    assert_eq!(a["grant_types_supported"], json!([verifier::build::oid4vci::PRE_AUTH_GRANT]));

    let (st, j) = api.call(Method::GET, "/.well-known/jwt-vc-issuer", None, None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(j["issuer"], "https://issuer.test");
    let (_, keys) = api.call(Method::GET, "/v1/admin/keys", Some(&api.admin), None, Value::Null).await;
    let active = keys["keys"].as_array().unwrap().iter().find(|k| k["state"] == "active").unwrap()["kid"].clone();
    assert!(j["jwks"]["keys"].as_array().unwrap().iter().any(|k| k["kid"] == active && k["crv"] == "Ed25519"));
}

#[tokio::test]
async fn the_transaction_code_reaches_the_officer_and_the_outbox_and_only_its_hash_is_stored() {
    let api = Api::new().await;
    let (id, offer, tx) = approved(&api, kim()).await;
    assert!(tx.len() == 6 && tx.bytes().all(|b| b.is_ascii_digit()), "{tx}");
    let o = verifier::build::oid4vci::CredentialOffer::from_uri(&offer).unwrap();
    let spec = o.tx_code().unwrap();
    assert_eq!((spec.input_mode.as_deref(), spec.length), (Some("numeric"), Some(6)));
    // A Korean applicant gets the hint and the message in Korean.
    assert!(spec.description.unwrap().contains("거래 코드"));
    let outbox = std::fs::read_to_string(api.dir.path().join("outbox.jsonl")).unwrap();
    let line: Value = serde_json::from_str(outbox.lines().last().unwrap()).unwrap();
    assert_eq!((line["application"].as_str(), line["tx_code"].as_str()), (Some(id.as_str()), Some(tx.as_str())));
    assert_eq!((line["lang"].as_str(), line["sms"].as_str()), (Some("ko"), Some("+84912345678")));
    assert!(line["text"].as_str().unwrap().contains(&tx));
    assert_eq!(audit_actions(&api, "offer.tx_code_sent").await, 1);
    // The code is in no stored row, nor in the audit log.
    let row = api.service.store().code(&issuer::service::hash_secret(&code_of(&offer))).await.unwrap().unwrap();
    assert!(row.tx_code.is_some());
    let audit = serde_json::to_string(&api.service.store().audit_page(None, 10_000).await.unwrap()).unwrap();
    assert!(!audit.contains(&tx));
    // A renewed offer brings a new code by both channels.
    let (st, v) =
        api.call(Method::POST, &format!("/v1/applications/{id}/offer"), Some(&api.officer), None, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let outbox = std::fs::read_to_string(api.dir.path().join("outbox.jsonl")).unwrap();
    let line: Value = serde_json::from_str(outbox.lines().last().unwrap()).unwrap();
    assert_eq!(line["tx_code"], v["tx_code"]);
    assert_eq!(line["generation"], 2);
}

#[tokio::test]
async fn wrong_transaction_codes_are_counted_and_the_fifth_kills_the_offer() {
    let api = Api::new().await;
    let (id, offer, tx) = approved(&api, kim()).await;
    let code = code_of(&offer);
    let wrong = if tx == "000000" { "111111" } else { "000000" };

    // No code: invalid_request, not counted. English when no language is asked for.
    let r = token(&api, &code, None, None).await;
    refused("no tx_code", &r, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(r.2["error_description"].as_str().unwrap().contains("transaction code"), "{}", r.2);
    assert_eq!(r.1.get("content-language").unwrap(), "en");

    for attempt in 1..=4u32 {
        let r = token(&api, &code, Some(wrong), None).await;
        refused("wrong tx_code", &r, StatusCode::BAD_REQUEST, "invalid_grant");
        let left = 5 - attempt;
        assert!(r.2["error_description"].as_str().unwrap().contains(&left.to_string()), "{}", r.2);
        assert_eq!(audit_actions(&api, "offer.tx_code_wrong").await, attempt as usize, "each attempt is counted");
    }
    // In the caller's language when asked.
    let r = token(&api, &code, Some(wrong), Some("ko")).await;
    refused("fifth wrong tx_code", &r, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(r.2["error_description"].as_str().unwrap().contains("거래 코드"), "{}", r.2);
    assert_eq!(audit_actions(&api, "offer.locked").await, 1);

    // Dead: the right code no longer works.
    let r = token(&api, &code, Some(&tx), None).await;
    refused("right code after five wrong", &r, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(audit_actions(&api, "offer.tx_code_wrong").await, 5);
    assert_eq!(audit_actions(&api, "offer.redeemed").await, 0);

    // The officer renews it; the new code and transaction code work.
    let (st, v) =
        api.call(Method::POST, &format!("/v1/applications/{id}/offer"), Some(&api.officer), None, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let issued = api.redeem(v["offer_uri"].as_str().unwrap(), v["tx_code"].as_str().unwrap()).await;
    assert_eq!(issued["credentials"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn token_responses_are_1_0_and_not_cached() {
    let api = Api::new().await;
    let (_, offer, tx) = approved(&api, kim()).await;
    let (st, headers, v) = token(&api, &code_of(&offer), Some(&tx), None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(v["token_type"], "Bearer");
    assert!(v.get("c_nonce").is_none(), "1.0 has no c_nonce in the token response");
    let req = Request::builder().method(Method::POST).uri("/nonce").body(Body::empty()).unwrap();
    let (st, headers, n) = raw(&api, req).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert!(n["c_nonce"].as_str().is_some_and(|c| c.len() > 20));
    // An unknown grant type, and a made-up token at the credential endpoint.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=password"))
        .unwrap();
    refused("grant type", &raw(&api, req).await, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let r = credential(&api, "at_made-up", proofs(&api, &[1], n["c_nonce"].as_str().unwrap())).await;
    refused("made-up token", &r, StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(r.1.get("www-authenticate").unwrap(), "Bearer error=\"invalid_token\"");
}

#[tokio::test]
async fn nonces_are_single_use_expire_and_belong_to_their_session() {
    let api = Api::new().await;
    let (_, offer_a, tx_a) = approved(&api, kim()).await;
    let (_, offer_b, tx_b) = approved(&api, wang()).await;
    let a = access_token(&api, &offer_a, &tx_a).await;
    let b = access_token(&api, &offer_b, &tx_b).await;

    // A nonce used by A's credential request cannot be used again, by A or by B.
    let n = api.nonce(None).await;
    let (st, _, v) = credential(&api, &a, proofs(&api, &[1], &n)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r = credential(&api, &a, proofs(&api, &[1], &n)).await;
    refused("reused nonce, same session", &r, StatusCode::BAD_REQUEST, "invalid_nonce");
    let r = credential(&api, &b, proofs(&api, &[2], &n)).await;
    refused("reused nonce, other session", &r, StatusCode::BAD_REQUEST, "invalid_nonce");

    // A nonce A asked for with its access token is A's: B cannot use it (nor use it up).
    let mine = api.nonce(Some(&a)).await;
    let r = credential(&api, &b, proofs(&api, &[2], &mine)).await;
    refused("nonce from another session", &r, StatusCode::BAD_REQUEST, "invalid_nonce");
    let (st, _, v) = credential(&api, &a, proofs(&api, &[1], &mine)).await;
    assert_eq!(st, StatusCode::OK, "A's nonce still works for A (a retry: the same credential): {v}");

    // A nonce past its lifetime (B's token request is retried meanwhile, so its session lives).
    let old = api.nonce(None).await;
    api.clock.advance(200);
    let b = access_token(&api, &offer_b, &tx_b).await;
    api.clock.advance(101);
    let r = credential(&api, &b, proofs(&api, &[2], &old)).await;
    refused("expired nonce", &r, StatusCode::BAD_REQUEST, "invalid_nonce");
    // A nonce nobody handed out, and a proof without one.
    let r = credential(&api, &b, proofs(&api, &[2], "cn_invented")).await;
    refused("unknown nonce", &r, StatusCode::BAD_REQUEST, "invalid_nonce");
    // B never got a credential; with a fresh nonce it does.
    assert_eq!(audit_actions(&api, "credential.issued").await, 1);
    let fresh = api.nonce(Some(&b)).await;
    let (st, _, v) = credential(&api, &b, proofs(&api, &[2], &fresh)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn malformed_batches_are_refused_with_their_standard_errors() {
    let api = Api::new().await;
    let (_, offer, tx) = approved(&api, kim()).await;
    let a = access_token(&api, &offer, &tx).await;
    let n = api.nonce(None).await;
    let jwt = proof_jwt(&key(1), "https://issuer.test", now(&api), &n);

    let both = json!({"credential_configuration_id": CONFIG, "proof": {"proof_type": "jwt", "jwt": jwt},
                      "proofs": {"jwt": [jwt]}});
    refused(
        "proof and proofs",
        &credential(&api, &a, both).await,
        StatusCode::BAD_REQUEST,
        "invalid_credential_request",
    );
    refused(
        "same key twice",
        &credential(&api, &a, proofs(&api, &[1, 1], &n)).await,
        StatusCode::BAD_REQUEST,
        "invalid_proof",
    );
    refused(
        "more than batch_size",
        &credential(&api, &a, proofs(&api, &[1, 2, 3, 4, 5], &n)).await,
        StatusCode::BAD_REQUEST,
        "invalid_credential_request",
    );
    let other = json!({"credential_configuration_id": "something_else", "proofs": {"jwt": [jwt]}});
    refused(
        "configuration",
        &credential(&api, &a, other).await,
        StatusCode::BAD_REQUEST,
        "unknown_credential_configuration",
    );
    let no_nonce = {
        use ed25519_dalek::Signer as _;
        let pk = verifier::PublicKey::from_bytes(key(1).verifying_key().to_bytes());
        let header = json!({"alg": "EdDSA", "typ": "openid4vci-proof+jwt", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": pk.to_string()}});
        let input = verifier::build::jws::signing_input(
            &header,
            json!({"aud": "https://issuer.test", "iat": now(&api)}).to_string().as_bytes(),
        );
        verifier::build::jws::assemble(&input, &key(1).sign(input.as_bytes()).to_bytes())
    };
    let r = credential(&api, &a, json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": [no_nonce]}})).await;
    refused("proof without nonce", &r, StatusCode::BAD_REQUEST, "invalid_proof");
    let forged = proof_jwt(&key(1), "https://elsewhere.test", now(&api), &n);
    let r = credential(&api, &a, json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": [forged]}})).await;
    refused("proof for another issuer", &r, StatusCode::BAD_REQUEST, "invalid_proof");
    // None of these used the nonce up: it still issues.
    assert_eq!(audit_actions(&api, "credential.issued").await, 0);
    let (st, _, v) = credential(&api, &a, proofs(&api, &[1], &n)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn a_batch_has_one_credential_per_key_one_status_index_and_is_delivered_exactly_once() {
    let api = Api::new().await;
    let (id, offer, tx) = approved(&api, kim()).await;
    let a = access_token(&api, &offer, &tx).await;
    let n = api.nonce(Some(&a)).await;
    let (st, headers, v) = credential(&api, &a, proofs(&api, &[1, 2, 3], &n)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let creds: Vec<String> =
        v["credentials"].as_array().unwrap().iter().map(|c| c["credential"].as_str().unwrap().to_owned()).collect();
    assert_eq!(creds.iter().map(|c| holder_of(c)).collect::<Vec<_>>(), [x_of(1), x_of(2), x_of(3)]);
    let idx: Vec<_> = creds.iter().map(|c| payload(c)["status"]["status_list"]["idx"].clone()).collect();
    assert!(idx.windows(2).all(|w| w[0] == w[1]), "one status index for the person: {idx:?}");
    let digests: Vec<_> = creds.iter().map(|c| payload(c)["_sd"].clone()).collect();
    assert!(digests[0] != digests[1], "each instance has its own salts");
    // The QR credentials are bound to the first key.
    let landlord = B64.decode(v["qr_credentials"]["landlord"].as_str().unwrap()).unwrap();
    let (_, cred) = verifier::build::qr::decode_credential(&landlord).unwrap();
    assert_eq!(cred.holder.to_string(), x_of(1));

    // The response was lost: the same keys (any order) with a fresh nonce get the same batch back.
    let n2 = api.nonce(Some(&a)).await;
    let (st, _, again) = credential(&api, &a, proofs(&api, &[3, 1, 2], &n2)).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    let again: Vec<String> =
        again["credentials"].as_array().unwrap().iter().map(|c| c["credential"].as_str().unwrap().to_owned()).collect();
    assert_eq!(again.iter().map(|c| holder_of(c)).collect::<Vec<_>>(), [x_of(1), x_of(2), x_of(3)]);
    assert_eq!(payload(&again[0])["status"], payload(&creds[0])["status"]);
    assert_eq!(payload(&again[0])["iat"], payload(&creds[0])["iat"]);
    assert_eq!(audit_actions(&api, "credential.issued").await, 1, "one issuance");
    // Other keys, or only some of them: refused.
    let n3 = api.nonce(Some(&a)).await;
    let r = credential(&api, &a, proofs(&api, &[1, 2, 4], &n3)).await;
    refused("other keys", &r, StatusCode::BAD_REQUEST, "invalid_proof");
    let n4 = api.nonce(Some(&a)).await;
    let r = credential(&api, &a, proofs(&api, &[1], &n4)).await;
    refused("a subset", &r, StatusCode::BAD_REQUEST, "invalid_proof");
    let (_, view) =
        api.call(Method::GET, &format!("/v1/applications/{id}"), Some(&api.officer), None, Value::Null).await;
    assert_eq!(view["state"], "issued");
}

#[test]
fn the_default_outbox_is_beside_the_data_folder_not_in_it() {
    use std::path::Path;
    assert_eq!(issuer::default_outbox(Path::new("./issuer-data/")), Path::new("./issuer-data-outbox.jsonl"));
    assert_eq!(issuer::default_outbox(Path::new("/srv/vneid/data")), Path::new("/srv/vneid/data-outbox.jsonl"));
}
