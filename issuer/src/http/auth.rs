//! Bearer tokens for officers and admins. Tokens are random 256-bit strings shown once; only
//! their SHA-256 is stored. Every mutating officer or admin endpoint takes one of the extractors
//! below, which check the role: without one, a handler cannot get at the caller, and a router
//! test checks that every mutating route rejects anonymous calls (deny by default). The service
//! checks the role again, and the reception point, for each use case.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::service::Principal;
use crate::store::Role;

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
    Ok(state.service.authenticate(token).await?)
}

/// An authenticated officer.
#[derive(Debug, Clone)]
pub struct Officer(pub Principal);

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

/// Either role, for read-only staff endpoints (views, lists, reports).
#[derive(Debug, Clone)]
pub struct Staff(pub Principal);

impl FromRequestParts<AppState> for Officer {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let p = principal(parts, state).await?;
        if p.role != Role::Officer {
            return Err(ApiError::forbidden());
        }
        Ok(Officer(p))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let p = principal(parts, state).await?;
        if p.role != Role::Admin {
            return Err(ApiError::forbidden());
        }
        Ok(Admin(p))
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Staff(principal(parts, state).await?))
    }
}
