//! The one place where errors become HTTP responses.
//!
//! A 4xx carries a stable `error` code and a safe message in the caller's language
//! (`Accept-Language`; Vietnamese by default), plus per-field reasons where there are several. A
//! 5xx says only `internal_error`; the detail goes to the log, never to the client.
//!
//! Handlers return [`ApiError`]; its `IntoResponse` puts the code and arguments in a response
//! extension, and the [`localize`] middleware, which knows the request's language, writes the
//! body.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::i18n;
use crate::service::{ServiceError, WalletError};

pub use crate::service::Reason;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: Reason,
    /// Several reasons at once (eligibility), each localized.
    pub reasons: Vec<Reason>,
    /// For the log only.
    pub internal: Option<String>,
    /// Seconds, for 503 and 429.
    pub retry_after: Option<u32>,
    /// Written in OAuth's shape (`error`, `error_description`, in the wallet's language), for
    /// the wallet-facing endpoints.
    pub oauth: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self { status, reason: Reason::new(code), reasons: Vec::new(), internal: None, retry_after: None, oauth: false }
    }
    pub fn bad_request(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
    pub fn unprocessable(code: &'static str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized")
    }
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden")
    }
    pub fn conflict(code: &'static str) -> Self {
        Self::new(StatusCode::CONFLICT, code)
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self { internal: Some(detail.to_string()), ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error") }
    }
    /// 503 with `Retry-After`: too much work in flight.
    pub fn busy() -> Self {
        Self { retry_after: Some(1), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy") }
    }
    pub fn arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.reason = self.reason.arg(name, value);
        self
    }
    pub fn with_reasons(mut self, reasons: Vec<Reason>) -> Self {
        self.reasons = reasons;
        self
    }
}

/// The one mapping from the service's outcomes to HTTP.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthorized => ApiError::unauthorized(),
            ServiceError::Forbidden => ApiError::forbidden(),
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::BadRequest(r) => ApiError { reason: r, ..ApiError::new(StatusCode::BAD_REQUEST, "") },
            ServiceError::Refused { code, reasons } => ApiError::unprocessable(code).with_reasons(reasons),
            ServiceError::Conflict(r) => ApiError { reason: r, ..ApiError::new(StatusCode::CONFLICT, "") },
            ServiceError::Wallet(w) => {
                let status =
                    if w == WalletError::InvalidToken { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
                let e = ApiError::new(status, w.code());
                match w {
                    WalletError::InvalidProof(why) => e.arg("reason", why),
                    _ => e,
                }
            }
            ServiceError::Busy => ApiError::busy(),
            ServiceError::DiskFull => ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

/// What the middleware localizes.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    reason: Reason,
    reasons: Vec<Reason>,
    retry_after: Option<u32>,
    oauth: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(detail) = &self.internal {
            tracing::error!(code = self.reason.code, %detail, "request failed");
        }
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(Pending {
            reason: self.reason,
            reasons: self.reasons,
            retry_after: self.retry_after,
            oauth: self.oauth,
        });
        resp
    }
}

/// Middleware: writes the localized JSON body of an [`ApiError`] response.
pub async fn localize(req: Request, next: Next) -> Response {
    let header =
        req.headers().get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let resp = next.run(req).await;
    finish(header.as_deref(), resp)
}

/// An [`ApiError`] as a finished response, for answers written outside the router (the
/// connection cap's 503).
pub fn render(e: ApiError, accept_language: Option<&str>) -> Response {
    finish(accept_language, e.into_response())
}

/// Whether a response is an [`ApiError`] the localizer has not written yet.
pub(crate) fn is_pending(resp: &Response) -> bool {
    resp.extensions().get::<Pending>().is_some()
}

/// Writes the body of a response carrying a [`Pending`] error (other headers it carries, such
/// as `Allow` on a 405, are kept).
fn finish(accept_language: Option<&str>, mut resp: Response) -> Response {
    let Some(p) = resp.extensions_mut().remove::<Pending>() else {
        return resp;
    };
    let status = resp.status();
    let lang = if p.oauth { i18n::negotiate_wallet(accept_language) } else { i18n::negotiate(accept_language) };
    let one = |r: &Reason| {
        let mut v = json!({"code": r.code, "message": i18n::message(lang, r.code, &r.args)});
        for (k, a) in &r.args {
            v[*k] = json!(a);
        }
        v
    };
    let body = if p.oauth {
        json!({"error": p.reason.code, "error_description": i18n::message(lang, p.reason.code, &p.reason.args)})
    } else {
        let mut body = one(&p.reason);
        body["error"] = body["code"].take();
        if let Some(m) = body.as_object_mut() {
            m.remove("code");
        }
        if !p.reasons.is_empty() {
            body["reasons"] = p.reasons.iter().map(one).collect();
        }
        body
    };
    let (parts, _) = resp.into_parts();
    let mut out = (status, Json(body)).into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out.headers_mut().insert(axum::http::header::CONTENT_LANGUAGE, HeaderValue::from_static(i18n::tag(lang)));
    if let Some(secs) = p.retry_after {
        out.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED && !out.headers().contains_key(axum::http::header::WWW_AUTHENTICATE) {
        out.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if p.oauth {
        out.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    out
}

/// A request's media type (`Content-Type` without its parameters, lowercase; empty when none).
pub(crate) fn media_type(headers: &axum::http::HeaderMap) -> String {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Whether a request's `Content-Type` is JSON (`application/json` or `…+json`).
pub(crate) fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let essence = media_type(headers);
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a request body within the router's limit: `413 payload_too_large` past it,
/// `400 invalid_request` when it breaks off.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    use axum::extract::FromRequest as _;
    axum::body::Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        } else {
            ApiError::bad_request("invalid_request")
        }
    })
}

/// Reads a body that must be JSON when it is not empty: `415 unsupported_media_type` when it
/// has content of another type.
pub(crate) async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    let json = is_json(req.headers());
    let bytes = body_bytes(req, state).await?;
    if !bytes.is_empty() && !json {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    }
    Ok(bytes)
}

/// A JSON body whose rejections are ours (a stable code, localized) rather than axum's plain
/// text: `invalid_request` for a body that is not the expected JSON, `unsupported_media_type`
/// for another content type, `payload_too_large` past the limit.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|_| ApiError::bad_request("invalid_request"))
    }
}

/// A raw JSON body (the TK01 form, which `enrollment` parses itself), with [`ApiJson`]'s
/// rejections for the type and the size.
#[derive(Debug, Clone)]
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state).await.map(ApiBytes)
    }
}

/// For a route that takes no body: one may come (clients send `{}`), and is read and
/// ignored, but it must be JSON and within the limit like any other.
#[derive(Debug, Clone, Copy)]
pub struct NoBody;

impl<S: Send + Sync> axum::extract::FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state).await.map(|_| NoBody)
    }
}

/// A query string whose rejections are ours: `400 invalid_query` when a parameter does not
/// parse or is unknown.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(q)| ApiQuery(q))
            .map_err(|_| ApiError::bad_request("invalid_query"))
    }
}
