//! `POST /token`: parsing the request and authenticating the client; the
//! grants themselves (code with PKCE, refresh with rotation and reuse
//! detection) are in [`super::grants`].

use authentiq_protocol::errors::OAuthErrorCode;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use super::clients::{self, Client};
use super::error::OAuthErr;
use super::grants;
use super::tokens;
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

async fn code_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
) -> Result<Response, OAuthErr> {
    let code = form
        .code
        .ok_or_else(|| OAuthErr::invalid_request("code is required"))?;
    let req = grants::CodeRequest {
        code: &code,
        redirect_uri: form.redirect_uri.as_deref(),
        code_verifier: form.code_verifier.as_deref(),
    };
    Ok(respond(
        state,
        grants::exchange_code(state, client, req).await?,
    ))
}

async fn refresh_grant(
    state: &AppState,
    client: &Client,
    form: TokenForm,
) -> Result<Response, OAuthErr> {
    let token = form
        .refresh_token
        .ok_or_else(|| OAuthErr::invalid_request("refresh_token is required"))?;
    let issued = grants::rotate_refresh(state, client, &token, form.scope.as_deref()).await?;
    Ok(respond(state, issued))
}

fn respond(state: &AppState, issued: grants::Issued) -> Response {
    let now = state.now();
    let mut res = Json(json!({
        "access_token": issued.access,
        "token_type": "Bearer",
        "expires_in": tokens::ACCESS_TTL,
        "expires_at": now + tokens::ACCESS_TTL,
        "id_token": issued.id_token,
        "refresh_token": issued.refresh,
        "scope": issued.scope,
    }))
    .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

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
