//! Key custody endpoints (admin only): the trust list prepared for offline signing and its
//! upload (production mode), the credentials a key signed, and their re-issuance after the key
//! was revoked. The key list, activation (`?force=true` for an emergency) and revocation are in
//! `admin`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Admin;
use super::error::{is_json, media_type, ApiError, ApiQuery, NoBody};
use super::{AppState, IdPath};
use crate::ids::CredentialId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/trust-list/pending", get(pending_trust_list))
        .route("/v1/admin/trust-list", post(upload_trust_list))
        .route("/v1/admin/keys/{kid}/credentials", get(signed_credentials))
        .route("/v1/admin/keys/{kid}/reissue", get(reissue_progress).post(start_reissue))
}

/// Production: the next trust list, unsigned (`docs/formats.md` §4.2), exactly what
/// `keys trust-list sign --in` takes.
async fn pending_trust_list(State(s): State<AppState>, Admin(who): Admin) -> Result<Json<Value>, ApiError> {
    let list = s.service.pending_trust_list(&who).await?;
    Ok(Json(serde_json::to_value(&list).map_err(ApiError::internal)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedBody {
    trust_list: String,
}

/// Production: the prepared trust list, signed offline. The body is the compact JWS as
/// `keys trust-list sign` wrote it (`application/jwt` or `text/plain`), or JSON
/// `{"trust_list": "<jws>"}`.
async fn upload_trust_list(
    State(s): State<AppState>,
    Admin(who): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let json_body = is_json(&headers);
    if !json_body && !matches!(media_type(&headers).as_str(), "application/jwt" | "text/plain" | "") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    }
    let signed = if json_body {
        serde_json::from_slice::<SignedBody>(&body)
            .map_err(|_| ApiError::bad_request("invalid_request").arg("field", "trust_list"))?
            .trust_list
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| ApiError::bad_request("invalid_request"))?
    };
    let list = s.service.upload_trust_list(&who, &signed).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"published": true, "seq": list.seq, "issued_at": list.issued_at, "next_update": list.next_update,
                    "keys": list.keys.len(), "status_lists": list.status_lists.len()})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// The credentials a key signed, in id order (`?after=<id>&limit=<n>`, at most 1000).
async fn signed_credentials(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(kid): IdPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let after: Option<CredentialId> = match q.after.as_deref() {
        None | Some("") => None,
        Some(a) => Some(a.parse().map_err(|_| ApiError::bad_request("invalid_request").arg("field", "after"))?),
    };
    let page = s.service.signed_credentials(&who, &kid, after.as_ref(), q.limit.unwrap_or(100)).await?;
    let next = page.last().map(|c| c.id.to_string());
    let credentials: Vec<Value> = page
        .iter()
        .map(|c| {
            json!({"id": c.id, "application": c.application, "kid": c.kid, "issued_at": c.issued_at,
                   "expires_at": c.expires_at, "status_list": c.status_list, "status_idx": c.status_idx})
        })
        .collect();
    Ok(Json(json!({"credentials": credentials, "next_after": next})))
}

/// Re-offers every credential the revoked key signed, with the active key, in the background;
/// running it again after an interruption resumes without re-offering anyone twice.
async fn start_reissue(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(kid): IdPath<String>,
    _: NoBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = s.service.start_reissue(&who, &kid).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::to_value(&p).map_err(ApiError::internal)?)))
}

/// Where the re-issuance stands: total, offered, skipped, notices pending, state.
async fn reissue_progress(
    State(s): State<AppState>,
    Admin(who): Admin,
    IdPath(kid): IdPath<String>,
) -> Result<Json<Value>, ApiError> {
    let p = s.service.reissue_progress(&who, &kid).await?;
    Ok(Json(serde_json::to_value(&p).map_err(ApiError::internal)?))
}
