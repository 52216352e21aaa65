//! Admin endpoints: staff tokens, key rotation and revocation, credential status, the audit log.
//! Admin only; officers cannot reach them, and admins cannot decide applications.

use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{hash_secret, new_id, new_secret, Admin, Role, TokenRecord};
use crate::error::{ApiError, ApiJson};
use crate::store::{abort, to_json, AuditEntry, Store, StoreError};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/tokens", post(create_token))
        .route("/v1/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/v1/admin/keys", get(list_keys).post(prepare_key))
        .route("/v1/admin/keys/{kid}/activate", post(activate_key))
        .route("/v1/admin/keys/rotate", post(rotate_key))
        .route("/v1/admin/keys/{kid}/revoke", post(revoke_key))
        .route("/v1/admin/credentials/{id}/status", post(set_status))
        .route("/v1/admin/audit", get(audit))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    role: Role,
    name: String,
    #[serde(default)]
    reception_point: Option<String>,
}

/// Creates the first admin token if there is none; returns it so `serve` can print it once.
pub fn bootstrap_admin(store: &Store, now: u64) -> Result<Option<String>, StoreError> {
    if store.t.meta.get(b"admin_bootstrapped")?.is_some() {
        return Ok(None);
    }
    let token = new_secret("vnid_adm_");
    let rec = TokenRecord {
        id: new_id(),
        role: Role::Admin,
        name: "bootstrap-admin".into(),
        reception_point: None,
        created_at: now,
        revoked: false,
    };
    let audit_id = store.next_id()?;
    let t = &store.t;
    store.transact([&t.meta, &t.tokens, &t.audit], |tx| {
        tx[0].insert(b"admin_bootstrapped", &now.to_be_bytes())?;
        tx[1].insert(&hash_secret(&token), to_json(&rec))?;
        Store::audit_tx(
            &tx[2],
            audit_id,
            &AuditEntry::new(now, "system", "token.created", &rec.id, Some("role=admin".into())),
        )
    })?;
    Ok(Some(token.to_string()))
}

async fn create_token(
    State(s): State<AppState>,
    Admin(who): Admin,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::unprocessable("field_invalid").arg("field", "name"));
    }
    match (req.role, req.reception_point.as_deref()) {
        (Role::Officer, None) => return Err(ApiError::unprocessable("field_missing").arg("field", "reception_point")),
        (_, Some(p)) if p.parse::<enrollment::tk01::ReceptionPointId>().is_err() => {
            return Err(ApiError::unprocessable("reception_point_invalid").arg("field", "reception_point"))
        }
        _ => {}
    }
    let now = s.clock.now();
    let prefix = match req.role {
        Role::Admin => "vnid_adm_",
        Role::Officer => "vnid_off_",
    };
    let token = new_secret(prefix);
    let rec = TokenRecord {
        id: new_id(),
        role: req.role,
        name: req.name,
        reception_point: req.reception_point,
        created_at: now,
        revoked: false,
    };
    let audit_id = s.store.next_id()?;
    let t = &s.store.t;
    s.store.transact([&t.tokens, &t.audit], |tx| {
        tx[0].insert(&hash_secret(&token), to_json(&rec))?;
        Store::audit_tx(
            &tx[1],
            audit_id,
            &AuditEntry::new(
                now,
                &who.id,
                "token.created",
                &rec.id,
                Some(format!("role={:?}", rec.role).to_lowercase()),
            ),
        )
    })?;
    s.store.durable().await?;
    Ok((StatusCode::CREATED, Json(json!({"id": rec.id, "role": rec.role, "token": token.as_str()}))))
}

async fn revoke_token(
    State(s): State<AppState>,
    Admin(who): Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = s.clock.now();
    let mut found = None;
    for kv in s.store.t.tokens.iter() {
        let (k, v) = kv.map_err(StoreError::from)?;
        let rec: TokenRecord = crate::store::from_json(&v)?;
        if rec.id == id {
            found = Some((k, rec));
            break;
        }
    }
    let (key, mut rec) = found.ok_or_else(ApiError::not_found)?;
    rec.revoked = true;
    let audit_id = s.store.next_id()?;
    let t = &s.store.t;
    s.store.transact([&t.tokens, &t.audit], |tx| {
        tx[0].insert(&key, to_json(&rec))?;
        Store::audit_tx(&tx[1], audit_id, &AuditEntry::new(now, &who.id, "token.revoked", &rec.id, None))
    })?;
    s.store.durable().await?;
    Ok(Json(json!({"id": id, "revoked": true})))
}

async fn list_keys(State(s): State<AppState>, Admin(_): Admin) -> Json<Value> {
    Json(json!({ "keys": s.custody.key_records() }))
}

