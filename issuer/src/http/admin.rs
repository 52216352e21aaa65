//! Admin endpoints: staff tokens, key rotation and revocation, credential status, the audit log.
//! Admin only; officers cannot reach them, and admins cannot decide applications.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Admin;
use super::error::{ApiBytes, ApiError, ApiJson, ApiQuery, NoBody};
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

/// Every node's keys with their state, periods, days left and first publication, the warnings
/// (a key about to stop signing, a node with no active key, a trust list to publish), and how
/// this node holds its keys.
async fn list_keys(State(s): State<AppState>, Admin(who): Admin) -> Result<Json<Value>, ApiError> {
    let report = s.service.key_report(&who).await?;
    Ok(Json(serde_json::to_value(&report).map_err(ApiError::internal)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrepareBody {
    /// A key generated on the node's token with `keys hsm generate --label …`, to register
    /// instead of generating one.
    #[serde(default)]
    hsm_label: Option<String>,
}

/// Step 1 of a planned rotation: a `next` key, published in the trust list but not signing.
/// The body may be empty, `{}`, or `{"hsm_label": "…"}`.
async fn prepare_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    key: IdemKey,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: PrepareBody = if body.iter().all(u8::is_ascii_whitespace) {
        PrepareBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("invalid_request").arg("field", "hsm_label"))?
    };
    let kid = s.service.prepare_key(&who, req.hsm_label.as_deref(), key.get()).await?;
    Ok((StatusCode::CREATED, Json(json!({"next": kid.to_string(), "keys": keys_json(s.service.keys(&who).await?)}))))
}

#[derive(Debug, Deserialize)]
struct ActivateQuery {
    /// An emergency: activate before verifiers can have synced the key (audited as such).
    #[serde(default)]
    force: bool,
}

/// Step 2, once verifiers have synced: the `next` key signs; the previous one retires. Refused
/// (`409 key_not_synced`) before the key has been published for the sync interval, unless
/// `?force=true`.
async fn activate_key(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(kid): IdPath<String>,
    ApiQuery(q): ApiQuery<ActivateQuery>,
    key: IdemKey,
    _: NoBody,
) -> Result<Json<Value>, ApiError> {
    let kid = s.service.activate_key(&who, &kid, q.force, key.get()).await?;
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
    let kid = s.service.revoke_key(&who, &kid, key.get()).await?;
    // What it signed, to re-issue (`POST /v1/admin/keys/{kid}/reissue`); all of it under
    // `GET /v1/admin/keys/{kid}/credentials`.
    let kid = kid.to_string();
    let first = s.service.signed_credentials(&who, &kid, None, 100).await?;
    let ids: Vec<&str> = first.iter().map(|c| c.id.as_str()).collect();
    Ok(Json(json!({
        "keys": keys_json(s.service.keys(&who).await?),
        "signed_credentials": {
            "count": s.service.count_signed(&kid).await?,
            "first": ids,
            "list": format!("/v1/admin/keys/{kid}/credentials"),
            "reissue": format!("/v1/admin/keys/{kid}/reissue"),
        },
    })))
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
