//! The registry change feed's endpoints: the job's progress and "run it now" (admins), and the
//! report of registry changes per reception point (officers see their own point; admins all).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{Admin, Staff};
use super::error::{ApiError, ApiQuery, NoBody};
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/registry/sync", get(progress).post(run_now))
        .route("/v1/reports/registry-changes", get(report))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v).map(Json).map_err(ApiError::internal)
}

/// The feed position reached, what the feed still holds, and this node's current or last run.
async fn progress(State(s): State<AppState>, Admin(who): Admin) -> Result<Json<Value>, ApiError> {
    to_json(&s.service.registry_sync_report(&who).await?)
}

/// Runs the job now (in the background; its progress on `GET`). Nothing happens twice: a run
/// already going on this node is reported instead.
async fn run_now(
    State(s): State<AppState>,
    Admin(who): Admin,
    _: NoBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    Ok((StatusCode::ACCEPTED, to_json(&s.service.request_registry_sync(&who).await?)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    reception_point: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// Registry changes that touched the point's credentials, in feed order (`after`: where to go on
/// from, the answer's `next_after`, `null` once the end is reached).
async fn report(
    State(s): State<AppState>,
    Staff(who): Staff,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(s.service.registry_report(&who, q.reception_point, q.after.unwrap_or(0), q.limit.unwrap_or(100)).await?))
}
