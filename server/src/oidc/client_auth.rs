//! Client authentication at the token-side endpoints (`/token`,
//! `/revoke`, `/introspect`): the form they all read, HTTP Basic
//! (RFC 6749 §2.3.1), `client_secret_post`, or none for public clients.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::clients::{self, AuthMethod, Client};
use super::error::OAuthErr;
use crate::AppState;

/// A form-encoded request body, each parameter at most once (RFC 6749 §3.2).
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// The body of `headers`' request, which must be form-encoded.
    pub fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, OAuthErr> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(OAuthErr::invalid_request(
                "send the request as application/x-www-form-urlencoded",
            ));
        }
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(OAuthErr::invalid_request(format!(
                    "parameter {k} is repeated"
                )));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter that must be there.
    pub fn require(&self, name: &str) -> Result<&str, OAuthErr> {
        self.get(name)
            .ok_or_else(|| OAuthErr::invalid_request(format!("{name} is required")))
    }
}

/// Decodes `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded parts).
pub fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let decoded = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Some(Err(()));
    };
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some(match (unescape(id), unescape(secret)) {
        (Some(i), Some(s)) => Ok((i, s)),
        _ => Err(()),
    })
}

/// Authenticates the client: Basic, form secret, or none for public
/// clients — by the method it registered, and only that one.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Client, OAuthErr> {
    let basic = basic_credentials(headers);
    let used_basic = basic.is_some();
    let (client_id, secret) = match basic {
        Some(Ok((id, secret))) => {
            if form.get("client_secret").is_some() {
                return Err(OAuthErr::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(OAuthErr::invalid_client(
                    "client_id does not match the Basic credentials",
                    true,
                ));
            }
            (id, Some(secret))
        }
        Some(Err(())) => {
            return Err(OAuthErr::invalid_client(
                "malformed Basic credentials",
                true,
            ));
        }
        None => match form.get("client_id") {
            Some(id) => (
                id.to_string(),
                form.get("client_secret").map(str::to_string),
            ),
            None => {
                return Err(OAuthErr::invalid_client(
                    "client authentication is required",
                    false,
                ));
            }
        },
    };
    let client = clients::find(state, &client_id)
        .await
        .map_err(OAuthErr::from)?
        .ok_or_else(|| OAuthErr::invalid_client("unknown client", used_basic))?;
    // The method the client registered, and only that one.
    let method_ok = match client.token_endpoint_auth_method {
        AuthMethod::None => secret.is_none(),
        AuthMethod::ClientSecretBasic => used_basic || secret.is_none(),
        AuthMethod::ClientSecretPost => !used_basic,
    };
    if !method_ok {
        let method = match client.token_endpoint_auth_method {
            AuthMethod::None => "none (a public client has no secret)",
            AuthMethod::ClientSecretBasic => "client_secret_basic (HTTP Basic)",
            AuthMethod::ClientSecretPost => "client_secret_post (client_secret in the body)",
        };
        return Err(OAuthErr::invalid_client(
            format!("this client authenticates with {method}"),
            used_basic,
        ));
    }
    let client = match (client.is_public(), secret) {
        (true, _) => client,
        (false, Some(s)) if client.verify_secret(&s) => client,
        (false, _) => {
            return Err(OAuthErr::invalid_client(
                "wrong or missing client secret",
                used_basic,
            ));
        }
    };
    if client.suspended {
        return Err(OAuthErr::new(
            authentiq_protocol::errors::OAuthErrorCode::UnauthorizedClient,
            "the account this client belongs to is deactivated",
        ));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let v = STANDARD.encode("my%20client:p%40ss");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(Ok(("my client".into(), "p@ss".into())))
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&h), Some(Err(())));
    }
}
