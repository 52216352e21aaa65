//! The HTTP API driven in-process with `app().oneshot(request)`: a real embedded store folder, the real
//! keystore, the sample registry, and a manual clock so deadlines and expiry can be tested.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

use common::{codes, kim, with, Api, LANGS};

/// Every eligibility rule and form check, through the HTTP API, in all four languages: the code
/// is stable, the message differs per language and is never the bare id.
#[tokio::test]
async fn every_eligibility_rule_and_reason_code_in_four_languages() {
    let api = Api::new().await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("under 6", with(kim(), "/date_of_birth", json!("2021-01-01")), "not_eligible", "applicant_under_6"),
        (
            "card expired",
            with(kim(), "/residence_card/expires_on", json!("2026-11-26")),
            "not_eligible",
            "residence_card_expired",
        ),
        (
            "card not yet valid",
            with(kim(), "/residence_card/issued_on", json!("2026-12-01")),
            "not_eligible",
            "residence_card_not_yet_valid",
        ),
        (
            "kind neither temporary nor permanent",
            with(kim(), "/residence_card/kind", json!("visa")),
            "invalid_application",
            "residence_kind_invalid",
        ),
        ("phone", with(kim(), "/phone", json!("12345")), "invalid_application", "phone_invalid"),
        ("email", with(kim(), "/email", json!("minjun.kim@")), "invalid_application", "email_invalid"),
        (
            "minor without guardian",
            with(kim(), "/date_of_birth", json!("2016-05-01")),
            "not_eligible",
            "guardian_required",
        ),
        ("missing field", with(kim(), "/passport_number", Value::Null), "invalid_application", "field_missing"),
        ("nationality", with(kim(), "/nationality", json!("VNM")), "invalid_application", "nationality_invalid"),
        ("date", with(kim(), "/date_of_birth", json!("1990-02-30")), "invalid_application", "date_invalid"),
    ];
    for (what, form, error, reason) in cases {
        let mut messages = std::collections::BTreeSet::new();
        for lang in LANGS {
            let (st, v) = api.submit(form.clone(), Some(lang)).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {v}");
            assert_eq!(v["error"], error, "{what}");
            assert!(codes(&v).contains(&reason.to_owned()), "{what}: {v}");
            let msg = v["reasons"].as_array().unwrap().iter().find(|r| r["code"] == reason).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(!msg.starts_with("reason-") && !msg.is_empty(), "{what} in {lang}: {msg}");
            messages.insert(msg);
        }
        assert_eq!(messages.len(), 4, "{what}: not translated into all four languages: {messages:?}");
    }
    // Vietnamese by default.
    let (_, v) = api.submit(with(kim(), "/phone", json!("12345")), None).await;
    let (_, vi) = api.submit(with(kim(), "/phone", json!("12345")), Some("vi")).await;
    assert_eq!(v["reasons"], vi["reasons"]);
}

#[tokio::test]
async fn a_person_holding_an_active_credential_cannot_apply_again() {
    let api = Api::new().await;
    let (st, v) = api.submit(kim(), Some("en")).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // While the first is in progress: a conflict.
    let (st, v) = api.submit(kim(), Some("en")).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("application_exists")));
    // Same card with another passport is the same person too.
    let (st, _) = api.submit(with(kim(), "/passport_number", json!("M99999999")), None).await;
    assert_eq!(st, StatusCode::CONFLICT);
}

