//! The server's one error type, mapped once to HTTP as `{error, type,
//! title, detail}`. Handlers build it with the named constructors; 5xx
//! details are logged and never sent.

use authentiq_protocol::JwsError;
use authentiq_protocol::errors::Problem;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// `{error, type, title, detail}` — every error of the issuer API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// The HTTP status code.
    pub error: u16,
    /// A stable slug, e.g. `unknown-key`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    pub title: String,
    pub detail: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable slug: the `type` of the body.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.kind, self.detail)
    }
}

impl std::error::Error for ApiError {}

macro_rules! constructors {
    ($($name:ident => $status:ident, $kind:literal, $title:literal;)*) => {
        impl ApiError {
            $(
                pub fn $name(detail: impl Into<String>) -> Self {
                    Self {
                        status: StatusCode::$status,
                        kind: $kind,
                        title: $title,
                        detail: detail.into(),
                        retry_after: None,
                    }
                }
            )*
        }
    };
}

constructors! {
    bad_request => BAD_REQUEST, "bad-request", "Bad request";
    invalid_jwt => BAD_REQUEST, "invalid-jwt", "Malformed JWT";
    auth_error => UNAUTHORIZED, "auth-error", "Authentication error";
    forbidden => FORBIDDEN, "forbidden", "Forbidden";
    aud_error => UNAUTHORIZED, "aud-error", "Unauthorized for this audience";
    unknown_key => NOT_FOUND, "unknown-key", "Unknown key";
    unknown_job => NOT_FOUND, "unknown-job", "Job not found";
    not_found => NOT_FOUND, "not-found", "Not found";
    method_not_allowed => METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed";
    not_supported => METHOD_NOT_ALLOWED, "not-supported", "Not supported";
    timeout => REQUEST_TIMEOUT, "timeout", "Request timeout";
    duplicate_key => CONFLICT, "duplicate-key", "Key already registered";
    duplicate_hash => CONFLICT, "duplicate-hash", "Already bound to another key";
    confirm_first => CONFLICT, "confirm-first", "Confirm first";
    conflict => CONFLICT, "conflict", "Conflict";
    revoked_key => GONE, "revoked-key", "Key is revoked";
    too_large => PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large";
    unsupported_media_type => UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type";
    header_too_large => REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "Request headers too large";
    delivery_failed => BAD_GATEWAY, "delivery-failed", "Message delivery failed";
    internal => INTERNAL_SERVER_ERROR, "internal-error", "Internal server error";
}

impl ApiError {
    pub fn rate_limited(retry_after: u64, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "rate-limit",
            title: "Too many requests",
            detail: detail.into(),
            retry_after: Some(retry_after),
        }
    }

    /// A generic body for a status produced outside the handlers (by a
    /// layer or by axum itself), keeping the documented shape.
    pub fn from_status(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("Error");
        let mut e = match status {
            StatusCode::NOT_FOUND => Self::not_found("there is no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => {
                Self::method_not_allowed("this resource does not support the method")
            }
            StatusCode::PAYLOAD_TOO_LARGE => Self::too_large("the request body is too large"),
            StatusCode::REQUEST_TIMEOUT => Self::timeout("the request took too long"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::unsupported_media_type("the request body has an unsupported type")
            }
            s if s.is_server_error() => Self::internal("the server could not complete the request"),
            _ => Self::bad_request(reason),
        };
        e.status = status;
        e
    }

    pub fn to_problem(&self) -> Problem {
        Problem::new(self.status.as_u16(), self.kind, self.title).with_detail(self.detail.clone())
    }
}

/// Maps a refused JWT to the status the seed API documents: structure
/// problems are 400, failed authentication 401, the wrong audience
/// `aud-error`, size 413.
impl From<JwsError> for ApiError {
    fn from(e: JwsError) -> Self {
        use JwsError::*;
        let detail: String = e.to_string().chars().take(200).collect();
        match e {
            TooLarge { .. } => ApiError::too_large(detail),
            AudienceMismatch(_) => ApiError::aud_error(detail),
            BadSignature
            | AlgNone
            | UnsupportedAlg(_)
            | KidMismatch { .. }
            | SubjectMismatch
            | IssuerMismatch
            | Expired { .. }
            | NotYetValid { .. }
            | IssuedInFuture { .. }
            | TooOld { .. }
            | LifetimeTooLong { .. }
            | WrongType { .. } => ApiError::auth_error(detail),
            Random => ApiError::internal("no randomness"),
            SegmentCount(_) | Base64(_) | Header(_) | Critical | SignatureLength(_)
            | MissingKid | KidNotAnId(_) | Payload(_) | MissingClaim(_) | DuplicateClaim(_) => {
                ApiError::invalid_jwt(detail)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("no such record"),
            StoreError::Conflict(what) => ApiError::conflict(what),
            StoreError::Backend(msg) => {
                tracing::error!(error = %msg, "storage failure");
                ApiError::internal("the server could not complete the request")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(
                status = self.status.as_u16(),
                kind = self.kind,
                "answered with a server error"
            );
        }
        let mut res = (self.status, Json(self.to_problem())).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(Problem::CONTENT_TYPE),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
