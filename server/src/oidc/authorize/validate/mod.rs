//! Validating an authorization request: pure functions over plain values
//! (the parameters and the client), so every rule is tested by a table and
//! fuzzed, and the handler only translates.
//!
//! Until the client and its redirect URI are known to be right, errors are
//! an error page and never a redirect (RFC 9700 §4.1).
//!
//! Here: the rules ([`validate`], [`client_id`], [`openid_scope`]) and
//! what they answer ([`Valid`], [`AuthError`]). The parameters and how
//! they are read from a query or form are in `params.rs` ([`AuthParams`]);
//! the table of rules and its tests in `tests.rs`.

use authentiq_protocol::errors::OAuthErrorCode;
use authentiq_protocol::scope::{Scope, ScopeName};

use crate::oidc::clients::{self, Client};
use crate::oidc::session::{AuthRequest, ResponseMode};

mod params;
#[cfg(test)]
mod tests;

pub use params::AuthParams;

/// Why a request is refused, and how the answer travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The client or its redirect URI cannot be trusted: an error page.
    Page {
        title: &'static str,
        message: &'static str,
    },
    /// Back to the client's (registered) redirect URI.
    Redirect {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        code: OAuthErrorCode,
        description: String,
    },
}

/// A valid request, and whether it asks for no interaction.
#[derive(Debug, Clone)]
pub struct Valid {
    pub request: AuthRequest,
    pub prompt_none: bool,
}

const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

/// The `client_id` to look up.
pub fn client_id(p: &AuthParams) -> Result<&str, AuthError> {
    p.client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(AuthError::Page {
            title: "Invalid sign-in request",
            message: "The request names no client (client_id is missing).",
        })
}

/// A scope a new grant may ask for: it parses, includes `openid` and names
/// only known scopes (the `invalid_scope` description otherwise).
pub fn openid_scope(scope: &str) -> Result<Scope, String> {
    let scope: Scope = scope
        .parse()
        .map_err(|e: authentiq_protocol::scope::ScopeError| e.to_string())?;
    if !scope.contains(&ScopeName::OpenId) {
        return Err("the scope must include openid".into());
    }
    if let Some(unknown) = scope.unknown().next() {
        return Err(format!("unknown scope {unknown}"));
    }
    Ok(scope)
}

/// Checks the request against its client.
pub fn validate(p: &AuthParams, client: &Client) -> Result<Valid, AuthError> {
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(r) if client.has_redirect_uri(r) => r.to_string(),
        Some(_) => {
            return Err(AuthError::Page {
                title: "Invalid redirect",
                message: "The address this sign-in would return to is not registered for this application, so you are not sent there.",
            });
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(AuthError::Page {
                title: "Invalid sign-in request",
                message: "The request names no redirect_uri.",
            });
        }
    };
    // 2. From here on, errors go back to the client.
    let rt_words = clients::normalize_response_type(p.response_type.as_deref().unwrap_or(""));
    let response_type = rt_words.join(" ");
    let default_mode = if response_type == "code" {
        ResponseMode::Query
    } else {
        ResponseMode::Fragment
    };
    let mode = match p.response_mode.as_deref() {
        None => default_mode,
        Some("query") if response_type == "code" => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => default_mode,
    };
    let fail = |code: OAuthErrorCode, desc: &str| AuthError::Redirect {
        redirect_uri: redirect_uri.clone(),
        mode,
        state: p.state.clone(),
        code,
        description: desc.to_string(),
    };
    if p.response_mode
        .as_deref()
        .is_some_and(|m| !["query", "fragment", "form_post"].contains(&m))
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "unsupported response_mode",
        ));
    }
    if p.response_mode.as_deref() == Some("query") && response_type != "code" {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "tokens are never sent in the query: use fragment or form_post",
        ));
    }
    if p.request.is_some() {
        return Err(fail(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return Err(fail(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if !RESPONSE_TYPES
        .iter()
        .any(|r| clients::normalize_response_type(r) == rt_words)
    {
        return Err(fail(
            OAuthErrorCode::UnsupportedResponseType,
            "unsupported response_type",
        ));
    }
    if !client.allows_response_type(&response_type) {
        return Err(fail(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use this response_type",
        ));
    }
    let scope = match openid_scope(p.scope.as_deref().unwrap_or("")) {
        Ok(s) => s,
        Err(why) => return Err(fail(OAuthErrorCode::InvalidScope, &why)),
    };
    // OIDC Core §3.2.2.1, §3.3.2.11: an ID token or a hybrid response from
    // the authorization endpoint needs a nonce (plain OAuth `token` does not).
    if !matches!(response_type.as_str(), "code" | "token")
        && p.nonce.as_deref().is_none_or(str::is_empty)
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "a nonce is required when tokens come from the authorization endpoint",
        ));
    }
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (Some(_), Some("plain")) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method plain is not supported; use S256",
            ));
        }
        (Some(c), Some("S256")) if is_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge must be 43 characters of base64url (S256)",
            ));
        }
        (Some(_), None) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method is required; use S256",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "unsupported code_challenge_method; use S256",
            ));
        }
        (None, Some(_)) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.require_pkce && rt_words.contains(&"code") => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method S256",
            ));
        }
        (None, None) => {}
    }
    let max_age = match p.max_age.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => {
            return Err(fail(
                OAuthErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            ));
        }
    };
    let prompts: Vec<&str> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        ));
    }
    if let Some(bad) = prompts
        .iter()
        .find(|w| !["none", "login", "consent", "select_account"].contains(w))
    {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            &format!("unsupported prompt {bad}"),
        ));
    }
    // A SHA-256 JWK thumbprint is 43 characters of base64url, as a challenge.
    if p.dpop_jkt.as_deref().is_some_and(|j| !is_challenge(j)) {
        return Err(fail(
            OAuthErrorCode::InvalidRequest,
            "dpop_jkt must be a SHA-256 JWK thumbprint (43 characters of base64url)",
        ));
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        response_type,
        response_mode: mode,
        scope: scope.to_string(),
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        code_challenge: p.code_challenge.clone(),
        max_age,
        dpop_jkt: p.dpop_jkt.clone(),
    };

    Ok(Valid {
        request,
        prompt_none: prompts.contains(&"none"),
    })
}

fn is_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
