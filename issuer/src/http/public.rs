//! Public, read-only endpoints: the trust list, status lists, JWK Set, issuer metadata, the
//! OpenAPI document and health. Anyone (any mirror) may fetch them; they carry no personal data.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::error::ApiError;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/vneid-trust-list", get(trust_list))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-credential-issuer", get(metadata))
        .route("/status-lists/{id}", get(status_list))
        .route("/v1/guidance", get(guidance))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
}

async fn trust_list(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let tok = s.service.trust_list_token().ok_or_else(|| ApiError::internal("no trust list signed yet"))?;
    Ok(([(header::CONTENT_TYPE, "application/jwt"), (header::CACHE_CONTROL, "public, max-age=300")], tok.to_string()))
}

async fn status_list(State(s): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let tok = id.parse().ok().and_then(|id| s.service.status_list_token(id)).ok_or_else(ApiError::not_found)?;
    Ok((
        [(header::CONTENT_TYPE, "application/statuslist+jwt"), (header::CACHE_CONTROL, "public, max-age=60")],
        tok.to_string(),
    ))
}

/// Health: the process answers, and the write path makes a change durable within a second.
async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let writes = s.service.write_path_ok(std::time::Duration::from_secs(1)).await;
    let status = if writes { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({"status": if writes { "ok" } else { "degraded" }, "store": s.service.store().engine(),
                      "write_path": if writes { "ok" } else { "not answering" }});
    (status, Json(body))
}

/// The issuer's signing keys as an RFC 7517 JWK Set (every state, so old credentials can
/// still be checked by tools that do not read the trust list).
async fn jwks(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let keys: Vec<_> = s
        .service
        .public_keys()
        .await?
        .into_iter()
        .map(|k| {
            json!({"kty": "OKP", "crv": "Ed25519", "x": k.x.to_string(), "kid": k.kid.to_string(),
                   "alg": "EdDSA", "use": "sig", "key_state": k.state.as_str()})
        })
        .collect();
    Ok(([(header::CONTENT_TYPE, "application/jwk-set+json")], Json(json!({ "keys": keys }))))
}

/// OpenID4VCI credential issuer metadata (with the token endpoint folded in: this issuer is its
/// own authorization server for the pre-authorized code flow).
async fn metadata(State(s): State<AppState>) -> impl IntoResponse {
    let base = s.service.issuer_url();
    Json(json!({
        "credential_issuer": base,
        "token_endpoint": format!("{base}/token"),
        "credential_endpoint": format!("{base}/credential"),
        "pre-authorized_grant_anonymous_access_supported": true,
        "display": [
            {"name": "Định danh điện tử mức 2", "locale": "vi"},
            {"name": "Level-2 electronic identity", "locale": "en"},
            {"name": "二级电子身份", "locale": "zh-CN"},
            {"name": "2단계 전자신분증", "locale": "ko"}
        ],
        "credential_configurations_supported": {
            verifier::build::oid4vci::CONFIGURATION_ID: {
                "format": "dc+sd-jwt",
                "vct": verifier::build::sdjwt::VCT,
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["EdDSA"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["EdDSA"]}},
                "vneid_qr_purposes": verifier::Purpose::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()
            }
        }
    }))
}

/// Guidance for applicants in their language (`Accept-Language`; Vietnamese by default).
async fn guidance(headers: axum::http::HeaderMap) -> impl IntoResponse {
    let lang = crate::i18n::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let messages: serde_json::Map<String, serde_json::Value> =
        crate::i18n::GUIDANCE.iter().map(|id| ((*id).to_owned(), json!(crate::i18n::message_id(lang, id)))).collect();
    (
        [(header::CONTENT_LANGUAGE, crate::i18n::tag(lang))],
        Json(json!({"lang": crate::i18n::tag(lang), "messages": messages})),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../openapi.json"))
}
