//! The SDK endpoints' errors: `{errorCode, errorMessage}` with a fitting
//! status, as seed 003 has them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ApiError;

/// `{errorCode, errorMessage}`, for the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SdkErrorDoc {
    /// e.g. `API_KEYS_MISSING`, `INVALID_API_KEYS`, `ACCOUNT_DEACTIVATED`,
    /// `FLOW_NOT_FOUND`, `RATE_LIMITED`, `TOKEN_EXPIRED`, `TOKEN_ALREADY_USED`.
    pub error_code: String,
    pub error_message: String,
}

#[derive(Debug)]
pub struct SdkError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl SdkError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn keys_missing() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "API_KEYS_MISSING",
            "No API Keys in the Authorization header",
        )
    }

    pub fn invalid_keys() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEYS",
            "The API keys (client id and secret) are not valid",
        )
    }

    pub fn deactivated() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ACCOUNT_DEACTIVATED",
            "Account deactivated. Please contact your Authenteq Sales Representative in order to keep using this service",
        )
    }
}

impl From<ApiError> for SdkError {
    fn from(e: ApiError) -> Self {
        if e.status == StatusCode::TOO_MANY_REQUESTS {
            let mut out = Self::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", e.detail);
            out.retry_after = e.retry_after;
            out
        } else if e.status.is_server_error() {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SERVER_ERROR",
                "The server could not complete the request",
            )
        } else {
            Self::new(e.status, "BAD_REQUEST", e.detail)
        }
    }
}

impl IntoResponse for SdkError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(json!({ "errorCode": self.code, "errorMessage": self.message })),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED && self.code.starts_with("API_KEYS")
            || self.code == "INVALID_API_KEYS"
        {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="authentiq""#),
            );
        }
        res
    }
}
