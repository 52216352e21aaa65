//! The officer API for TK01 applications, and the reports on deadlines and daily counts.
//!
//! Workflow: submitted → biometrics captured → data checked → approved or rejected → issued.
//! Every step is an authenticated officer's, recorded with who and when, and refused when the
//! application is not ready for it. Records are sealed at rest; a clear, non-personal summary
//! (`app_meta`: reception point, state, dates) serves the reports; biometrics are sealed apart.

use std::sync::atomic::Ordering;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sled::transaction::ConflictableTransactionError;

use crate::auth::{hash_secret, new_id, new_secret, Officer, Principal, Staff};
use crate::error::{ApiError, ApiJson};
use crate::issue::{self, Batch};
use crate::routes::enroll as rules;
use crate::store::{abort, from_json, to_json, AuditEntry, Store, StoreError};
use crate::AppState;

/// Largest request body: a portrait (5 MiB) and ten fingerprints would exceed it only if every
/// file were at its maximum; the per-file limits are checked by the enrollment rules.
pub const MAX_UPLOAD: usize = 12 << 20;
/// How long a credential offer stays redeemable.
pub const OFFER_TTL: u64 = 7 * 86_400;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/applications", post(submit).get(list))
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

/// The sealed application record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub id: String,
    pub form: rules::Form,
    pub state: rules::State,
    pub history: Vec<rules::History>,
    pub submitted_at: u64,
    pub due_on: verifier::Date,
    pub biometrics_on_file: bool,
    #[serde(default)]
    pub biometrics: Vec<rules::BiometricSummary>,
    #[serde(default)]
    pub national_check: Option<Value>,
    #[serde(default)]
    pub eid_number: Option<String>,
    #[serde(default)]
    pub credential_id: Option<String>,
    /// Hex SHA-256 of the current pre-authorized code, so a renewed offer can retire it.
    #[serde(default)]
    pub offer_code_hash: Option<String>,
}

/// The clear summary: no personal data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppMeta {
    pub reception_point: String,
    pub state: rules::State,
    pub submitted_on: verifier::Date,
    pub due_on: verifier::Date,
}

/// An issued credential batch (one status index for all its forms).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub id: String,
    pub application: String,
    pub kid: String,
    pub issued_at: u64,
    pub expires_at: u64,
    pub status_list: u32,
    pub status_idx: u64,
}

pub fn status_key(list: u32, idx: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&list.to_be_bytes());
    k[4..].copy_from_slice(&idx.to_be_bytes());
    k
}

fn aad(id: &str) -> Vec<u8> {
    format!("application:{id}").into_bytes()
}

fn seal_record(s: &AppState, rec: &ApplicationRecord) -> Vec<u8> {
    s.sealer.seal(&aad(&rec.id), &to_json(rec))
}

fn meta_of(rec: &ApplicationRecord) -> AppMeta {
    AppMeta {
        reception_point: rules::reception_point(&rec.form).to_owned(),
        state: rec.state,
        submitted_on: verifier::Date::from_unix_vn(rec.submitted_at),
        due_on: rec.due_on,
    }
}

fn load(s: &AppState, id: &str) -> Result<ApplicationRecord, ApiError> {
    load_versioned(s, id).map(|(rec, _)| rec)
}

/// The record and its sealed bytes as read. Every seal has a fresh nonce, so the sealed bytes
/// change with every write: a transaction that finds other bytes than these knows the record
/// changed since it was read (optimistic concurrency; see [`unchanged`]).
fn load_versioned(s: &AppState, id: &str) -> Result<(ApplicationRecord, Vec<u8>), ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found());
    }
    let sealed = s.store.t.apps.get(id.as_bytes()).map_err(StoreError::from)?.ok_or_else(ApiError::not_found)?;
    let plain = s.sealer.open(&aad(id), &sealed).map_err(ApiError::internal)?;
    Ok((from_json(&plain)?, sealed.to_vec()))
}

