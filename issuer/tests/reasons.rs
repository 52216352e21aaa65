//! Every enrollment reason code, reached through the HTTP API the way an officer would meet it,
//! in all four languages: the form checks, eligibility, the national-data check, biometrics and
//! the workflow. The last assertion fails if a reason code exists that no case reaches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::{fingerprint, kim, portrait, with, Api, LANGS};
use serde_json::{json, Value};

/// (what, files, fields, expected reason)
type BioCase = (&'static str, Vec<(&'static str, Vec<u8>)>, Vec<(&'static str, &'static str)>, &'static str);

/// Codes no request can provoke: the clock only moves forward and actors come from tokens.
const INTERNAL_ONLY: [&str; 2] = ["event_time_invalid", "actor_invalid"];

/// Checks `reason` is among the response's reasons (or its error), with a distinct, real message
/// in each language; records it as seen.
fn check(seen: &mut BTreeSet<String>, what: &str, per_lang: &[(StatusCode, Value)], status: StatusCode, reason: &str) {
    let mut messages = BTreeSet::new();
    for (lang, (st, v)) in LANGS.iter().zip(per_lang) {
        assert_eq!(*st, status, "{what} ({lang}): {v}");
        let entry = v["reasons"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["code"] == reason).cloned())
            .or_else(|| (v["error"] == reason).then(|| v.clone()))
            .unwrap_or_else(|| panic!("{what} ({lang}): no {reason} in {v}"));
        let msg = entry["message"].as_str().unwrap().to_owned();
        assert!(!msg.is_empty() && !msg.starts_with("reason-") && !msg.starts_with("api-"), "{what} ({lang}): {msg}");
        messages.insert(msg);
    }
    assert_eq!(messages.len(), LANGS.len(), "{what}: {reason} is not translated into every language: {messages:?}");
    seen.insert(reason.to_owned());
}

async fn each_lang<F, Fut>(f: F) -> Vec<(StatusCode, Value)>
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let mut out = Vec::new();
    for lang in LANGS {
        out.push(f(lang).await);
    }
    out
}

fn minor() -> Value {
    let f = with(kim(), "/date_of_birth", json!("2016-08-09"));
    with(f, "/guardian", json!({"full_name": "Kim Ji-hoon", "id_number": "M87654321", "relationship": "parent"}))
}

