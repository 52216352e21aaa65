//! Bearer tokens for officers and admins. Tokens are random 256-bit strings shown once; only
//! their SHA-256 is stored. Every mutating officer or admin endpoint takes one of the extractors
//! below, which check the role: without one, a handler cannot get at the caller, and the router
//! test checks that every mutating route rejects anonymous calls (deny by default).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages tokens and keys, reads the audit log. Does not decide applications.
    Admin,
    /// Works applications at a reception point.
    Officer,
}

/// A stored token (its hash is the key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub role: Role,
    /// A label such as the officer's badge number; not personal data of applicants.
    pub name: String,
    #[serde(default)]
    pub reception_point: Option<String>,
    pub created_at: u64,
    #[serde(default)]
    pub revoked: bool,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub reception_point: Option<String>,
}

pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A new random secret with a readable prefix (`vnid_adm_…`, `vnid_off_…`, `pac_…`).
pub fn new_secret(prefix: &str) -> Zeroizing<String> {
    let mut b = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(b.as_mut());
    Zeroizing::new(format!("{prefix}{}", B64.encode(b.as_ref())))
}

/// A random id (128 bits) for records.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let token = header.strip_prefix("Bearer ").ok_or_else(ApiError::unauthorized)?;
    if token.len() > 128 {
        return Err(ApiError::unauthorized());
    }
    let rec: TokenRecord = crate::store::Store::get_json(&state.store.t.tokens, &hash_secret(token))?
        .ok_or_else(ApiError::unauthorized)?;
    if rec.revoked {
        return Err(ApiError::unauthorized());
    }
    Ok(Principal { id: rec.id, role: rec.role, name: rec.name, reception_point: rec.reception_point })
}

/// An authenticated officer.
#[derive(Debug, Clone)]
pub struct Officer(pub Principal);

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

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

/// Either role, for read-only staff endpoints (reports).
#[derive(Debug, Clone)]
pub struct Staff(pub Principal);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Staff(principal(parts, state).await?))
    }
}