/// Inside a transaction: aborts with `application_changed` when another request changed the
/// record since it was read, so two officers (or a double click) cannot both move it.
fn unchanged(apps: &sled::transaction::TransactionalTree, id: &str, read: &[u8]) -> crate::store::TxResult<()> {
    match apps.get(id.as_bytes())? {
        Some(now) if now.as_ref() == read => Ok(()),
        _ => abort(StoreError::Conflict("application_changed")),
    }
}

fn conflict_or(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(c) => ApiError::conflict(c),
        e => ApiError::from(e),
    }
}

/// Whether the credential issued for an application still counts: not expired, not revoked
/// (a suspended credential still counts: the person holds it).
fn credential_active(s: &AppState, app_id: &str, now: u64) -> Result<bool, ApiError> {
    let rec = load(s, app_id)?;
    let Some(cred_id) = rec.credential_id else { return Ok(false) };
    let Some(cred) = Store::get_json::<CredentialRecord>(&s.store.t.credentials, cred_id.as_bytes())? else {
        return Ok(false);
    };
    let status = s.store.t.status.get(status_key(cred.status_list, cred.status_idx)).map_err(StoreError::from)?;
    let revoked = status.and_then(|v| v.first().copied()) == Some(verifier::build::statuslist::INVALID);
    Ok(!revoked && cred.expires_at >= now)
}

/// The record an officer is about to change: it must be of their reception point.
fn load_for(s: &AppState, officer: &Principal, id: &str) -> Result<(ApplicationRecord, Vec<u8>), ApiError> {
    let (rec, read) = load_versioned(s, id)?;
    check_point(officer, &rec)?;
    Ok((rec, read))
}