#[tokio::test]
async fn every_reason_code_through_http_in_four_languages() {
    // The sample registry plus one person whose card the registry marks expired.
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry.jsonl");
    let mut text = std::fs::read_to_string(common::registry()).unwrap();
    text.push_str(r#"{"full_name":"Ana Souza","date_of_birth":"1988-03-03","sex":"F","nationality":"BRA","passport_number":"FZ1234567","residence_card":{"number":"TRC0099999","kind":"temporary","issued_on":"2025-01-01","expires_on":"2027-12-31","status":"expired"},"biometrics_on_file":false}"#);
    text.push('\n');
    std::fs::write(&reg, text).unwrap();
    let api = Api::with_registry(reg).await;
    let mut seen = BTreeSet::new();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    // The form, field by field.
    let form_cases: Vec<(&str, Value, &str)> = vec![
        ("missing field", with(kim(), "/email", Value::Null), "field_missing"),
        ("unknown field", with(kim(), "/favourite_colour", json!("blue")), "field_unknown"),
        ("wrong type", with(kim(), "/phone", json!(912345678)), "field_type_invalid"),
        ("name", with(kim(), "/full_name_latin", json!("KIM 123")), "name_invalid"),
        ("sex", with(kim(), "/sex", json!("male")), "sex_invalid"),
        ("date", with(kim(), "/date_of_birth", json!("12/04/1990")), "date_invalid"),
        ("nationality", with(kim(), "/nationality", json!("ZZZ")), "nationality_invalid"),
        ("passport", with(kim(), "/passport_number", json!("M1")), "passport_number_invalid"),
        ("card number", with(kim(), "/residence_card/number", json!("T#1")), "card_number_invalid"),
        ("card kind", with(kim(), "/residence_card/kind", json!("visa")), "residence_kind_invalid"),
        ("address", with(kim(), "/address", json!("x".repeat(301))), "address_invalid"),
        ("phone", with(kim(), "/phone", json!("+1 202 555 0100")), "phone_invalid"),
        ("email", with(kim(), "/email", json!("no-at-sign")), "email_invalid"),
        ("reception point", with(kim(), "/reception_point", json!("Ba Đình #1")), "reception_point_invalid"),
        ("guardian id", with(minor(), "/guardian/id_number", json!("#1")), "guardian_id_invalid"),
        ("relationship", with(minor(), "/guardian/relationship", json!("neighbour")), "relationship_invalid"),
        ("right-to-left override", with(kim(), "/address", json!("Số 12 \u{202E}iaiG uệiL")), "format_characters"),
    ];
    for (what, form, reason) in form_cases {
        let r = each_lang(|lang| api.submit(form.clone(), Some(lang))).await;
        check(&mut seen, what, &r, unprocessable, reason);
    }
    // A body that is not JSON at all.
    let r = each_lang(|lang| api.call_raw(Method::POST, "/v1/applications", lang, "{\"full_name\": ")).await;
    check(&mut seen, "not JSON", &r, unprocessable, "json_invalid");

    // Eligibility.
    let elig: Vec<(&str, Value, &str)> = vec![
        ("under 6", with(kim(), "/date_of_birth", json!("2021-01-01")), "applicant_under_6"),
        ("minor without guardian", with(kim(), "/date_of_birth", json!("2016-08-09")), "guardian_required"),
        ("card expired", with(kim(), "/residence_card/expires_on", json!("2026-11-26")), "residence_card_expired"),
        (
            "card not yet valid",
            with(kim(), "/residence_card/issued_on", json!("2026-12-01")),
            "residence_card_not_yet_valid",
        ),
    ];
    for (what, form, reason) in elig {
        let r = each_lang(|lang| api.submit(form.clone(), Some(lang))).await;
        check(&mut seen, what, &r, unprocessable, reason);
    }

    // The national-data check: each mismatch on its own application, rejected afterwards so the
    // next one for the same person may be submitted.
    let registry_cases: Vec<(&str, Value, &str)> = vec![
        ("name", with(kim(), "/full_name_latin", json!("KIM MIN SU")), "name_mismatch"),
        ("date of birth", with(kim(), "/date_of_birth", json!("1990-04-13")), "date_of_birth_mismatch"),
        ("nationality", with(kim(), "/nationality", json!("JPN")), "nationality_mismatch"),
        ("passport", with(kim(), "/passport_number", json!("M00000001")), "passport_mismatch"),
        ("card kind", with(kim(), "/residence_card/kind", json!("permanent")), "card_kind_mismatch"),
        ("card unknown", with(kim(), "/residence_card/number", json!("TRC7777777")), "card_not_found"),
        (
            "person unknown",
            with(with(kim(), "/residence_card/number", json!("TRC8888888")), "/passport_number", json!("X11111111")),
            "person_not_found",
        ),
        (
            "card revoked",
            json!({"full_name": "Élodie Lefèvre", "sex": "F", "date_of_birth": "1995-05-30", "nationality": "FRA",
                   "passport_number": "18AB12345", "residence_card": {"number": "TRC0056789", "kind": "temporary",
                   "issued_on": "2025-02-01", "expires_on": "2027-01-31"}, "address": "12 Phố Huế, Hà Nội",
                   "phone": "0987654321", "email": "elodie@example.fr", "reception_point": "hn-ba-dinh-police"}),
            "card_revoked",
        ),
        (
            "card expired in the registry",
            json!({"full_name": "Ana Souza", "sex": "F", "date_of_birth": "1988-03-03", "nationality": "BRA",
                   "passport_number": "FZ1234567", "residence_card": {"number": "TRC0099999", "kind": "temporary",
                   "issued_on": "2025-01-01", "expires_on": "2027-12-31"}, "address": "5 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
                   "phone": "0901234567", "email": "ana@example.br", "reception_point": "hn-ba-dinh-police"}),
            "card_expired",
        ),
    ];
    let mut rejected = String::new();
    for (what, form, reason) in registry_cases {
        let id = api.submit_with_biometrics(form).await;
        let path = format!("/v1/applications/{id}/national-check");
        let r = each_lang(|lang| api.call(Method::POST, &path, Some(&api.officer), Some(lang), json!({}))).await;
        check(&mut seen, what, &r, unprocessable, reason);
        let (st, v) = api
            .call(
                Method::POST,
                &format!("/v1/applications/{id}/reject"),
                Some(&api.officer),
                None,
                json!({"reason": "registry mismatch"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        rejected = id;
    }

    // Biometrics.
    let id = {
        let (st, v) = api.submit(kim(), None).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    };
    let bio = format!("/v1/applications/{id}/biometrics");
    let big = {
        let mut b = portrait();
        b.resize(5 * 1024 * 1024 + 1, 7);
        b
    };
    let mut bad_type = portrait();
    bad_type[0] = b'G';
    let q = |n: &'static str| (n, "80");
    let bio_cases: Vec<BioCase> = vec![
        (
            "type",
            vec![("portrait", bad_type), ("fingerprint_2", fingerprint())],
            vec![q("portrait_quality"), q("fingerprint_2_quality")],
            "biometric_type_invalid",
        ),
        (
            "too large",
            vec![("portrait", big), ("fingerprint_2", fingerprint())],
            vec![q("portrait_quality"), q("fingerprint_2_quality")],
            "biometric_too_large",
        ),
        (
            "too small",
            vec![("portrait", portrait()[..1000].to_vec()), ("fingerprint_2", fingerprint())],
            vec![q("portrait_quality"), q("fingerprint_2_quality")],
            "biometric_too_small",
        ),
        (
            "quality",
            vec![("portrait", portrait()), ("fingerprint_2", fingerprint())],
            vec![("portrait_quality", "150"), q("fingerprint_2_quality")],
            "biometric_quality_invalid",
        ),
        (
            "position",
            vec![("portrait", portrait()), ("fingerprint_11", fingerprint())],
            vec![q("portrait_quality"), q("fingerprint_11_quality")],
            "fingerprint_position_invalid",
        ),
        (
            "duplicate",
            vec![("portrait", portrait()), ("fingerprint_2", fingerprint()), ("fingerprint_2", fingerprint())],
            vec![q("portrait_quality"), q("fingerprint_2_quality")],
            "fingerprint_position_duplicate",
        ),
        ("no fingerprints", vec![("portrait", portrait())], vec![q("portrait_quality")], "fingerprints_missing"),
    ];
    for (what, files, fields, reason) in bio_cases {
        let r = each_lang(|lang| api.multipart(&bio, Some(lang), &files, &fields)).await;
        check(&mut seen, what, &r, unprocessable, reason);
    }

    // The workflow.
    let approve = format!("/v1/applications/{id}/approve");
    let national = format!("/v1/applications/{id}/national-check");
    let approve_rejected = format!("/v1/applications/{rejected}/approve");
    let r = each_lang(|lang| api.call(Method::POST, &approve, Some(&api.officer), Some(lang), json!({}))).await;
    check(&mut seen, "approve too early", &r, StatusCode::CONFLICT, "application_not_ready");
    let (st, v) = api
        .multipart(
            &bio,
            None,
            &[("portrait", portrait()), ("fingerprint_2", fingerprint())],
            &[q("portrait_quality"), q("fingerprint_2_quality")],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = api
        .call(Method::POST, &format!("/v1/applications/{id}/national-check"), Some(&api.officer), None, json!({}))
        .await;
    assert_eq!((st, v["state"].as_str()), (StatusCode::OK, Some("data_checked")), "{v}");
    let r = each_lang(|lang| api.call(Method::POST, &national, Some(&api.officer), Some(lang), json!({}))).await;
    check(&mut seen, "check twice", &r, StatusCode::CONFLICT, "application_not_ready");
    let (st, approved) =
        api.call(Method::POST, &format!("/v1/applications/{id}/approve"), Some(&api.officer), None, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let offer = approved["offer_uri"].as_str().unwrap().to_owned();
    let tx_code = approved["tx_code"].as_str().unwrap().to_owned();
    let r = each_lang(|lang| api.call(Method::POST, &approve, Some(&api.officer), Some(lang), json!({}))).await;
    check(&mut seen, "approve twice", &r, StatusCode::CONFLICT, "step_already_done");
    let r =
        each_lang(|lang| api.call(Method::POST, &approve_rejected, Some(&api.officer), Some(lang), json!({}))).await;
    check(&mut seen, "approve after reject", &r, StatusCode::CONFLICT, "application_closed");

    // One credential per person: after issuance, the same person is refused.
    api.redeem(&offer, &tx_code).await;
    let r = each_lang(|lang| api.submit(kim(), Some(lang))).await;
    check(&mut seen, "already holds", &r, unprocessable, "already_holds_credential");

    let all: BTreeSet<String> = enrollment::Reason::ALL.iter().map(|r| r.code().to_owned()).collect();
    let missing: Vec<_> = all.iter().filter(|c| !seen.contains(*c) && !INTERNAL_ONLY.contains(&c.as_str())).collect();
    assert!(missing.is_empty(), "reason codes no HTTP case reaches: {missing:?}");
}
