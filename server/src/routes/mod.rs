//! The route table: each module owns its paths; this file only merges them.

mod health;

use axum::Router;
use axum::http::{Method, Uri};

use crate::{ApiError, AppState};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_string())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
