//! `/userinfo` (GET and POST): the granted claims, for a Bearer access
//! token in the header, or `access_token` as a form or query parameter; a
//! DPoP-bound token only with the DPoP scheme and a proof.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};

use super::error::OAuthErr;
use super::tokens;
use super::{clients, dpop};
use crate::AppState;

/// 401 `invalid_token` with a DPoP challenge.
fn dpop_refusal(why: &str) -> Response {
    let mut e = OAuthErr::invalid_token(why);
    e.www_authenticate = dpop::challenge("invalid_token", why)
        .to_str()
        .ok()
        .map(str::to_string);
    e.into_response()
}

fn param(s: &str) -> Option<String> {
    crate::extract::form_value(s, "access_token")
}

/// The token in the `Authorization` header, and whether its scheme is DPoP.
fn authorization(headers: &HeaderMap) -> (Option<String>, bool) {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return (None, false);
    };
    let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
    let token = Some(token.trim().to_string()).filter(|t| !t.is_empty());
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => (token, false),
        "dpop" => (token, true),
        _ => (None, false),
    }
}

pub async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (bearer, dpop_scheme) = authorization(&headers);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        std::str::from_utf8(&body).ok().and_then(param)
    } else {
        None
    };
    let query = uri.query().and_then(param);
    let found: Vec<String> = [bearer, form, query].into_iter().flatten().collect();
    let token = match found.as_slice() {
        [t] => t.clone(),
        [] => {
            let mut e = OAuthErr::invalid_token("an access token is required");
            e.code = authentiq_protocol::errors::OAuthErrorCode::InvalidRequest;
            e.www_authenticate = Some(r#"Bearer realm="authentiq""#.into());
            return e.into_response();
        }
        _ => {
            return OAuthErr::invalid_request("send the access token one way only").into_response();
        }
    };
    let grant = match super::grants::live_access_token(&state, &token).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return OAuthErr::invalid_token(
                "the access token is invalid, expired or revoked, or the user signed out",
            )
            .into_response();
        }
        Err(e) => return OAuthErr::from(e).into_response(),
    };
    // DPoP-bound tokens (RFC 9449 §7): the DPoP scheme, with a proof by
    // the bound key for this request and this token; no others with DPoP.
    match (&grant.jkt, dpop_scheme) {
        (Some(jkt), true) => {
            let url = format!("{}/userinfo", state.config.base_url());
            let target = dpop::Target {
                method: method.as_str(),
                url: &url,
                access_token: Some(&token),
            };
            match dpop::proof(&state, &headers, &target).await {
                Ok(Some(p)) if &p.jkt == jkt => {}
                Ok(Some(_)) => {
                    return dpop_refusal(
                        "the DPoP proof is made with another key than the token is bound to",
                    );
                }
                Ok(None) => return dpop_refusal("a DPoP-bound token needs a DPoP proof"),
                Err(e) => return dpop::resource_error(e).into_response(),
            }
        }
        (Some(_), false) => {
            return dpop_refusal(
                "this access token is DPoP-bound: send it with the DPoP scheme and a proof",
            );
        }
        (None, true) => {
            return OAuthErr::invalid_token(
                "this access token is not DPoP-bound: send it as Bearer",
            )
            .into_response();
        }
        (None, false) => {}
    }
    let Ok(Some(client)) = clients::find(&state, &grant.client_id).await else {
        return OAuthErr::invalid_token("the client of this token no longer exists")
            .into_response();
    };
    let mut res = Json(tokens::userinfo(&state, &client, &grant)).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
