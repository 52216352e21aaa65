//! The officer API for TK01 applications, and the reports on deadlines and daily counts.

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Officer, Staff};
use super::error::{ApiBytes, ApiError, ApiJson, ApiQuery, NoBody};
use super::{lang_of, AppState, IdPath, IdemKey};
use crate::ids::ApplicationId;
use crate::service::enroll::{ApplicationView, Lookup, Offer};
use crate::service::records::Record;

/// Largest biometric upload: a portrait (5 MiB) and ten fingerprints would exceed it only if
/// every file were at its maximum; the per-file limits are checked by the enrollment rules.
pub const MAX_UPLOAD: usize = 12 << 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/applications", post(submit).get(list))
        .route("/v1/applications/lookup", post(lookup))
        .route("/v1/applications/{id}", get(view))
        .route(
            "/v1/applications/{id}/biometrics",
            post(biometrics).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/v1/applications/{id}/national-check", post(national_check))
        .route("/v1/applications/{id}/approve", post(approve))
        .route("/v1/applications/{id}/offer", post(reoffer))
        .route("/v1/applications/{id}/reject", post(reject))
        .route("/v1/reports/deadlines", get(deadlines))
        .route("/v1/reports/daily-counts", get(daily_counts))
}

/// An application as staff see it, in the caller's language.
fn view_json(now: u64, v: &ApplicationView, lang_header: Option<&str>) -> Value {
    let lang = crate::i18n::negotiate(lang_header);
    let rec = &v.record;
    json!({
        "id": v.id,
        "version": v.version,
        "state": v.meta.state,
        "state_message": crate::i18n::message_id(lang, &v.meta.state.message_id()),
        "applicant_notice": crate::i18n::deadline_notice(lang, if rec.biometrics_on_file { 3 } else { 7 }, rec.due_on),
        "submitted_at": rec.workflow.submitted_at().unix_timestamp(),
        "due_on": rec.due_on,
        "biometrics_on_file": rec.biometrics_on_file,
        "reception_point": v.meta.reception_point,
        "form": rec.form,
        "biometrics": rec.biometrics,
        "national_check": rec.national_check,
        "eid_number": rec.eid_number,
        "credential_id": v.meta.credential,
        "rejection_note": rec.rejection_note,
        "history": rec.workflow.history(),
        "overdue": rec.due_on < verifier::Date::from_unix_vn(now) && !v.meta.state.is_closed(),
    })
}

/// An offer as the officer sees it: the URI for the QR code, and the transaction code to hand
/// over (it also went to the applicant's phone and e-mail).
fn offer_json(o: &Offer) -> Value {
    json!({"id": o.id, "state": o.state, "offer_uri": o.offer_uri, "offer_expires_at": o.expires_at,
           "tx_code": o.tx_code.as_str()})
}