/// Officers work the applications of their own reception point.
fn check_point(officer: &Principal, rec: &ApplicationRecord) -> Result<(), ApiError> {
    if officer.reception_point.as_deref() != Some(rules::reception_point(&rec.form)) {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

/// Writes a changed record, its summary and an audit entry in one transaction, then flushes.
async fn save(s: &AppState, rec: &ApplicationRecord, read: &[u8], entry: AuditEntry) -> Result<(), ApiError> {
    let sealed = seal_record(s, rec);
    let meta = to_json(&meta_of(rec));
    let audit_id = s.store.next_id()?;
    let t = &s.store.t;
    s.store
        .transact([&t.apps, &t.app_meta, &t.audit], |tx| {
            unchanged(&tx[0], &rec.id, read)?;
            tx[0].insert(rec.id.as_bytes(), sealed.clone())?;
            tx[1].insert(rec.id.as_bytes(), meta.clone())?;
            Store::audit_tx(&tx[2], audit_id, &entry)
        })
        .map_err(conflict_or)?;
    s.store.durable().await?;
    Ok(())
}

fn transition(
    rec: &mut ApplicationRecord,
    to: rules::Step,
    who: &Principal,
    now: u64,
    note: Option<String>,
) -> Result<(), ApiError> {
    let (state, entry) = rules::transition(rec.state, to, &who.id, now, note).map_err(ApiError::conflict)?;
    rec.state = state;
    rec.history.push(entry);
    Ok(())
}

fn view_json(s: &AppState, rec: &ApplicationRecord, lang_header: Option<&str>) -> Value {
    let lang = crate::i18n::negotiate(lang_header);
    json!({
        "id": rec.id,
        "state": rec.state,
        "state_message": crate::i18n::message_id(lang, &rules::state_message_id(rec.state)),
        "applicant_notice": crate::i18n::deadline_notice(lang, if rec.biometrics_on_file { 3 } else { 7 }, rec.due_on),
        "submitted_at": rec.submitted_at,
        "due_on": rec.due_on,
        "biometrics_on_file": rec.biometrics_on_file,
        "reception_point": rules::reception_point(&rec.form),
        "form": rec.form,
        "biometrics": rec.biometrics,
        "national_check": rec.national_check,
        "eid_number": rec.eid_number,
        "credential_id": rec.credential_id,
        "history": rec.history,
        "overdue": rec.due_on < verifier::Date::from_unix_vn(s.clock.now()) && !rules::is_closed(rec.state),
    })
}

fn lang_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

async fn submit(
    State(s): State<AppState>,
    Officer(who): Officer,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let form = rules::parse_form(&body)
        .map_err(|reasons| ApiError::unprocessable("invalid_application").with_reasons(reasons))?;
    if who.reception_point.as_deref() != Some(rules::reception_point(&form)) {
        return Err(ApiError::forbidden().arg("field", "reception_point"));
    }
    let now = s.clock.now();
    let today = verifier::Date::from_unix_vn(now);

    // Same person: same passport and nationality, or same residence card.
    let keys: Vec<[u8; 32]> = rules::identity_keys(&form).iter().map(|(d, v)| s.sealer.blind_index(d, v)).collect();
    let mut holds_active = false;
    for k in &keys {
        if let Some(other) = s.store.t.app_index.get(k).map_err(StoreError::from)? {
            if let Some(meta) = Store::get_json::<AppMeta>(&s.store.t.app_meta, &other)? {
                if meta.state == rules::ISSUED {
                    holds_active |= credential_active(&s, &String::from_utf8_lossy(&other), now)?;
                } else if !rules::is_closed(meta.state) {
                    return Err(ApiError::conflict("application_exists"));
                }
            }
        }
    }
    rules::eligibility(&form, today, holds_active)
        .map_err(|reasons| ApiError::unprocessable("not_eligible").with_reasons(reasons))?;

    let on_file = rules::biometrics_on_file(s.registry.as_ref(), &form, today);
    let due_on = rules::due_date(today, on_file, &s.holidays);
    let id = new_id();
    let rec = ApplicationRecord {
        id: id.clone(),
        state: rules::SUBMITTED,
        history: vec![rules::submitted_entry(&who.id, now)],
        form,
        submitted_at: now,
        due_on,
        biometrics_on_file: on_file,
        biometrics: Vec::new(),
        national_check: None,
        eid_number: None,
        credential_id: None,
        offer_code_hash: None,
    };
    let sealed = seal_record(&s, &rec);
    let meta = to_json(&meta_of(&rec));
    let audit_id = s.store.next_id()?;
    let entry = AuditEntry::new(now, &who.id, "application.submitted", &id, None);
    let t = &s.store.t;
    s.store
        .transact([&t.apps, &t.app_meta, &t.app_index, &t.audit], |tx| {
            for k in &keys {
                // A concurrent submission for the same person loses here.
                if let Some(other) = tx[2].get(k)? {
                    if other.as_ref() != id.as_bytes() {
                        if let Some(m) = tx[1].get(&other)? {
                            let m: AppMeta = from_json(&m).map_err(ConflictableTransactionError::Abort)?;
                            if !rules::is_closed(m.state) {
                                return abort(StoreError::Conflict("application_exists"));
                            }
                        }
                    }
                }
                tx[2].insert(&k[..], id.as_bytes())?;
            }
            tx[0].insert(id.as_bytes(), sealed.clone())?;
            tx[1].insert(id.as_bytes(), meta.clone())?;
            Store::audit_tx(&tx[3], audit_id, &entry)
        })
        .map_err(|e| match e {
            StoreError::Conflict(c) => ApiError::conflict(c),
            e => ApiError::from(e),
        })?;
    s.store.durable().await?;
    Ok((StatusCode::CREATED, Json(view_json(&s, &rec, lang_of(&headers)))))
}

async fn view(
    State(s): State<AppState>,
    Staff(who): Staff,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rec = load(&s, &id)?;
    if who.role == crate::auth::Role::Officer {
        check_point(&who, &rec)?;
    }
    Ok(Json(view_json(&s, &rec, lang_of(&headers))))
}

async fn biometrics(
    State(s): State<AppState>,
    Officer(who): Officer,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Result<Json<Value>, ApiError> {
    let (mut rec, read) = load_for(&s, &who, &id)?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| ApiError::bad_request("invalid_request"))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name.ends_with("_quality") {
            fields.push((name, field.text().await.map_err(|_| ApiError::bad_request("invalid_request"))?));
        } else {
            if files.len() >= 11 {
                return Err(ApiError::unprocessable("biometric_type_invalid"));
            }
            let bytes = field.bytes().await.map_err(|_| ApiError::unprocessable("biometric_too_large"))?;
            files.push((name, bytes.to_vec()));
        }
    }
    let captured = rules::check_biometrics(&files, &fields)
        .map_err(|reasons| ApiError::unprocessable("invalid_biometrics").with_reasons(reasons))?;
    let now = s.clock.now();
    transition(&mut rec, rules::Step::CaptureBiometrics, &who, now, None)?;
    rec.biometrics = captured.iter().map(|c| c.summary.clone()).collect();

    let sealed_files: Vec<(Vec<u8>, Vec<u8>)> = captured
        .iter()
        .map(|c| {
            let key = format!("{id}/{}", c.slot).into_bytes();
            let sealed = s.sealer.seal(&key, &c.bytes);
            (key, sealed)
        })
        .collect();
    let sealed = seal_record(&s, &rec);
    let meta = to_json(&meta_of(&rec));
    let audit_id = s.store.next_id()?;
    let entry = AuditEntry::new(
        now,
        &who.id,
        "application.biometrics_captured",
        &id,
        Some(format!("files={}", captured.len())),
    );
    let t = &s.store.t;
    // Re-capture replaces the earlier set. (Scanned before the transaction, which cannot
    // iterate; the record's version check inside it makes a concurrent upload lose.)
    let old: Vec<sled::IVec> = t
        .biometrics
        .scan_prefix(format!("{id}/").as_bytes())
        .keys()
        .collect::<Result<_, _>>()
        .map_err(StoreError::from)?;
    s.store
        .transact([&t.apps, &t.app_meta, &t.biometrics, &t.audit], |tx| {
            unchanged(&tx[0], &id, &read)?;
            for k in &old {
                tx[2].remove(k)?;
            }
            for (k, v) in &sealed_files {
                tx[2].insert(k.as_slice(), v.as_slice())?;
            }
            tx[0].insert(id.as_bytes(), sealed.clone())?;
            tx[1].insert(id.as_bytes(), meta.clone())?;
            Store::audit_tx(&tx[3], audit_id, &entry)
        })
        .map_err(conflict_or)?;
    s.store.durable().await?;
    Ok(Json(json!({"id": id, "state": rec.state, "biometrics": rec.biometrics})))
}

async fn national_check(
    State(s): State<AppState>,
    Officer(who): Officer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut rec, read) = load_for(&s, &who, &id)?;
    if rec.state != rules::BIOMETRICS_CAPTURED {
        return Err(ApiError::conflict("application_not_ready"));
    }
    let now = s.clock.now();
    let outcome = rules::national_check(s.registry.as_ref(), &rec.form, verifier::Date::from_unix_vn(now));
    rec.national_check = Some(outcome.summary.clone());
    if rec.biometrics_on_file != outcome.biometrics_on_file {
        // The registry knows better than the first look at submission: 3 or 7 working days.
        rec.biometrics_on_file = outcome.biometrics_on_file;
        rec.due_on =
            rules::due_date(verifier::Date::from_unix_vn(rec.submitted_at), rec.biometrics_on_file, &s.holidays);
    }
    if outcome.reasons.is_empty() {
        transition(&mut rec, rules::Step::CheckData, &who, now, None)?;
        save(&s, &rec, &read, AuditEntry::new(now, &who.id, "application.data_checked", &id, None)).await?;
        Ok(Json(json!({"id": id, "state": rec.state, "national_check": rec.national_check})))
    } else {
        let codes = outcome.reasons.iter().map(|r| r.code).collect::<Vec<_>>().join(",");
        save(&s, &rec, &read, AuditEntry::new(now, &who.id, "application.data_check_failed", &id, Some(codes))).await?;
        Err(ApiError::unprocessable("national_check_failed").with_reasons(outcome.reasons))
    }
}

