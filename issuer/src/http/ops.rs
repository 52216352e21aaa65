//! Operations: liveness and readiness for the orchestrator, the audit log's verification and
//! the backup for admins.
//!
//! - `GET /livez`: the process answers (200, always; nothing is checked).
//! - `GET /readyz`: 200 when the node should get traffic, 503 otherwise, with each check
//!   (`store`: a durable write within the bound; `signing_key`: usable, inside its period;
//!   `trust_list` and `status_lists`: fresh). A load balancer takes a node out on 503.
//! - `GET /v1/admin/audit/verify`: recomputes the audit chain and checks the signed
//!   checkpoints; names the first entry changed, removed or moved.
//! - `GET /v1/admin/backup`: a consistent backup of the store and keystores (audited), as a
//!   download (`issuer backup --url …` saves it).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::AppState;
use crate::service::backup::Sources;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/v1/admin/audit/verify", get(verify_audit))
        .route("/v1/admin/backup", get(backup))
}

async fn livez() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Json(json!({"status": "alive"})))
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let r = s.service.readiness(s.service.health_settings()).await;
    let status = if r.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({"status": if r.ready { "ready" } else { "not_ready" }, "checks": r.checks});
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body))
}

async fn verify_audit(State(s): State<AppState>, Admin(who): Admin) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(s.service.verify_audit(&who).await?))
}

/// Deletes the temporary backup file once the download is over (or abandoned).
struct Unlink(std::path::PathBuf);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn backup(
    State(s): State<AppState>,
    Admin(who): Admin,
    Extension(sources): Extension<Arc<Sources>>,
) -> Result<impl IntoResponse, ApiError> {
    let name = format!("backup-{}-{}.vnbak", s.service.now(), crate::ids::TokenId::generate());
    let path = sources.work.join(name);
    let guard = Unlink(path.clone());
    let made = s.service.backup(&who, &sources, &path).await?;
    let file = tokio::fs::File::open(&path).await.map_err(ApiError::internal)?;
    let len = file.metadata().await.map_err(ApiError::internal)?.len();
    let stream = futures_util::StreamExt::map(tokio_util::io::ReaderStream::new(file), move |chunk| {
        let _keep = &guard;
        chunk
    });
    let disposition = format!("attachment; filename=\"issuer-{}.vnbak\"", made.created_at);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(stream),
    ))
}
