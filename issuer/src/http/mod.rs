//! The HTTP layer: one axum router per feature, merged once in [`app`]. Each handler parses its
//! request, makes one service call and writes the response; it knows no storage engine and no
//! enrollment rule. Errors become responses in one place ([`error`]); the caller is an
//! extractor ([`auth`]).

pub mod admin;
pub mod applications;
pub mod auth;
pub mod custody;
pub mod error;
pub mod limits;
pub mod oid4vci;
pub mod ops;
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

/// The whole HTTP API, without rate limits or metrics (in-process tests).
pub fn app(service: Arc<Service>) -> Router {
    let work = std::env::temp_dir().join("vneid-issuer-backups");
    app_with(
        service,
        Arc::new(limits::Edge::unlimited()),
        crate::service::backup::Sources { keystores: Vec::new(), work },
    )
}

/// The whole HTTP API with its edge: refusals as JSON, rate limits, the request timeout,
/// metrics ([`limits`]), and where backups read the keystores from.
pub fn app_with(service: Arc<Service>, edge: Arc<limits::Edge>, backups: crate::service::backup::Sources) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    Router::new()
        .merge(public::router())
        .merge(oid4vci::router())
        .merge(applications::router())
        .merge(admin::router())
        .merge(ops::router())
        .merge(crate::console::router(&service))
        .merge(registry::router())
        .merge(custody::router())
        .fallback(|| async { ApiError::not_found() })
        // Innermost first: axum's own refusals become ours, then limits, the timeout, the
        // localized body, metrics and the access log.
        .layer(from_fn(limits::json_refusals))
        .layer(from_fn(limits::length_guard))
        .layer(from_fn_with_state(edge.clone(), limits::rate_limit))
        .layer(from_fn_with_state(edge.clone(), limits::request_timeout))
        .layer(from_fn(error::localize))
        .layer(from_fn_with_state(edge, limits::observe))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::Extension(Arc::new(backups)))
        .with_state(AppState { service })
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
