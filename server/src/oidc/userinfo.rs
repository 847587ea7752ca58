//! `/userinfo` (GET and POST): the granted claims, for a Bearer access
//! token in the header, or `access_token` as a form or query parameter.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};

use super::clients;
use super::error::OAuthErr;
use super::tokens;
use crate::AppState;

fn param(s: &str) -> Option<String> {
    crate::extract::form_value(s, "access_token")
}

pub async fn userinfo(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
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
