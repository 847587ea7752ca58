//! Authorization responses (RFC 6749 §4.1.2, OIDC Core §3): back to the
//! client's redirect URI in the requested mode, always with `iss`
//! (RFC 9207) and, on success, `session_state`.

use authentiq_protocol::errors::OAuthErrorCode;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::clients::Client;
use super::page;
use super::session::{AuthRequest, ResponseMode};
use super::tokens::{self, CodeData, Grant};
use crate::{ApiError, AppState};

/// Sends `params` to `redirect_uri` in `mode`.
pub fn redirect(redirect_uri: &str, mode: ResponseMode, params: &[(&str, String)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return page::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "The registered redirect address is not a URL.",
        );
    };
    match mode {
        ResponseMode::Query => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            found(url.as_str())
        }
        ResponseMode::Fragment => {
            let frag = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            url.set_fragment(Some(&frag));
            found(url.as_str())
        }
        ResponseMode::FormPost => {
            let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut res = Html(page::render_form_post(redirect_uri, &pairs)).into_response();
            page::form_post_security_headers(
                res.headers_mut(),
                &url.origin().ascii_serialization(),
            );
            res
        }
    }
}

fn found(location: &str) -> Response {
    let mut res = (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// An error for the client, at its (already validated) redirect URI.
pub fn redirect_error(
    state: &AppState,
    redirect_uri: &str,
    mode: ResponseMode,
    client_state: Option<&str>,
    code: OAuthErrorCode,
    description: &str,
) -> Response {
    let mut params = vec![
        ("error", code.as_str().to_string()),
        ("error_description", description.to_string()),
    ];
    if let Some(s) = client_state {
        params.push(("state", s.to_string()));
    }
    params.push(("iss", state.config.base_url().to_string()));
    redirect(redirect_uri, mode, &params)
}

/// OIDC Session Management `session_state`: a salted hash of the client,
/// the RP's origin and the browser's SSO session.
pub fn session_state(client_id: &str, redirect_uri: &str, sso: &str) -> String {
    let origin = url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let salt = URL_SAFE_NO_PAD.encode(crate::secrets::random_bytes::<12>());
    let hash = Sha256::digest(format!("{client_id} {origin} {sso} {salt}").as_bytes());
    format!("{}.{salt}", URL_SAFE_NO_PAD.encode(hash))
}

/// What a completed authorization produced.
#[derive(Debug)]
pub struct Outcome {
    pub response: Response,
}

/// Mints what `request.response_type` asks for and answers the client.
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    state: &AppState,
    client: &Client,
    request: &AuthRequest,
    pk: &str,
    claims: &Map<String, Value>,
    granted_scope: &str,
    auth_time: i64,
    sso: &str,
) -> Result<Outcome, ApiError> {
    let grant = Grant {
        client_id: client.client_id.clone(),
        pk: pk.to_string(),
        scope: granted_scope.to_string(),
        claims: claims.clone(),
        auth_time,
        nonce: request.nonce.clone(),
        sid: sso.to_string(),
        family: crate::secrets::new_job_id(),
    };
    let mut params: Vec<(&str, String)> = Vec::new();
    let mut code = None;
    let mut access = None;
    if request.wants("code") {
        let c = tokens::issue_code(
            state,
            &CodeData {
                grant: grant.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
            },
        )
        .await?;
        params.push(("code", c.clone()));
        code = Some(c);
    }
    if request.wants("token") {
        let t = tokens::issue_access(state, &grant).await?;
        params.push(("access_token", t.clone()));
        params.push(("token_type", "Bearer".into()));
        params.push(("expires_in", tokens::ACCESS_TTL.to_string()));
        params.push(("scope", granted_scope.to_string()));
        access = Some(t);
    }
    if request.wants("id_token") {
        let id = tokens::id_token(state, client, &grant, access.as_deref(), code.as_deref())?;
        params.push(("id_token", id));
    }
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.config.base_url().to_string()));
    params.push((
        "session_state",
        session_state(&client.client_id, &request.redirect_uri, sso),
    ));
    Ok(Outcome {
        response: redirect(&request.redirect_uri, request.response_mode, &params),
    })
}