#[tokio::test]
async fn deny_by_default() {
    let api = Api::new().await;
    let mutating = [
        "/v1/applications",
        "/v1/applications/00000000000000000000000000000000/biometrics",
        "/v1/applications/00000000000000000000000000000000/national-check",
        "/v1/applications/00000000000000000000000000000000/approve",
        "/v1/applications/00000000000000000000000000000000/reject",
        "/v1/admin/tokens",
        "/v1/admin/keys/rotate",
        "/v1/admin/keys/AAAAAA/revoke",
        "/v1/admin/credentials/x/status",
        "/v1/admin/tokens/x/revoke",
    ];
    for path in mutating {
        let (st, v) = api.call(Method::POST, path, None, Some("en"), json!({})).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert_eq!(v["error"], "unauthorized");
        let (st, _) = api.call(Method::POST, path, Some("vnid_off_not-a-real-token"), None, json!({})).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{path}");
    }
    // Roles: an officer cannot administer, an admin cannot decide applications.
    let (st, _) = api.call(Method::POST, "/v1/admin/keys/rotate", Some(&api.officer), None, Value::Null).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = api.call(Method::POST, "/v1/applications", Some(&api.admin), None, kim()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Reads that carry personal data need a token too.
    let (st, _) = api.call(Method::GET, "/v1/reports/deadlines", None, None, Value::Null).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // An officer of another reception point cannot submit for this one.
    let (st, v) = api
        .call(
            Method::POST,
            "/v1/admin/tokens",
            Some(&api.admin),
            None,
            json!({"role": "officer", "name": "o2", "reception_point": "hcm-q1-police"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let other = v["token"].as_str().unwrap();
    let (st, _) = api.call(Method::POST, "/v1/applications", Some(other), None, kim()).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn workflow_refuses_steps_out_of_order_and_deadlines_are_in_working_days() {
    let api = Api::new().await;
    let (st, v) = api.submit(kim(), None).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    // Friday 27 Nov 2026, biometrics on file: 3 working days → Wednesday 2 Dec.
    assert_eq!(v["due_on"], "2026-12-02");
    assert_eq!(v["state"], "submitted");
    for step in ["approve", "national-check"] {
        let (st, v) = api
            .call(Method::POST, &format!("/v1/applications/{id}/{step}"), Some(&api.officer), Some("en"), json!({}))
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{step}: {v}");
        assert_eq!(v["error"], "application_not_ready");
    }
    // Overdue after the due date passes.
    api.clock.advance(6 * 86_400);
    let (st, v) = api.call(Method::GET, "/v1/reports/deadlines", Some(&api.officer), None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    let overdue = &v["points"][0]["overdue"];
    assert_eq!(overdue[0]["id"], id.as_str(), "{v}");
    let (st, v) = api.call(Method::GET, "/v1/reports/daily-counts", Some(&api.officer), None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["counts"][0]["count"], 1, "{v}");
    assert_eq!(v["counts"][0]["date"], "2026-11-27");
    // Rejection closes it; nothing after that.
    let (st, _) = api
        .call(
            Method::POST,
            &format!("/v1/applications/{id}/reject"),
            Some(&api.officer),
            None,
            json!({"reason": "documents do not match"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = api
        .call(
            Method::POST,
            &format!("/v1/applications/{id}/reject"),
            Some(&api.officer),
            None,
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("application_closed")));
}

/// Every `.route(path, methods)` in the router sources, as (path, methods text).
fn routes() -> Vec<(String, String)> {
    let src = [
        include_str!("../src/http/applications.rs"),
        include_str!("../src/http/admin.rs"),
        include_str!("../src/http/custody.rs"),
        include_str!("../src/http/oid4vci.rs"),
        include_str!("../src/http/public.rs"),
        include_str!("../src/http/ops.rs"),
        include_str!("../src/http/registry.rs"),
    ]
    .concat();
    let mut out = Vec::new();
    for chunk in src.split(".route(").skip(1) {
        let chunk = chunk.trim_start();
        let Some(rest) = chunk.strip_prefix('"') else { continue };
        let path = rest.split('"').next().unwrap().to_owned();
        let methods = rest.split(")\n").next().unwrap_or("").to_owned();
        out.push((path, methods));
    }
    out
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document() {
    let api = Api::new().await;
    let (st, doc) = api.call(Method::GET, "/openapi.json", None, None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    let all = routes();
    assert!(all.len() >= 25, "found only {} routes", all.len());
    for (path, _) in &all {
        assert!(doc["paths"].get(path).is_some(), "{path} is not in openapi.json");
    }
}

/// The OpenAPI document lists every error code the API can answer: its own and enrollment's.
#[tokio::test]
async fn the_openapi_document_lists_every_error_code() {
    let api = Api::new().await;
    let (_, doc) = api.call(Method::GET, "/openapi.json", None, None, Value::Null).await;
    let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let reasons = enrollment::Reason::ALL.iter().map(|r| r.code());
    for code in issuer::i18n::API_CODES.iter().copied().chain(reasons) {
        assert!(listed.contains(&code), "{code} is not listed in openapi.json");
    }
}

/// Deny by default, over every mutating route the router has (not a hand-kept list): without a
/// token, or with a made-up one, each answers 401; the only exceptions are the OpenID4VCI
/// endpoints, which take their own single-use secrets (the Nonce Endpoint is anonymous: a nonce
/// grants nothing by itself).
#[tokio::test]
async fn every_mutating_route_requires_authentication() {
    let api = Api::new().await;
    let mut checked = 0;
    for (path, methods) in routes() {
        if !methods.contains("post(") || ["/token", "/nonce", "/credential"].contains(&path.as_str()) {
            continue;
        }
        let path = path.replace("{id}", "00000000000000000000000000000000").replace("{kid}", "AAAAAA");
        for token in [None, Some("vnid_adm_made-up")] {
            let (st, v) = api.call(Method::POST, &path, token, Some("en"), json!({})).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{path} with {token:?}: {v}");
        }
        checked += 1;
    }
    assert!(checked >= 13, "only {checked} mutating routes found");
    let (st, v) = api.call(Method::POST, "/token", None, None, json!({})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, _) = api.call(Method::POST, "/credential", None, None, json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn guidance_and_deadline_notice_in_four_languages() {
    let api = Api::new().await;
    let mut seen = std::collections::BTreeSet::new();
    for lang in LANGS {
        let (st, v) = api.call(Method::GET, "/v1/guidance", None, Some(lang), Value::Null).await;
        assert_eq!(st, StatusCode::OK);
        let text = v["messages"]["guide-documents"].as_str().unwrap().to_owned();
        assert!(!text.starts_with("guide-") && text.len() > 40, "{lang}: {text}");
        seen.insert(text);
    }
    assert_eq!(seen.len(), 4);
    let (st, v) = api.submit(kim(), Some("en")).await;
    assert_eq!(st, StatusCode::CREATED);
    let notice = v["applicant_notice"].as_str().unwrap();
    assert!(notice.contains("3 working days") && notice.contains("2026"), "{notice}");
}

/// Two officers (or a double click) approving at once: exactly one wins, the other gets a 409,
/// and there is one offer; a renewed offer retires the first code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_yield_one_offer() {
    let api = std::sync::Arc::new(Api::new().await);
    // The demo applicant passes the national check.
    let id = api.submit_with_biometrics(kim()).await;
    let (st, v) = api
        .call(Method::POST, &format!("/v1/applications/{id}/national-check"), Some(&api.officer), None, json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let path = format!("/v1/applications/{id}/approve");
    let (a, b) = {
        let (api1, api2, p1, p2) = (api.clone(), api.clone(), path.clone(), path.clone());
        let t1 = tokio::spawn(async move { api1.call(Method::POST, &p1, Some(&api1.officer), None, json!({})).await });
        let t2 = tokio::spawn(async move { api2.call(Method::POST, &p2, Some(&api2.officer), None, json!({})).await });
        (t1.await.unwrap(), t2.await.unwrap())
    };
    let oks = [&a, &b].iter().filter(|(st, _)| *st == StatusCode::OK).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    let loser = if a.0 == StatusCode::OK { &b } else { &a };
    assert_eq!(loser.0, StatusCode::CONFLICT, "{loser:?}");
    assert!(["step_already_done", "application_changed"].contains(&loser.1["error"].as_str().unwrap()), "{loser:?}");

    // A renewed offer retires the first code.
    let first = if a.0 == StatusCode::OK {
        a.1["offer_uri"].as_str().unwrap().to_owned()
    } else {
        b.1["offer_uri"].as_str().unwrap().to_owned()
    };
    let (st, v) =
        api.call(Method::POST, &format!("/v1/applications/{id}/offer"), Some(&api.officer), None, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let second = v["offer_uri"].as_str().unwrap().to_owned();
    let second_tx = v["tx_code"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let code = |uri: &str| {
        verifier::build::oid4vci::CredentialOffer::from_uri(uri).unwrap().pre_authorized_code().unwrap().to_owned()
    };
    let form = |c: String| {
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={c}")
    };
    let (st, v) = api.form("/token", &form(code(&first))).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{v}");
    let issued = api.redeem(&second, &second_tx).await;
    assert!(issued["credentials"][0]["credential"].is_string());
    // Issued: no more offers.
    let (st, v) =
        api.call(Method::POST, &format!("/v1/applications/{id}/offer"), Some(&api.officer), None, json!({})).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("application_closed")));
}

#[tokio::test]
async fn the_signing_key_cannot_be_revoked_and_reports_stay_within_the_point() {
    let api = Api::new().await;
    let (_, keys) = api.call(Method::GET, "/v1/admin/keys", Some(&api.admin), None, Value::Null).await;
    let active = keys["keys"].as_array().unwrap().iter().find(|k| k["state"] == "active").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, v) =
        api.call(Method::POST, &format!("/v1/admin/keys/{active}/revoke"), Some(&api.admin), None, json!({})).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::CONFLICT, Some("key_transition_refused")), "{v}");
    // Officers see their own point only; admins may ask for any.
    for path in [
        "/v1/reports/deadlines?reception_point=hcm-q1-police",
        "/v1/reports/daily-counts?reception_point=hcm-q1-police",
        "/v1/applications?reception_point=hcm-q1-police",
    ] {
        let (st, _) = api.call(Method::GET, path, Some(&api.officer), None, Value::Null).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        let (st, _) = api.call(Method::GET, path, Some(&api.admin), None, Value::Null).await;
        assert_eq!(st, StatusCode::OK, "{path}");
    }
    // An officer token needs a real reception point id.
    let (st, v) = api
        .call(
            Method::POST,
            "/v1/admin/tokens",
            Some(&api.admin),
            None,
            json!({"role": "officer", "name": "o3", "reception_point": "Hà Nội!"}),
        )
        .await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reception_point_invalid")), "{v}");
    // Request bodies outside the biometric upload are capped.
    let big = json!({"reason": "x".repeat(100_000)});
    let (st, v) = api.call(Method::POST, "/v1/admin/tokens", Some(&api.admin), None, big).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{v}");
}

/// Reads of an applicant's record are audited with who and why; an admin gets it redacted
/// unless they give a reason (audited); a reason with invisible format characters is refused.
#[tokio::test]
async fn reads_are_audited_and_admins_see_records_redacted_without_a_reason() {
    let api = Api::new().await;
    let (st, v) = api.submit(kim(), None).await;
    assert_eq!(st, StatusCode::CREATED);
    let id = v["id"].as_str().unwrap().to_owned();
    let reads = |audit: &Value| -> Vec<(String, String)> {
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["entry"]["action"] == "application.read")
            .map(|e| {
                (e["entry"]["actor"].as_str().unwrap().to_owned(), e["entry"]["detail"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let audit = || api.call(Method::GET, "/v1/admin/audit?limit=1000", Some(&api.admin), None, Value::Null);
    // An officer of the point: the whole record, and the read in the log.
    let (st, v) = api.call(Method::GET, &format!("/v1/applications/{id}"), Some(&api.officer), None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["form"]["passport_number"], "M12345678");
    let (_, log) = audit().await;
    assert_eq!(reads(&log).len(), 1);
    assert_eq!(reads(&log)[0].1, "reason=case-work");
    // An admin without a reason: redacted, and nothing personal was read.
    let (st, v) = api.call(Method::GET, &format!("/v1/applications/{id}"), Some(&api.admin), None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["redacted"], true);
    assert_eq!(v["state"], "submitted");
    for personal in ["form", "biometrics", "national_check", "eid_number", "rejection_note"] {
        assert!(v.get(personal).is_none(), "{personal} in a redacted record: {v}");
    }
    assert!(!v.to_string().contains("M12345678"));
    assert_eq!(reads(&audit().await.1).len(), 1);
    // With a reason: whole, and audited with the reason.
    let path = format!("/v1/applications/{id}?reason=complaint%204711");
    let (st, v) = api.call(Method::GET, &path, Some(&api.admin), None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["form"]["passport_number"], "M12345678");
    let r = reads(&audit().await.1);
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].1, "reason=complaint 4711");
    assert_ne!(r[1].0, r[0].0, "who read it");
    // A reason must be plain text.
    let path = format!("/v1/applications/{id}?reason=x%E2%80%AEy%20z");
    let (st, v) = api.call(Method::GET, &path, Some(&api.admin), Some("en"), Value::Null).await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("format_characters")), "{v}");
    // Lookups are reads too.
    let body = json!({"residence_card_number": "TRC0012345"});
    let (st, _) = api.call(Method::POST, "/v1/applications/lookup", Some(&api.officer), None, body).await;
    assert_eq!(st, StatusCode::OK);
    assert!(reads(&audit().await.1).iter().any(|(_, d)| d == "via=lookup"));
}
