//! The HTTP API driven in-process with `app().oneshot(request)`: a real sled folder, the real
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

#[tokio::test]
async fn every_route_is_in_the_openapi_document() {
    let api = Api::new().await;
    let (st, doc) = api.call(Method::GET, "/openapi.json", None, None, Value::Null).await;
    assert_eq!(st, StatusCode::OK);
    let src = include_str!("../src/routes/applications.rs").to_owned()
        + include_str!("../src/routes/admin.rs")
        + include_str!("../src/routes/oid4vci.rs")
        + include_str!("../src/routes/public.rs");
    let mut n = 0;
    for line in src.lines() {
        if let Some(rest) = line.trim().strip_prefix(".route(\"") {
            let path = rest.split('"').next().unwrap();
            assert!(doc["paths"].get(path).is_some(), "{path} is not in openapi.json");
            n += 1;
        }
    }
    assert!(n >= 20, "found only {n} routes");
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
