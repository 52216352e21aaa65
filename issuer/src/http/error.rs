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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self { status, reason: Reason::new(code), reasons: Vec::new(), internal: None, retry_after: None }
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
struct Pending {
    reason: Reason,
    reasons: Vec<Reason>,
    retry_after: Option<u32>,
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
        });
        resp
    }
}

/// Middleware: writes the localized JSON body of an [`ApiError`] response.
pub async fn localize(req: Request, next: Next) -> Response {
    let lang = i18n::negotiate(req.headers().get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let mut resp = next.run(req).await;
    let Some(p) = resp.extensions_mut().remove::<Pending>() else {
        return resp;
    };
    let status = resp.status();
    let one = |r: &Reason| {
        let mut v = json!({"code": r.code, "message": i18n::message(lang, r.code, &r.args)});
        for (k, a) in &r.args {
            v[*k] = json!(a);
        }
        v
    };
    let mut body = one(&p.reason);
    body["error"] = body["code"].take();
    if let Some(m) = body.as_object_mut() {
        m.remove("code");
    }
    if !p.reasons.is_empty() {
        body["reasons"] = p.reasons.iter().map(one).collect();
    }
    let mut out = (status, Json(body)).into_response();
    out.headers_mut().insert(axum::http::header::CONTENT_LANGUAGE, HeaderValue::from_static(i18n::tag(lang)));
    if let Some(secs) = p.retry_after {
        out.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        out.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    out
}

/// A JSON body whose rejections are ours (a stable code, localized) rather than axum's plain
/// text: `invalid_request` for a body that is not the expected JSON.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes =
            axum::body::Bytes::from_request(req, state).await.map_err(|_| ApiError::bad_request("invalid_request"))?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|_| ApiError::bad_request("invalid_request"))
    }
}
