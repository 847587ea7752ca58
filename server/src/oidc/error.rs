//! RFC 6749 error bodies `{error, error_description}` for `/token` and
//! `/userinfo`, with `WWW-Authenticate` where the RFCs ask for it.

use authentiq_protocol::errors::{OAuthError, OAuthErrorCode};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

#[derive(Debug)]
pub struct OAuthErr {
    pub status: StatusCode,
    pub code: OAuthErrorCode,
    pub description: String,
    pub www_authenticate: Option<String>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
    /// A DPoP nonce to use next (`DPoP-Nonce`).
    pub dpop_nonce: Option<String>,
}

impl OAuthErr {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        let status = match code {
            OAuthErrorCode::InvalidClient | OAuthErrorCode::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            OAuthErrorCode::InsufficientScope | OAuthErrorCode::AccessDenied => {
                StatusCode::FORBIDDEN
            }
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            code,
            description: description.into(),
            www_authenticate: None,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, d)
    }

    /// 401 `invalid_client`, with a Basic challenge when the client tried Basic.
    pub fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        let mut e = Self::new(OAuthErrorCode::InvalidClient, d);
        if basic {
            e.www_authenticate = Some(r#"Basic realm="authentiq", charset="UTF-8""#.into());
        }
        e
    }

    /// 401 `invalid_token` for bearer-token resources (RFC 6750 §3).
    pub fn invalid_token(d: impl Into<String>) -> Self {
        let d = d.into();
        let mut e = Self::new(OAuthErrorCode::InvalidToken, d.clone());
        e.www_authenticate = Some(format!(
            r#"Bearer realm="authentiq", error="invalid_token", error_description="{}""#,
            d.replace(['"', '\\'], "'")
        ));
        e
    }
}

impl From<ApiError> for OAuthErr {
    fn from(e: ApiError) -> Self {
        if e.status.is_server_error() {
            OAuthErr::new(
                OAuthErrorCode::ServerError,
                "the server could not complete the request",
            )
        } else if e.status == StatusCode::TOO_MANY_REQUESTS {
            // Not a failure of ours: 429, with when to come back.
            let mut o = OAuthErr::new(OAuthErrorCode::TemporarilyUnavailable, e.detail);
            o.status = StatusCode::TOO_MANY_REQUESTS;
            o.retry_after = e.retry_after;
            o
        } else {
            OAuthErr::invalid_request(e.detail)
        }
    }
}

/// Marks an OAuth answer as never to be cached (RFC 6749 §5.1).
pub fn no_store(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The JSON answer of an OAuth endpoint with `status`, or its error; never
/// cached either way.
pub fn json_answer(status: StatusCode, result: Result<serde_json::Value, OAuthErr>) -> Response {
    match result {
        Ok(body) => {
            let mut res = (status, Json(body)).into_response();
            no_store(&mut res);
            res
        }
        Err(e) => e.into_response(),
    }
}

impl IntoResponse for OAuthErr {
    fn into_response(self) -> Response {
        let body = OAuthError::new(self.code, self.description);
        let mut res = (self.status, Json(body)).into_response();
        no_store(&mut res);
        let h = res.headers_mut();
        if let Some(n) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            h.insert("dpop-nonce", n);
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(v) = self
            .www_authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}