/// A 12-digit personal identification number for the e-ID account, random (not derived from
/// personal data).
fn new_eid_number() -> String {
    let mut b = [0u8; 8];
    OsRng.fill_bytes(&mut b);
    format!("{:012}", u64::from_be_bytes(b) % 1_000_000_000_000)
}

async fn approve(
    State(s): State<AppState>,
    Officer(who): Officer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut rec, read) = load_for(&s, &who, &id)?;
    let now = s.clock.now();
    // The card may have expired since submission.
    rules::eligibility(&rec.form, verifier::Date::from_unix_vn(now), false)
        .map_err(|reasons| ApiError::unprocessable("not_eligible").with_reasons(reasons))?;
    transition(&mut rec, rules::Step::Approve, &who, now, None)?;
    for _draw in 0..8 {
        rec.eid_number = Some(new_eid_number());
        match publish_offer(&s, &mut rec, &read, &who, now, "application.approved", true).await {
            Err(e) if e.reason.code == "eid_collision" => continue,
            other => return other,
        }
    }
    Err(ApiError::internal("no free e-ID number after 8 draws"))
}

/// A new credential offer for an approved application whose offer expired or was lost (the
/// earlier code stops working).
async fn reoffer(
    State(s): State<AppState>,
    Officer(who): Officer,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (mut rec, read) = load_for(&s, &who, &id)?;
    if rec.state != rules::APPROVED {
        let code = if rules::is_closed(rec.state) { "application_closed" } else { "application_not_ready" };
        return Err(ApiError::conflict(code));
    }
    publish_offer(&s, &mut rec, &read, &who, s.clock.now(), "application.offer_renewed", false).await
}

