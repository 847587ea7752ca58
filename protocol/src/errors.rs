//! The three error bodies the server speaks, one per API surface.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Issuer and accounts APIs: `{error, type, title, detail}` (problem+json
/// style, with the HTTP status in `error` as the seed API documents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The HTTP status code.
    pub error: u16,
    /// A stable slug naming the error, e.g. `unknown-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short human summary of the kind.
    pub title: String,
    /// What went wrong with this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Problem {
    pub const CONTENT_TYPE: &'static str = "application/problem+json";

    pub fn new(status: u16, kind: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            error: status,
            kind: kind.into(),
            title: title.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The error codes of RFC 6749, RFC 6750, OpenID Connect Core and RFC 8628/CIBA
/// that the provider can answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AccountSelectionRequired,
    InvalidRequestUri,
    InvalidRequestObject,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    InvalidRedirectUri,
    InvalidClientMetadata,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidBindingMessage,
    UnknownUserId,
    ExpiredLoginHintToken,
    InvalidDpopProof,
    UseDpopNonce,
}

impl OAuthErrorCode {
    pub fn as_str(&self) -> &'static str {
        use OAuthErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            AccountSelectionRequired => "account_selection_required",
            InvalidRequestUri => "invalid_request_uri",
            InvalidRequestObject => "invalid_request_object",
            RequestNotSupported => "request_not_supported",
            RequestUriNotSupported => "request_uri_not_supported",
            RegistrationNotSupported => "registration_not_supported",
            InvalidRedirectUri => "invalid_redirect_uri",
            InvalidClientMetadata => "invalid_client_metadata",
            AuthorizationPending => "authorization_pending",
            SlowDown => "slow_down",
            ExpiredToken => "expired_token",
            InvalidBindingMessage => "invalid_binding_message",
            UnknownUserId => "unknown_user_id",
            ExpiredLoginHintToken => "expired_login_hint_token",
            InvalidDpopProof => "invalid_dpop_proof",
            UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OAuth and OIDC endpoints: `{error, error_description}` (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
        }
    }
}

/// SDK token endpoints keep the original `{errorCode, errorMessage}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkError {
    pub error_code: String,
    pub error_message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problem_shape() {
        let p = Problem::new(404, "unknown-key", "Unknown key").with_detail("no such PK");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"error":404,"type":"unknown-key","title":"Unknown key","detail":"no such PK"})
        );
        let back: Problem =
            serde_json::from_value(json!({"error":410,"type":"revoked-key","title":"Revoked"}))
                .unwrap();
        assert_eq!(back.detail, None);
    }

    #[test]
    fn oauth_error_shape_and_codes() {
        let e = OAuthError::new(OAuthErrorCode::InvalidGrant, "code already used");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"error":"invalid_grant","error_description":"code already used"})
        );
        // as_str and serde agree for every code.
        for code in [
            OAuthErrorCode::LoginRequired,
            OAuthErrorCode::AccessDenied,
            OAuthErrorCode::InvalidRequestUri,
            OAuthErrorCode::SlowDown,
        ] {
            assert_eq!(serde_json::to_value(&code).unwrap(), json!(code.as_str()));
        }
    }

    #[test]
    fn sdk_error_shape() {
        let e = SdkError {
            error_code: "INVALID_CREDENTIALS".into(),
            error_message: "bad client secret".into(),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"errorCode":"INVALID_CREDENTIALS","errorMessage":"bad client secret"})
        );
    }
}
