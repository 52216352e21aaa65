//! OpenID4VCI 1.0, pre-authorized code flow: the token endpoint trades the offer's code and its
//! transaction code for an access token; the Nonce Endpoint hands out single-use nonces; the
//! credential endpoint takes `proofs` of possession of the wallet's device keys and returns
//! the batch. Retries are safe (see [`crate::service::delivery`]).
//!
//! These endpoints speak OAuth, not the staff API: errors are `{"error", "error_description"}`
//! with the codes of RFC 6749 section 5.2, RFC 6750 section 3.1 and OpenID4VCI 1.0 sections 6.3
//! and 8.3.1.2, the description localized by `Accept-Language` and English when the request
//! names none of our languages; every answer, errors included, is `Cache-Control: no-store`.
//! So the wallet-facing mapping of [`ServiceError`] lives here ([`oauth_error`]), and the staff
//! API's mapping stays in [`super::error`].
//!
//! From earlier drafts only the single `proof` member (draft 14) is still read, as a batch of
//! one: `proof` and `proofs` together are `invalid_credential_request` (docs/formats.md §7.6).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::AppState;
use crate::i18n::{self, Lang};
use crate::service::{ServiceError, WalletError};

/// Largest credential request body: a batch of proofs is a few KiB.
const MAX_REQUEST: usize = 32 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/token", post(token))
        .route("/nonce", post(nonce))
        .route("/credential", post(credential))
        .layer(axum::middleware::map_response(no_store))
}

/// RFC 6749 section 5.1, OpenID4VCI 1.0 sections 7.2 and 8.3: tokens, nonces and credentials
/// must not be cached, and neither must the errors about them.
async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The language of this request's `error_description`s.
fn lang_of(headers: &HeaderMap) -> Lang {
    i18n::negotiate_wallet(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

/// The access token of an `Authorization: Bearer` header (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// An OAuth error response for a refusal of the service, in `lang`. The one mapping from
/// [`ServiceError`] to HTTP for the wallet-facing endpoints.
pub fn oauth_error(e: ServiceError, lang: Lang) -> Response {
    let e_kind = match &e {
        ServiceError::Wallet(w) => Some(*w),
        _ => None,
    };
    let (status, code, id, left, extra) = match e {
        ServiceError::Wallet(w) => {
            let status =
                if w == WalletError::InvalidToken { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            let left = match w {
                WalletError::TxCodeWrong { left } => Some(left),
                _ => None,
            };
            let extra = match w {
                WalletError::InvalidProof(why) | WalletError::InvalidCredentialRequest(why) => Some(why),
                _ => None,
            };
            (status, w.code(), w.message_id(), left, extra)
        }
        ServiceError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            i18n::id_of("temporarily_unavailable"),
            None,
            None,
        ),
        ServiceError::Refused { .. } => {
            (StatusCode::BAD_REQUEST, "credential_request_denied", i18n::id_of("credential_request_denied"), None, None)
        }
        ServiceError::Unauthorized => {
            (StatusCode::UNAUTHORIZED, "invalid_token", i18n::id_of("invalid_token"), None, None)
        }
        other => {
            tracing::error!(error = %other, "wallet request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error", i18n::id_of("server_error"), None, None)
        }
    };
    // A wrong code, transaction code or access token counts as a failed authentication of
    // the client (see `limits`).
    let auth_failed = matches!(
        e_kind,
        Some(
            WalletError::InvalidGrant
                | WalletError::TxCodeWrong { .. }
                | WalletError::OfferLocked
                | WalletError::InvalidToken
        )
    ) || status == StatusCode::UNAUTHORIZED;
    let mut body = json!({"error": code, "error_description": i18n::wallet_message(lang, &id, left)});
    if let Some(why) = extra {
        // The verifier's reason (or what is wrong with the request), for developers.
        body["reason"] = json!(why);
    }
    let mut resp = (status, Json(body)).into_response();
    if auth_failed {
        resp.extensions_mut().insert(super::limits::AuthFailed);
    }
    resp.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(i18n::tag(lang)));
    match status {
        StatusCode::UNAUTHORIZED => {
            // RFC 6750 section 3.
            let challenge = format!("Bearer error=\"{code}\"");
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        _ => {}
    }
    resp
}

/// The token request (RFC 6749 section 4.1.3 form, OpenID4VCI 1.0 section 6.1).
#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: String,
    #[serde(rename = "pre-authorized_code")]
    code: Option<String>,
    tx_code: Option<String>,
}

async fn token(
    State(s): State<AppState>,
    headers: HeaderMap,
    req: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = lang_of(&headers);
    let Ok(Form(req)) = req else {
        return oauth_error(WalletError::InvalidRequest.into(), lang);
    };
    match s.service.redeem_code(&req.grant_type, req.code.as_deref(), req.tx_code.as_deref()).await {
        Ok(grant) => Json(json!({
            "access_token": grant.access_token.as_str(),
            "token_type": "Bearer",
            "expires_in": grant.expires_in,
        }))
        .into_response(),
        Err(e) => oauth_error(e, lang),
    }
}

/// The Nonce Endpoint (OpenID4VCI 1.0 section 7). Anonymous; a wallet that sends its access
/// token gets a nonce only that session can use.
async fn nonce(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = lang_of(&headers);
    if !body.is_empty() && !super::error::is_json(&headers) {
        // The Nonce Endpoint takes no body; one that is not even JSON is a malformed request.
        return oauth_error(WalletError::InvalidRequest.into(), lang);
    }
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(_) => match bearer(&headers) {
            Some(b) => Some(b),
            None => return oauth_error(WalletError::InvalidToken.into(), lang),
        },
    };
    match s.service.new_nonce(bearer).await {
        Ok(n) => Json(json!({"c_nonce": n.value})).into_response(),
        Err(e) => oauth_error(e, lang),
    }
}