/// Writes a new single-use pre-authorized code (removing the record's previous one) with the
/// record, and on approval claims the e-ID number, all in one transaction.
async fn publish_offer(
    s: &AppState,
    rec: &mut ApplicationRecord,
    read: &[u8],
    who: &Principal,
    now: u64,
    action: &str,
    claim_eid: bool,
) -> Result<Json<Value>, ApiError> {
    let id = rec.id.clone();
    let code = new_secret("pac_");
    let code_hash = hash_secret(&code);
    let previous = rec.offer_code_hash.replace(hex::encode(code_hash)).and_then(|h| hex::decode(h).ok());
    let code_rec = crate::routes::oid4vci::CodeRecord { application: id.clone(), expires_at: now + OFFER_TTL };
    let eid = rec.eid_number.clone().unwrap_or_default();
    let sealed = seal_record(s, rec);
    let meta = to_json(&meta_of(rec));
    let audit_id = s.store.next_id()?;
    let entry = AuditEntry::new(now, &who.id, action, &id, None);
    let t = &s.store.t;
    s.store
        .transact([&t.apps, &t.app_meta, &t.codes, &t.eids, &t.audit], |tx| {
            unchanged(&tx[0], &id, read)?;
            if let Some(prev) = &previous {
                tx[2].remove(prev.as_slice())?;
            }
            if claim_eid {
                if tx[3].get(eid.as_bytes())?.is_some() {
                    return abort(StoreError::Conflict("eid_collision"));
                }
                tx[3].insert(eid.as_bytes(), id.as_bytes())?;
            }
            tx[0].insert(id.as_bytes(), sealed.clone())?;
            tx[1].insert(id.as_bytes(), meta.clone())?;
            tx[2].insert(&code_hash, to_json(&code_rec))?;
            Store::audit_tx(&tx[4], audit_id, &entry)
        })
        .map_err(conflict_or)?;
    s.store.durable().await?;
    let offer = verifier::build::oid4vci::CredentialOffer::pre_authorized(s.custody.issuer_url(), &code);
    Ok(Json(json!({
        "id": id,
        "state": rec.state,
        "offer_uri": offer.to_uri(),
        "offer_expires_at": now + OFFER_TTL,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

async fn reject(
    State(s): State<AppState>,
    Officer(who): Officer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<Value>, ApiError> {
    let (mut rec, read) = load_for(&s, &who, &id)?;
    if body.reason.trim().is_empty() || body.reason.len() > 500 {
        return Err(ApiError::unprocessable("field_invalid").arg("field", "reason"));
    }
    let now = s.clock.now();
    transition(&mut rec, rules::Step::Reject, &who, now, Some(body.reason))?;
    save(&s, &rec, &read, AuditEntry::new(now, &who.id, "application.rejected", &id, None)).await?;
    Ok(Json(json!({"id": id, "state": rec.state})))
}

/// Called by the credential endpoint: issues the batch for an approved application, consuming
/// the access token, in one transaction.
pub async fn issue_for(
    s: &AppState,
    id: &str,
    holder: &verifier::PublicKey,
    access_hash: &[u8; 32],
    now: u64,
) -> Result<Batch, ApiError> {
    let (mut rec, read) = load_versioned(s, id)?;
    if rec.state != rules::APPROVED {
        return Err(ApiError::bad_request("invalid_grant"));
    }
    let today = verifier::Date::from_unix_vn(now);
    // The card may have expired since approval (the offer lives for days).
    rules::eligibility(&rec.form, today, false)
        .map_err(|reasons| ApiError::unprocessable("not_eligible").with_reasons(reasons))?;
    let claims = rules::person_claims(&rec.form, rec.eid_number.as_deref(), today);
    let list = crate::custody::STATUS_LIST_ID;
    let uri = s.custody.status_uri(list);
    let signer = s.custody.signer_for(now).map_err(ApiError::internal)?;
    let wallet = Principal {
        id: "wallet".into(),
        role: crate::auth::Role::Officer,
        name: "wallet".into(),
        reception_point: None,
    };
    transition(&mut rec, rules::Step::Issue, &wallet, now, None)?;
    let cred_id = new_id();
    rec.credential_id = Some(cred_id.clone());
    for _attempt in 0..8 {
        let idx = OsRng.next_u64() % crate::custody::STATUS_CAPACITY;
        let batch = issue::issue(signer.as_ref(), s.custody.issuer_url(), &claims, holder, (&uri, list, idx), now)
            .map_err(ApiError::internal)?;
        let cred = CredentialRecord {
            id: cred_id.clone(),
            application: id.to_owned(),
            kid: signer.kid().to_string(),
            issued_at: now,
            expires_at: batch.expires_at,
            status_list: list,
            status_idx: idx,
        };
        let sealed = seal_record(s, &rec);
        let meta = to_json(&meta_of(&rec));
        let audit_id = s.store.next_id()?;
        let entry = AuditEntry::new(
            now,
            "wallet",
            "credential.issued",
            &cred_id,
            Some(format!("application={id} kid={}", cred.kid)),
        );
        let t = &s.store.t;
        let r = s.store.transact([&t.apps, &t.app_meta, &t.access, &t.credentials, &t.status, &t.audit], |tx| {
            // One credential per approval, even if two wallets race with two access tokens.
            unchanged(&tx[0], id, &read)?;
            if tx[2].remove(&access_hash[..])?.is_none() {
                return abort(StoreError::Conflict("invalid_token"));
            }
            let key = status_key(list, idx);
            if tx[4].get(key)?.is_some() {
                return abort(StoreError::Conflict("status_collision"));
            }
            tx[4].insert(&key[..], &[verifier::build::statuslist::VALID])?;
            tx[3].insert(cred_id.as_bytes(), to_json(&cred))?;
            tx[0].insert(id.as_bytes(), sealed.clone())?;
            tx[1].insert(id.as_bytes(), meta.clone())?;
            Store::audit_tx(&tx[5], audit_id, &entry)
        });
        match r {
            Ok(()) => {
                s.store.durable().await?;
                s.status_version.fetch_add(1, Ordering::SeqCst);
                return Ok(batch);
            }
            Err(StoreError::Conflict("status_collision")) => continue,
            Err(StoreError::Conflict("application_changed")) => return Err(ApiError::bad_request("invalid_grant")),
            Err(StoreError::Conflict(_)) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token")),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("no free status index after 8 draws"))
}

/// The reception point a staff query may cover: an officer only their own; an admin any (or all).
fn own_point(who: &Principal, asked: Option<String>) -> Result<Option<String>, ApiError> {
    match (&who.reception_point, asked) {
        (Some(own), Some(asked)) if *own != asked => Err(ApiError::forbidden()),
        (Some(own), _) => Ok(Some(own.clone())),
        (None, asked) => Ok(asked),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    reception_point: Option<String>,
}

/// The applications of a reception point (an officer sees only their own), from the clear
/// summaries: id, state, dates.
async fn list(
    State(s): State<AppState>,
    Staff(who): Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let point = own_point(&who, q.reception_point)?;
    let today = verifier::Date::from_unix_vn(s.clock.now());
    let apps: Vec<Value> = metas(&s)?
        .into_iter()
        .filter(|(_, m)| point.as_deref().is_none_or(|p| p == m.reception_point))
        .map(|(id, m)| {
            json!({"id": id, "state": m.state, "reception_point": m.reception_point, "submitted_on": m.submitted_on,
                   "due_on": m.due_on, "overdue": m.due_on < today && !rules::is_closed(m.state)})
        })
        .collect();
    Ok(Json(json!({ "applications": apps })))
}

#[derive(Debug, Deserialize)]
struct DeadlineQuery {
    reception_point: Option<String>,
    soon_days: Option<u32>,
}

fn metas(s: &AppState) -> Result<Vec<(String, AppMeta)>, ApiError> {
    let mut out = Vec::new();
    for kv in s.store.t.app_meta.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        out.push((String::from_utf8_lossy(&k).into_owned(), from_json(&v)?));
    }
    Ok(out)
}

/// Overdue and due-soon applications per reception point.
async fn deadlines(
    State(s): State<AppState>,
    Staff(who): Staff,
    Query(q): Query<DeadlineQuery>,
) -> Result<Json<Value>, ApiError> {
    let today = verifier::Date::from_unix_vn(s.clock.now());
    let point = own_point(&who, q.reception_point)?;
    let all = metas(&s)?;
    let rows: Vec<_> =
        all.into_iter().filter(|(_, m)| point.as_deref().is_none_or(|p| p == m.reception_point)).collect();
    Ok(Json(rules::deadline_report(&rows, today, q.soon_days.unwrap_or(1).min(30))))
}

#[derive(Debug, Deserialize)]
struct CountQuery {
    reception_point: Option<String>,
    from: Option<verifier::Date>,
    to: Option<verifier::Date>,
}

/// Submissions per reception point per day.
async fn daily_counts(
    State(s): State<AppState>,
    Staff(who): Staff,
    Query(q): Query<CountQuery>,
) -> Result<Json<Value>, ApiError> {
    let point = own_point(&who, q.reception_point)?;
    let rows: Vec<_> = metas(&s)?
        .into_iter()
        .filter(|(_, m)| point.as_deref().is_none_or(|p| p == m.reception_point))
        .filter(|(_, m)| q.from.is_none_or(|f| m.submitted_on >= f) && q.to.is_none_or(|t| m.submitted_on <= t))
        .collect();
    Ok(Json(rules::daily_counts(&rows)))
}
