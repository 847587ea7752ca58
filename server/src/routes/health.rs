//! `GET /healthz`: the process is up and its database answers.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// Liveness and readiness.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz",
    responses((status = 200, description = "Up", body = Object),
              (status = 500, description = "The database does not answer", body = crate::error::ProblemBody, content_type = "application/problem+json")))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state
        .db
        .call(|s| {
            s.get_key("").map(|_| ()).or_else(|e| match e {
                crate::store::StoreError::NotFound => Ok(()),
                other => Err(other),
            })
        })
        .await?;
    Ok(Json(
        json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }),
    ))
}