async fn submit(
    State(s): State<AppState>,
    Officer(who): Officer,
    key: IdemKey,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = s.service.submit(&who, &body, key.get()).await?;
    Ok((StatusCode::CREATED, Json(view_json(s.service.now(), &v, lang_of(&headers)))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewQuery {
    /// Why the record is read: audited with the read (admins get it redacted without one).
    reason: Option<String>,
}

/// An application: whole for an officer of its reception point (the read is audited), and for
/// an admin who gives a `reason` (audited); redacted for an admin who does not.
async fn view(
    State(s): State<AppState>,
    Staff(who): Staff,
    headers: HeaderMap,
    IdPath(id): IdPath<ApplicationId>,
    ApiQuery(q): ApiQuery<ViewQuery>,
) -> Result<Json<Value>, ApiError> {
    match s.service.read_application(&who, &id, q.reason.as_deref()).await? {
        Record::Full(v) => Ok(Json(view_json(s.service.now(), &v, lang_of(&headers)))),
        Record::Redacted(r) => {
            let lang = crate::i18n::negotiate(lang_of(&headers));
            let today = verifier::Date::from_unix_vn(s.service.now());
            Ok(Json(json!({
                "id": r.id,
                "version": r.version,
                "redacted": true,
                "state": r.meta.state,
                "state_message": crate::i18n::message_id(lang, &r.meta.state.message_id()),
                "submitted_on": r.meta.submitted_on,
                "due_on": r.due_on,
                "biometrics_on_file": r.biometrics_on_file,
                "reception_point": r.meta.reception_point,
                "credential_id": r.meta.credential,
                "history": r.history,
                "overdue": r.due_on < today && !r.meta.state.is_closed(),
            })))
        }
    }
}

async fn biometrics(
    State(s): State<AppState>,
    Officer(who): Officer,
    IdPath(id): IdPath<ApplicationId>,
    key: IdemKey,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    // Not multipart at all: 415; a multipart body that breaks off or does not parse: 400
    // `invalid_multipart`; past the upload limit: 413.
    let mut multipart =
        multipart.map_err(|_| ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"))?;
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        } else {
            ApiError::bad_request("invalid_multipart")
        }
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name.ends_with("_quality") {
            fields.push((name, field.text().await.map_err(broken)?));
        } else {
            if files.len() >= 11 {
                return Err(ApiError::unprocessable("biometric_type_invalid"));
            }
            let bytes = field.bytes().await.map_err(broken)?;
            files.push((name, bytes.to_vec()));
        }
    }
    let v = s.service.capture_biometrics(&who, &id, &files, &fields, key.get()).await?;
    Ok(Json(json!({"id": v.id, "state": v.meta.state, "biometrics": v.record.biometrics})))
}

async fn national_check(
    State(s): State<AppState>,
    Officer(who): Officer,
    IdPath(id): IdPath<ApplicationId>,
    key: IdemKey,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    let v = s.service.national_check(&who, &id, key.get()).await?;
    Ok(Json(json!({"id": v.id, "state": v.meta.state, "national_check": v.record.national_check})))
}

/// The response carries a secret (the transaction code): never cached.
type NoStore = ([(axum::http::HeaderName, &'static str); 1], Json<Value>);

async fn approve(
    State(s): State<AppState>,
    Officer(who): Officer,
    IdPath(id): IdPath<ApplicationId>,
    key: IdemKey,
    _: NoBody,
) -> Result<NoStore, ApiError> {
    let offer = s.service.approve(&who, &id, key.get()).await?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(offer_json(&offer))))
}

/// A new credential offer for an approved application whose offer expired or was lost (the
/// earlier code, and access tokens obtained with it, stop working).
async fn reoffer(
    State(s): State<AppState>,
    Officer(who): Officer,
    IdPath(id): IdPath<ApplicationId>,
    key: IdemKey,
    _: NoBody,
) -> Result<NoStore, ApiError> {
    let offer = s.service.renew_offer(&who, &id, key.get()).await?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(offer_json(&offer))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

async fn reject(
    State(s): State<AppState>,
    Officer(who): Officer,
    IdPath(id): IdPath<ApplicationId>,
    key: IdemKey,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<Value>, ApiError> {
    let v = s.service.reject(&who, &id, &body.reason, key.get()).await?;
    Ok(Json(json!({"id": v.id, "state": v.meta.state})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupBody {
    nationality: Option<String>,
    passport_number: Option<String>,
    residence_card_number: Option<String>,
}

/// Finds a person's latest application (POST, so the passport or card number stays out of
/// URLs and logs).
async fn lookup(
    State(s): State<AppState>,
    Officer(who): Officer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LookupBody>,
) -> Result<Json<Value>, ApiError> {
    let by = match body {
        LookupBody { residence_card_number: Some(number), passport_number: None, .. } => Lookup::Card { number },
        LookupBody { nationality: Some(nationality), passport_number: Some(number), residence_card_number: None } => {
            Lookup::Passport { nationality, number }
        }
        _ => return Err(ApiError::bad_request("invalid_request")),
    };
    let v = s.service.lookup_audited(&who, &by).await?;
    Ok(Json(view_json(s.service.now(), &v, lang_of(&headers))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    reception_point: Option<String>,
}

/// The applications of a reception point (an officer sees only their own), from the clear
/// summaries: id, state, dates.
async fn list(
    State(s): State<AppState>,
    Staff(who): Staff,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let today = verifier::Date::from_unix_vn(s.service.now());
    let apps: Vec<Value> = s
        .service
        .applications(&who, q.reception_point)
        .await?
        .into_iter()
        .map(|(id, m)| {
            json!({"id": id, "state": m.state, "reception_point": m.reception_point, "submitted_on": m.submitted_on,
                   "due_on": m.due_on, "overdue": m.due_on < today && !m.state.is_closed()})
        })
        .collect();
    Ok(Json(json!({ "applications": apps })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineQuery {
    reception_point: Option<String>,
    soon_days: Option<u32>,
}

/// Overdue and due-soon applications per reception point.
async fn deadlines(
    State(s): State<AppState>,
    Staff(who): Staff,
    ApiQuery(q): ApiQuery<DeadlineQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(s.service.deadlines(&who, q.reception_point, q.soon_days.unwrap_or(1)).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountQuery {
    reception_point: Option<String>,
    from: Option<verifier::Date>,
    to: Option<verifier::Date>,
}

/// Submissions per reception point per day.
async fn daily_counts(
    State(s): State<AppState>,
    Staff(who): Staff,
    ApiQuery(q): ApiQuery<CountQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(s.service.daily_counts(&who, q.reception_point, q.from, q.to).await?))
}
