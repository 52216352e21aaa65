//! Admin endpoints: staff tokens, key rotation and revocation, credential status, the audit log.
//! Admin only; officers cannot reach them, and admins cannot decide applications.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Admin;
use super::error::{ApiError, ApiJson, ApiQuery, NoBody};
use super::{AppState, IdPath, IdemKey};
use crate::ids::{CredentialId, TokenId};
use crate::service::admin::{CredentialStatus, NewToken};
use crate::store::Role;

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
struct NewTokenBody {
    role: Role,
    name: String,
    #[serde(default)]
    reception_point: Option<String>,
}

async fn create_token(
    State(s): State<AppState>,
    Admin(who): Admin,
    key: IdemKey,
    ApiJson(req): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req = NewToken { role: req.role, name: req.name, reception_point: req.reception_point };
    let (row, token) = s.service.create_token(&who, req, key.get()).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": row.id, "role": row.role, "token": token.as_str()}))))
}

async fn revoke_token(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(id): IdPath<TokenId>,
    key: IdemKey,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    let row = s.service.revoke_token(&who, &id, key.get()).await?;
    Ok(Json(json!({"id": row.id, "revoked": row.revoked})))
}

/// Every node's keys, each with its node.
fn keys_json(keys: Vec<(String, verifier::TrustedKey)>) -> Value {
    keys.into_iter()
        .map(|(node, k)| {
            let mut v = serde_json::to_value(&k).unwrap_or(Value::Null);
            v["node"] = json!(node);
            v
        })
        .collect()
}

async fn list_keys(State(s): State<AppState>, Admin(who): Admin) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "keys": keys_json(s.service.keys(&who).await?) })))
}

/// Step 1 of a planned rotation: a `next` key, published in the trust list but not signing.
async fn prepare_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    key: IdemKey,
    _: NoBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kid = s.service.prepare_key(&who, key.get()).await?;
    Ok((StatusCode::CREATED, Json(json!({"next": kid.to_string(), "keys": keys_json(s.service.keys(&who).await?)}))))
}

/// Step 2, once verifiers have synced: the `next` key signs; the previous one retires.
async fn activate_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(kid): IdPath<String>,
    key: IdemKey,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    let kid = s.service.activate_key(&who, &kid, key.get()).await?;
    Ok(Json(json!({"active": kid.to_string(), "keys": keys_json(s.service.keys(&who).await?)})))
}

/// Immediate rotation (for emergencies).
async fn rotate_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    key: IdemKey,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    let kid = s.service.rotate_key(&who, key.get()).await?;
    Ok(Json(json!({"active": kid.to_string(), "keys": keys_json(s.service.keys(&who).await?)})))
}

async fn revoke_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(kid): IdPath<String>,
    key: IdemKey,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    s.service.revoke_key(&who, &kid, key.get()).await?;
    Ok(Json(json!({"keys": keys_json(s.service.keys(&who).await?)})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStatus {
    status: String,
}

/// Sets a credential's status: `valid`, `suspended` or `revoked` (final).
async fn set_status(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(id): IdPath<CredentialId>,
    key: IdemKey,
    ApiJson(req): ApiJson<NewStatus>,
) -> Result<Json<Value>, ApiError> {
    let to = CredentialStatus::parse(&req.status)
        .ok_or_else(|| ApiError::unprocessable("field_invalid").arg("field", "status"))?;
    let change = s.service.set_status(&who, &id, to, key.get()).await?;
    Ok(Json(json!({"id": change.id, "status": change.status.as_str(), "published_by": change.published_by})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn audit(
    State(s): State<AppState>,
    Admin(who): Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = s.service.audit_page(&who, q.after, q.limit.unwrap_or(100)).await?;
    let next = page.last().map(|(id, _)| *id);
    let entries: Vec<Value> = page.into_iter().map(|(id, e)| json!({"seq": id, "entry": e})).collect();
    Ok(Json(json!({"entries": entries, "next_after": next})))
}