/// The parts of a credential request (OpenID4VCI 1.0 section 8.2) this issuer acts on.
#[derive(Debug)]
struct CredentialRequest {
    configuration: String,
    proofs: Vec<String>,
}

/// Reads a credential request: `credential_configuration_id` and `proofs: {"jwt": [...]}` (or
/// the draft-14 `proof: {"proof_type": "jwt", "jwt": ...}`, not both).
fn parse_credential_request(body: &[u8]) -> Result<CredentialRequest, WalletError> {
    use WalletError::{InvalidCredentialRequest as Bad, InvalidProof};
    let req: Map<String, Value> = serde_json::from_slice(body).map_err(|_| Bad("body is not a JSON object"))?;
    if req.contains_key("credential_response_encryption") {
        return Err(WalletError::InvalidEncryptionParameters);
    }
    if req.contains_key("credential_identifier") {
        return Err(WalletError::UnknownCredentialIdentifier);
    }
    let configuration = match req.get("credential_configuration_id") {
        Some(Value::String(c)) => c.clone(),
        Some(_) => return Err(Bad("credential_configuration_id is not a string")),
        None => return Err(Bad("credential_configuration_id is missing")),
    };
    let proofs = match (req.get("proofs"), req.get("proof")) {
        (Some(_), Some(_)) => return Err(Bad("proof and proofs are both present")),
        (None, None) => return Err(InvalidProof("no_proof")),
        (Some(Value::Object(p)), None) => {
            let mut types = p.iter();
            let (Some((kind, list)), None) = (types.next(), types.next()) else {
                return Err(Bad("proofs must name exactly one proof type"));
            };
            if kind != "jwt" {
                return Err(InvalidProof("unsupported_proof_type"));
            }
            let Value::Array(list) = list else { return Err(Bad("proofs.jwt is not an array")) };
            if list.is_empty() {
                return Err(Bad("proofs.jwt is empty"));
            }
            list.iter()
                .map(|j| j.as_str().map(str::to_owned).ok_or(Bad("proofs.jwt holds a non-string")))
                .collect::<Result<Vec<_>, _>>()?
        }
        (Some(_), None) => return Err(Bad("proofs is not an object")),
        (None, Some(p)) => {
            if p.get("proof_type").and_then(Value::as_str) != Some("jwt") {
                return Err(InvalidProof("unsupported_proof_type"));
            }
            let jwt = p.get("jwt").and_then(Value::as_str).ok_or(Bad("proof.jwt is missing"))?;
            vec![jwt.to_owned()]
        }
    };
    Ok(CredentialRequest { configuration, proofs })
}

