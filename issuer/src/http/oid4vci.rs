//! OpenID4VCI delivery, pre-authorized code flow: the token endpoint trades the offer's code for
//! an access token and a nonce; the credential endpoint takes a proof of possession of the
//! wallet's device key and returns the batch. Retries are safe (see
//! [`crate::service::delivery`]).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiJson};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/token", post(token)).route("/credential", post(credential))
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: String,
    #[serde(rename = "pre-authorized_code")]
    code: Option<String>,
}

async fn token(
    State(s): State<AppState>,
    req: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Json<Value>, ApiError> {
    let Ok(Form(req)) = req else {
        return Err(ApiError::bad_request("invalid_request"));
    };
    let grant = s.service.redeem_code(&req.grant_type, req.code.as_deref()).await?;
    Ok(Json(json!({
        "access_token": grant.access_token.as_str(),
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "c_nonce": grant.nonce,
        "c_nonce_expires_in": grant.expires_in,
    })))
}

#[derive(Debug, Deserialize)]
struct CredentialRequest {
    #[serde(default)]
    credential_configuration_id: Option<String>,
    proof: Option<Proof>,
}

#[derive(Debug, Deserialize)]
struct Proof {
    proof_type: String,
    jwt: String,
}

async fn credential(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CredentialRequest>,
) -> Result<Json<Value>, ApiError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "invalid_token"))?;
    let proof = req.proof.filter(|p| p.proof_type == "jwt").ok_or_else(|| ApiError::bad_request("invalid_proof"))?;
    let batch = s.service.issue_credential(bearer, req.credential_configuration_id.as_deref(), &proof.jwt).await?;
    let mut qr = Map::new();
    for (p, bytes) in &batch.qr {
        qr.insert(p.as_str().into(), json!(B64.encode(bytes)));
    }
    Ok(Json(json!({
        "credentials": [{"credential": batch.sd_jwt}],
        "qr_credentials": qr,
        "expires_at": batch.expires_at,
    })))
}
