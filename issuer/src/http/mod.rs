//! The HTTP layer: one axum router per feature, merged once in [`app`]. Each handler parses its
//! request, makes one service call and writes the response; it knows no storage engine and no
//! enrollment rule. Errors become responses in one place ([`error`]); the caller is an
//! extractor ([`auth`]).

pub mod admin;
pub mod applications;
pub mod auth;
pub mod custody;
pub mod error;
pub mod oid4vci;
pub mod public;
pub mod registry;

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;

use crate::service::Service;
use error::ApiError;

/// Shared state of the handlers: the service (`Arc`, cheap to clone per request).
#[derive(Clone, Debug)]
pub struct AppState {
    pub service: Arc<Service>,
}

/// Largest request body outside the biometric upload (which has its own limit).
pub const MAX_BODY: usize = 64 * 1024;

/// The whole HTTP API.
pub fn app(service: Arc<Service>) -> Router {
    Router::new()
        .merge(public::router())
        .merge(oid4vci::router())
        .merge(applications::router())
        .merge(admin::router())
        .merge(crate::console::router(&service))
        .merge(registry::router())
        .merge(custody::router())
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn(error::localize))
        .layer(axum::middleware::from_fn(access_log))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(AppState { service })
}

/// One log line per request at `debug` (`RUST_LOG=issuer=debug`): method, route template (ids
/// and query strings left out, so no personal data or secret reaches the log), status, latency.
/// Server errors are logged at `error` where they happen; counting requests is the metrics' job.
async fn access_log(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = req.method().clone();
    let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("-", |p| p.as_str()).to_owned();
    let t0 = std::time::Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(%method, route, status = resp.status().as_u16(), micros = t0.elapsed().as_micros() as u64, "request");
    resp
}

/// A record id from the path's last `{id}`-like segment: anything that does not parse is a 404
/// (JSON, localized) before any storage is touched.
#[derive(Debug, Clone)]
pub struct IdPath<T>(pub T);

impl<S: Send + Sync, T: FromStr + Send> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found())?;
        raw.parse().map(IdPath).map_err(|_| ApiError::not_found())
    }
}

/// The request's `Idempotency-Key`, if it has one (a malformed one is a 400).
#[derive(Debug, Clone)]
pub struct IdemKey(pub Option<crate::service::IdempotencyKey>);

impl IdemKey {
    pub fn get(&self) -> Option<&crate::service::IdempotencyKey> {
        self.0.as_ref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdemKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdemKey(None)),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| v.parse().ok())
                .map(|k| IdemKey(Some(k)))
                .ok_or_else(|| ApiError::bad_request("idempotency_key_invalid").arg("field", "Idempotency-Key")),
        }
    }
}

/// The request's `Accept-Language`, if any.
pub fn lang_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}
