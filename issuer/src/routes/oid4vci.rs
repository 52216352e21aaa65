//! OpenID4VCI-style delivery, pre-authorized code flow: the officer's approval yields a
//! credential offer with a single-use code; the wallet trades it for a short-lived access token
//! and a nonce, proves possession of its device key over the nonce, and receives the batch.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::{hash_secret, new_secret};
use crate::error::{ApiError, ApiJson};
use crate::store::{abort, to_json, AuditEntry, Store, StoreError};
use crate::AppState;

/// Lifetime of an access token and its nonce.
pub const ACCESS_TTL: u64 = 300;

pub fn router() -> Router<AppState> {
    Router::new().route("/token", post(token)).route("/credential", post(credential))
}

/// A stored pre-authorized code (keyed by its hash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub application: String,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessRecord {
    application: String,
    c_nonce: String,
    expires_at: u64,
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: String,
    #[serde(rename = "pre-authorized_code")]
    code: Option<String>,
}

/// OAuth errors use the OAuth codes (RFC 6749 section 5.2), which wallets understand.
fn oauth(code: &'static str) -> ApiError {
    ApiError::bad_request(code)
}

async fn token(
    State(s): State<AppState>,
    req: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Json<Value>, ApiError> {
    let Ok(Form(req)) = req else {
        return Err(oauth("invalid_request"));
    };
    if req.grant_type != verifier::build::oid4vci::PRE_AUTH_GRANT {
        return Err(oauth("unsupported_grant_type"));
    }
    let code = req.code.filter(|c| c.len() <= 128).ok_or_else(|| oauth("invalid_request"))?;
    let now = s.clock.now();
    let access = new_secret("at_");
    let nonce = new_secret("n_");
    let code_hash = hash_secret(&code);
    let audit_id = s.store.next_id()?;
    let t = &s.store.t;
    s.store
        .transact([&t.codes, &t.access, &t.audit], |tx| {
            // Single use: the code is removed as it is redeemed.
            let Some(raw) = tx[0].remove(&code_hash)? else {
                return abort(StoreError::Conflict("invalid_grant"));
            };
            let rec: CodeRecord = serde_json::from_slice(&raw)
                .map_err(|_| sled::transaction::ConflictableTransactionError::Abort(StoreError::Corrupt("code")))?;
            if rec.expires_at < now {
                return abort(StoreError::Conflict("invalid_grant"));
            }
            let a = AccessRecord {
                application: rec.application.clone(),
                c_nonce: nonce.to_string(),
                expires_at: now + ACCESS_TTL,
            };
            tx[1].insert(&hash_secret(&access), to_json(&a))?;
            Store::audit_tx(
                &tx[2],
                audit_id,
                &AuditEntry::new(now, "wallet", "offer.redeemed", &rec.application, None),
            )?;
            Ok(())
        })
        .map_err(|e| match e {
            StoreError::Conflict("invalid_grant") => oauth("invalid_grant"),
            e => ApiError::from(e),
        })?;
    s.store.durable().await?;
    Ok(Json(json!({
        "access_token": access.as_str(),
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL,
        "c_nonce": nonce.as_str(),
        "c_nonce_expires_in": ACCESS_TTL,
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
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| t.len() <= 128)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token"))?;
    if req.credential_configuration_id.as_deref().is_some_and(|c| c != verifier::build::oid4vci::CONFIGURATION_ID) {
        return Err(oauth("unsupported_credential_type"));
    }
    let proof = req.proof.filter(|p| p.proof_type == "jwt").ok_or_else(|| oauth("invalid_proof"))?;
    let now = s.clock.now();
    let access_hash = hash_secret(bearer);
    let rec: AccessRecord = Store::get_json(&s.store.t.access, &access_hash)?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token"))?;
    if rec.expires_at < now {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token"));
    }
    let holder =
        verifier::build::oid4vci::verify_proof(&proof.jwt, s.custody.issuer_url(), &rec.c_nonce, now, ACCESS_TTL)
            .map_err(|e| oauth("invalid_proof").arg("reason", e.reason.code()))?;

    let batch = crate::routes::applications::issue_for(&s, &rec.application, &holder, &access_hash, now).await?;
    let mut qr = Map::new();
    for (p, bytes) in &batch.qr {
        qr.insert(p.as_str().into(), json!(B64.encode(bytes)));
    }
    Ok((
        StatusCode::OK,
        Json(json!({
            "credentials": [{"credential": batch.sd_jwt}],
            "qr_credentials": qr,
            "expires_at": batch.expires_at,
        })),
    ))
}