/// Step 1 of a planned rotation: a `next` key, published in the trust list but not signing.
async fn prepare_key(State(s): State<AppState>, Admin(who): Admin) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kid = s.custody.prepare(s.clock.now()).map_err(ApiError::internal)?;
    audit_now(&s, &who.id, "key.prepared", &kid.to_string(), None).await?;
    Ok((StatusCode::CREATED, Json(json!({"next": kid.to_string(), "keys": s.custody.key_records()}))))
}

/// A key id from the path that the keystore knows, else 404.
fn listed_kid(s: &AppState, raw: &str) -> Result<verifier::KeyId, ApiError> {
    let kid: verifier::KeyId = raw.parse().map_err(|_| ApiError::not_found())?;
    if s.custody.key_records().iter().any(|k| k.kid == kid) {
        Ok(kid)
    } else {
        Err(ApiError::not_found())
    }
}

fn refused(e: crate::custody::CustodyError) -> ApiError {
    ApiError::conflict("key_transition_refused").arg("detail", e.to_string())
}

/// Step 2, once verifiers have synced: the `next` key signs; the previous one retires.
async fn activate_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    Path(kid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let kid = listed_kid(&s, &kid)?;
    s.custody.activate(&kid, s.clock.now()).map_err(refused)?;
    audit_now(&s, &who.id, "key.activated", &kid.to_string(), None).await?;
    Ok(Json(json!({"active": kid.to_string(), "keys": s.custody.key_records()})))
}

/// Immediate rotation (for emergencies): verifiers that have not synced since will not know the
/// new key until they do.
async fn rotate_key(State(s): State<AppState>, Admin(who): Admin) -> Result<Json<Value>, ApiError> {
    let now = s.clock.now();
    let kid = s.custody.rotate(now).map_err(ApiError::internal)?;
    audit_now(&s, &who.id, "key.rotated", &kid.to_string(), None).await?;
    Ok(Json(json!({"active": kid.to_string(), "keys": s.custody.key_records()})))
}

async fn revoke_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    Path(kid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let kid = listed_kid(&s, &kid)?;
    s.custody.revoke(&kid, s.clock.now()).map_err(refused)?;
    audit_now(&s, &who.id, "key.revoked", &kid.to_string(), None).await?;
    Ok(Json(json!({"keys": s.custody.key_records()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStatus {
    status: String,
}

/// Sets a credential's status: `valid`, `revoked` (final) or `suspended`.
async fn set_status(
    State(s): State<AppState>,
    Admin(who): Admin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NewStatus>,
) -> Result<Json<Value>, ApiError> {
    let value = match req.status.as_str() {
        "valid" => verifier::build::statuslist::VALID,
        "revoked" => verifier::build::statuslist::INVALID,
        "suspended" => verifier::build::statuslist::SUSPENDED,
        _ => return Err(ApiError::unprocessable("field_invalid").arg("field", "status")),
    };
    let cred: crate::routes::applications::CredentialRecord =
        Store::get_json(&s.store.t.credentials, id.as_bytes())?.ok_or_else(ApiError::not_found)?;
    let now = s.clock.now();
    let key = crate::routes::applications::status_key(cred.status_list, cred.status_idx);
    let audit_id = s.store.next_id()?;
    let t = &s.store.t;
    s.store
        .transact([&t.status, &t.audit], |tx| {
            let current = tx[0].get(key)?.and_then(|v| v.first().copied());
            if current == Some(verifier::build::statuslist::INVALID) && value != verifier::build::statuslist::INVALID {
                return abort(StoreError::Conflict("credential_revoked"));
            }
            tx[0].insert(&key, &[value])?;
            Store::audit_tx(
                &tx[1],
                audit_id,
                &AuditEntry::new(now, &who.id, "credential.status", &id, Some(req.status.clone())),
            )
        })
        .map_err(|e| match e {
            StoreError::Conflict(c) => ApiError::conflict(c),
            e => ApiError::from(e),
        })?;
    s.store.durable().await?;
    s.status_version.fetch_add(1, Ordering::SeqCst);
    Ok(Json(json!({"id": id, "status": req.status})))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn audit(
    State(s): State<AppState>,
    Admin(_): Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = s.store.audit_page(q.after, q.limit.unwrap_or(100).min(1000))?;
    let next = page.last().map(|(id, _)| *id);
    let entries: Vec<Value> = page.into_iter().map(|(id, e)| json!({"seq": id, "entry": e})).collect();
    Ok(Json(json!({"entries": entries, "next_after": next})))
}

/// Appends one audit entry on its own, durably.
pub async fn audit_now(
    s: &AppState,
    actor: &str,
    action: &str,
    subject: &str,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let id = s.store.next_id()?;
    let e = AuditEntry::new(s.clock.now(), actor, action, subject, detail);
    s.store.t.audit.insert(id.to_be_bytes(), to_json(&e)).map_err(StoreError::from)?;
    s.store.durable().await?;
    Ok(())
}
