//! Public, read-only endpoints: the trust list, status lists, JWK Set, the metadata documents
//! (OpenID4VCI 1.0 credential issuer metadata, RFC 8414 authorization server metadata, SD-JWT VC
//! issuer metadata), the OpenAPI document and health. Anyone (any mirror) may fetch them; they
//! carry no personal data.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::error::ApiError;
use super::{AppState, IdPath};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/vneid-trust-list", get(trust_list))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-credential-issuer", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(authorization_server))
        .route("/.well-known/jwt-vc-issuer", get(jwt_vc_issuer))
        .route("/status-lists/{id}", get(status_list))
        .route("/v1/guidance", get(guidance))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
}

async fn trust_list(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    // Production mode before the first upload of a list signed offline: none yet.
    let tok = s.service.trust_list_token().ok_or_else(|| ApiError {
        retry_after: Some(300),
        ..ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "trust_list_unavailable")
    })?;
    Ok(([(header::CONTENT_TYPE, "application/jwt"), (header::CACHE_CONTROL, "public, max-age=300")], tok.to_string()))
}

async fn status_list(State(s): State<AppState>, IdPath(id): IdPath<String>) -> Result<impl IntoResponse, ApiError> {
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

/// `display` entries in our four languages: `(name, extra members)` per language.
fn displays(mut f: impl FnMut(crate::i18n::Lang) -> serde_json::Value) -> Vec<serde_json::Value> {
    crate::i18n::Lang::ALL
        .iter()
        .map(|&lang| {
            let mut d = f(lang);
            d["locale"] = json!(crate::i18n::tag(lang));
            d
        })
        .collect()
}

/// OpenID4VCI 1.0 credential issuer metadata (section 12.2). This issuer is its own
/// authorization server, so `authorization_servers` is absent and the token endpoint is in the
/// authorization server metadata ([`authorization_server`]), not here. The credential
/// configuration's display and claim descriptions are in `credential_metadata` (1.0), in
/// Vietnamese, English, Chinese and Korean; `vneid_qr_purposes` is ours (clients ignore it).
async fn metadata(State(s): State<AppState>) -> impl IntoResponse {
    use crate::i18n::message_id;
    let base = s.service.issuer_url();
    let claim = |name: &str| {
        let id = format!("api-metadata-claim-{}", name.replace('_', "-"));
        json!({"path": [name], "display": displays(|l| json!({"name": message_id(l, &id)}))})
    };
    let mut claims: Vec<_> = verifier::Claim::ALL.iter().map(|c| claim(c.name())).collect();
    let mut level = claim("assurance_level");
    level["mandatory"] = json!(true);
    claims.push(level);
    Json(json!({
        "credential_issuer": base,
        "credential_endpoint": format!("{base}/credential"),
        "nonce_endpoint": format!("{base}/nonce"),
        "batch_credential_issuance": {"batch_size": s.service.settings().batch_size},
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
                "credential_metadata": {
                    "display": displays(|l| json!({
                        "name": message_id(l, "api-metadata-credential-name"),
                        "description": message_id(l, "api-metadata-credential-description"),
                    })),
                    "claims": claims,
                },
                "vneid_qr_purposes": verifier::Purpose::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()
            }
        }
    }))
}

/// RFC 8414 authorization server metadata for the pre-authorized code flow: the token
/// endpoint, the one grant type, and anonymous access (OpenID4VCI 1.0 section 12.3: wallets do
/// not authenticate to redeem a pre-authorized code; the transaction code protects it).
async fn authorization_server(State(s): State<AppState>) -> impl IntoResponse {
    let base = s.service.issuer_url();
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "grant_types_supported": [verifier::build::oid4vci::PRE_AUTH_GRANT],
            "pre-authorized_grant_anonymous_access_supported": true,
            "token_endpoint_auth_methods_supported": ["none"],
            // No authorization endpoint: nothing is requested through one.
            "response_types_supported": [],
        })),
    )
}

/// SD-JWT VC issuer metadata (draft-ietf-oauth-sd-jwt-vc, `/.well-known/jwt-vc-issuer`): the
/// issuer identifier, equal to the credentials' `iss`, and every node's signing keys (as the
/// store knows them, revocations through any node included) as a JWK Set, so a
/// verifier that knows only `iss` finds the key a credential's `kid` names. Revoked keys are left
/// out (a verifier using only this document must not accept what they signed); retired keys stay
/// while what they signed is valid. The signed trust list remains what offline verifiers pin.
async fn jwt_vc_issuer(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let keys: Vec<_> = s
        .service
        .public_keys()
        .await?
        .into_iter()
        .filter(|k| k.state.as_str() != "revoked")
        .map(|k| {
            json!({"kty": "OKP", "crv": "Ed25519", "x": k.x.to_string(), "kid": k.kid.to_string(),
                   "alg": "EdDSA", "use": "sig"})
        })
        .collect();
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({"issuer": s.service.issuer_url(), "jwks": {"keys": keys}})),
    ))
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