async fn credential(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = lang_of(&headers);
    let Some(token) = bearer(&headers) else {
        return oauth_error(WalletError::InvalidToken.into(), lang);
    };
    if body.len() > MAX_REQUEST {
        return oauth_error(WalletError::InvalidCredentialRequest("request too large").into(), lang);
    }
    if !super::error::is_json(&headers) {
        return oauth_error(WalletError::InvalidCredentialRequest("the body must be application/json").into(), lang);
    }
    let req = match parse_credential_request(&body) {
        Ok(r) => r,
        Err(w) => return oauth_error(w.into(), lang),
    };
    let batch = match s.service.issue_credential(token, &req.configuration, &req.proofs).await {
        Ok(b) => b,
        Err(e) => return oauth_error(e, lang),
    };
    let mut qr = Map::new();
    for (p, bytes) in &batch.qr {
        qr.insert(p.as_str().into(), json!(B64.encode(bytes)));
    }
    let credentials: Vec<Value> = batch.sd_jwts.iter().map(|c| json!({"credential": c})).collect();
    // `qr_credentials` and `expires_at` are ours: OpenID4VCI 1.0 clients ignore members they do
    // not know, and our wallet reads the per-purpose QR credentials from there.
    let mut resp = Json(json!({
        "credentials": credentials,
        "qr_credentials": qr,
        "expires_at": batch.expires_at,
    }))
    .into_response();
    resp.extensions_mut().insert(Issued { redelivered: batch.redelivered });
    resp
}

/// A response marker for the issuance metric: a batch was delivered.
#[derive(Debug, Clone, Copy)]
pub struct Issued {
    pub redelivered: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_requests_are_read_as_1_0_says() {
        let ok = |b: &str| parse_credential_request(b.as_bytes()).map(|r| (r.configuration, r.proofs));
        assert_eq!(
            ok(r#"{"credential_configuration_id":"c","proofs":{"jwt":["a","b"]}}"#),
            Ok(("c".into(), vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            ok(r#"{"credential_configuration_id":"c","proof":{"proof_type":"jwt","jwt":"a"}}"#),
            Ok(("c".into(), vec!["a".into()]))
        );
        let code = |b: &str| parse_credential_request(b.as_bytes()).map(|_| ()).unwrap_err().code();
        let both =
            r#"{"credential_configuration_id":"c","proof":{"proof_type":"jwt","jwt":"a"},"proofs":{"jwt":["a"]}}"#;
        assert_eq!(code(both), "invalid_credential_request");
        assert_eq!(code(r#"{"credential_configuration_id":"c"}"#), "invalid_proof");
        assert_eq!(code(r#"{"proofs":{"jwt":["a"]}}"#), "invalid_credential_request");
        assert_eq!(code(r#"{"credential_identifier":"x","proofs":{"jwt":["a"]}}"#), "unknown_credential_identifier");
        assert_eq!(code(r#"{"credential_configuration_id":"c","proofs":{"attestation":["a"]}}"#), "invalid_proof");
        assert_eq!(code(r#"{"credential_configuration_id":"c","proofs":{"jwt":[]}}"#), "invalid_credential_request");
        assert_eq!(
            code(r#"{"credential_configuration_id":"c","proofs":{"jwt":["a"],"x":[]}}"#),
            "invalid_credential_request"
        );
        assert_eq!(
            code(r#"{"credential_configuration_id":"c","proofs":{"jwt":["a"]},"credential_response_encryption":{}}"#),
            "invalid_encryption_parameters"
        );
        assert_eq!(code("[1]"), "invalid_credential_request");
    }
}
