//! The server's one error type, mapped once to HTTP.

use authentiq_protocol::errors::Problem;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a handler can fail with. Each variant knows its status, slug
/// and title; internal details are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("there is no resource at {0}")]
    NoRoute(String),
    #[error("this resource does not support the {0} method")]
    MethodNotAllowed(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `type` slug of the error body.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::NoRoute(_) => "not-found",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::Internal(_) => "internal-error",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            ApiError::NoRoute(_) => "Not found",
            ApiError::MethodNotAllowed(_) => "Method not allowed",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    pub fn to_problem(&self) -> Problem {
        Problem::new(self.status().as_u16(), self.slug(), self.title())
            .with_detail(self.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        let status = self.status();
        let mut res = (status, Json(self.to_problem())).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(Problem::CONTENT_TYPE),
        );
        res
    }
}
