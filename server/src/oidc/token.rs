//! `POST /token`: the authorization code grant (with PKCE) and the refresh
//! token grant (rotated, with reuse detection).

use authentiq_protocol::errors::OAuthErrorCode;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients::{self, Client};
use super::error::OAuthErr;
use super::records::{self, CODE, REFRESH, Taken};
use super::tokens::{self, CodeData, Grant};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}

/// Form-encoded body, with an OAuth error (not a problem body) when it isn't.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return OAuthErr::invalid_request("send the request as application/x-www-form-urlencoded")
            .into_response();
    }
    let form: TokenForm = match serde_urlencoded_form(&body) {
        Ok(f) => f,
        Err(e) => return OAuthErr::invalid_request(e).into_response(),
    };
    match handle(&state, &headers, form).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn serde_urlencoded_form(body: &[u8]) -> Result<TokenForm, String> {
    let mut f = TokenForm::default();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if !seen.insert(k.to_string()) {
            return Err(format!("parameter {k} is repeated"));
        }
        let v = Some(v.into_owned());
        match k.as_ref() {
            "grant_type" => f.grant_type = v,
            "code" => f.code = v,
            "redirect_uri" => f.redirect_uri = v,
            "code_verifier" => f.code_verifier = v,
            "refresh_token" => f.refresh_token = v,
            "client_id" => f.client_id = v,
            "client_secret" => f.client_secret = v,
            "scope" => f.scope = v,
            _ => {}
        }
    }
    Ok(f)
}

/// Decodes `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded parts).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
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

/// Authenticates the client: Basic, form secret, or none for public clients.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Client, OAuthErr> {
    let basic = basic_credentials(headers);
    let used_basic = basic.is_some();
    let (client_id, secret) = match basic {
        Some(Ok((id, secret))) => {
            if form.client_secret.is_some() {
                return Err(OAuthErr::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if form.client_id.as_deref().is_some_and(|f| f != id) {
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
        None => match &form.client_id {
            Some(id) => (id.clone(), form.client_secret.clone()),
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
    match (client.is_public(), secret) {
        (true, None) => Ok(client),
        (true, Some(_)) => Err(OAuthErr::invalid_client(
            "a public client has no secret",
            used_basic,
        )),
        (false, Some(s)) if client.verify_secret(&s) => Ok(client),
        (false, _) => Err(OAuthErr::invalid_client(
            "wrong or missing client secret",
            used_basic,
        )),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    form: TokenForm,
) -> Result<Response, OAuthErr> {
    let grant_type = form
        .grant_type
        .clone()
        .ok_or_else(|| OAuthErr::invalid_request("grant_type is required"))?;
    let client = authenticate(state, headers, &form).await?;
    match grant_type.as_str() {
        "authorization_code" => code_grant(state, &client, form).await,
        "refresh_token" => refresh_grant(state, &client, form).await,
        other => Err(OAuthErr::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type {other} is not supported"),
        )),
    }
}

fn pkce_ok(challenge: &str, verifier: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    valid && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

async fn code_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
) -> Result<Response, OAuthErr> {
    let code = form
        .code
        .ok_or_else(|| OAuthErr::invalid_request("code is required"))?;
    let data = match records::take::<CodeData>(state, CODE, &records::token_id(&code)).await? {
        Taken::Fresh(d, _) => d,
        Taken::Reused { family } => {
            // A replayed code: revoke everything it issued (RFC 9700 §4.5).
            records::revoke_family(state, &family).await?;
            tracing::warn!(client = %client.client_id, "authorization code reused; revoked its tokens");
            return Err(OAuthErr::invalid_grant(
                "the code was already used; its tokens are revoked",
            ));
        }
        Taken::Missing => return Err(OAuthErr::invalid_grant("the code is unknown or expired")),
    };
    if data.grant.client_id != client.client_id {
        return Err(OAuthErr::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if form.redirect_uri.as_deref() != Some(data.redirect_uri.as_str()) {
        return Err(OAuthErr::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&data.code_challenge, form.code_verifier.as_deref()) {
        (Some(ch), Some(v)) if pkce_ok(ch, v) => {}
        (Some(_), Some(_)) => return Err(OAuthErr::invalid_grant("PKCE verification failed")),
        (Some(_), None) => return Err(OAuthErr::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthErr::invalid_grant(
                "no code_challenge was sent for this code",
            ));
        }
        (None, None) => {}
    }
    issue(state, client, &data.grant).await
}

async fn refresh_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
) -> Result<Response, OAuthErr> {
    let token = form
        .refresh_token
        .ok_or_else(|| OAuthErr::invalid_request("refresh_token is required"))?;
    let grant = match records::take::<Grant>(state, REFRESH, &records::token_id(&token)).await? {
        Taken::Fresh(g, _) => g,
        Taken::Reused { family } => {
            records::revoke_family(state, &family).await?;
            tracing::warn!(client = %client.client_id, "refresh token reused; revoked its family");
            return Err(OAuthErr::invalid_grant(
                "the refresh token was already used; its family is revoked",
            ));
        }
        Taken::Missing => {
            return Err(OAuthErr::invalid_grant(
                "the refresh token is unknown, expired or revoked",
            ));
        }
    };
    if grant.client_id != client.client_id {
        return Err(OAuthErr::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if let Some(scope) = form.scope.as_deref() {
        let have: Vec<&str> = grant.scope.split(' ').collect();
        if scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .any(|s| !have.contains(&s))
        {
            return Err(OAuthErr::new(
                OAuthErrorCode::InvalidScope,
                "a refresh cannot widen the scope",
            ));
        }
    }
    issue(state, client, &grant).await
}

async fn issue(state: &AppState, client: &Client, grant: &Grant) -> Result<Response, OAuthErr> {
    let access = tokens::issue_access(state, grant).await?;
    let refresh = tokens::issue_refresh(state, grant).await?;
    let id_token = tokens::id_token(state, client, grant, Some(&access), None)?;
    let now = state.now();
    let mut res = Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": tokens::ACCESS_TTL,
        "expires_at": now + tokens::ACCESS_TTL,
        "id_token": id_token,
        "refresh_token": refresh,
        "scope": grant.scope,
    }))
    .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(challenge, verifier));
        assert!(!pkce_ok(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"
        ));
        assert!(!pkce_ok(challenge, "short"));
    }

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
