//! Authorization responses (RFC 6749 §4.1.2, OIDC Core §3): back to the
//! client's redirect URI in the requested mode, always with `iss`
//! (RFC 9207) and, on success, `session_state`.

use authentiq_protocol::errors::OAuthErrorCode;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use sha2::{Digest, Sha256};

use super::clients::Client;
use super::page;
use super::session::{AuthRequest, ResponseMode, SsoData};
use super::tokens::{self, CodeData, Grant};
use crate::store::{Record, StoreError};
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

/// OIDC Session Management 1.0 §3 `session_state`: a salted hash of the
/// client, the RP's origin and the OP browser state (the script-readable
/// browser state cookie), `<base64url SHA-256>.<salt>`. The session
/// iframe computes the same from the cookie it can read, so the value
/// changes for the RP when the user signs out or in as someone else.
pub fn session_state(
    client_id: &str,
    redirect_uri: &str,
    browser_state: &str,
    salt: &str,
) -> String {
    let origin = url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let hash = Sha256::digest(format!("{client_id} {origin} {browser_state} {salt}").as_bytes());
    format!("{}.{salt}", URL_SAFE_NO_PAD.encode(hash))
}

/// What a completed authorization produced.
#[derive(Debug)]
pub struct Outcome {
    pub response: Response,
}

/// A single-use record a completion spends (keeping its data, as
/// [`super::records::take`] does), and records stored `with` it: in the one
/// transaction that stores the code and tokens, so a sign-in completes once
/// and all of it is durable or none.
#[derive(Debug)]
pub struct Spend {
    pub kind: &'static str,
    pub id: String,
    pub with: Vec<Record>,
}

/// Mints what `request.response_type` asks for and answers the client.
///
/// `sid` is the SSO session the sign-in belongs to, `sso` what it holds. A
/// key that is no longer live gets nothing: `Err` with status 410. With
/// `spend`, a record already spent (or expired) gets nothing either: `Err`
/// with 409.
pub async fn complete(
    state: &AppState,
    client: &Client,
    request: &AuthRequest,
    sid: &str,
    sso: &SsoData,
    spend: Option<Spend>,
) -> Result<Outcome, ApiError> {
    if !super::grants::key_is_live(state, &sso.pk).await? {
        return Err(ApiError::revoked_key("the user's Authentiq ID was revoked"));
    }
    let grant = Grant {
        client_id: client.client_id.clone(),
        pk: sso.pk.clone(),
        scope: sso.granted_scope.clone(),
        requested_scope: request.scope.clone(),
        claims: sso.claims.clone(),
        auth_time: sso.auth_time,
        nonce: request.nonce.clone(),
        sid: sid.to_string(),
        family: crate::secrets::new_job_id(),
        jkt: None,
    };
    let granted_scope = sso.granted_scope.as_str();
    // The client's backend may later name this user by the sub it got.
    let sub = tokens::subject(state, client, &sso.pk);
    super::records::remember_subject(state, &client.client_id, sub, &sso.pk).await?;
    let mut params: Vec<(&str, String)> = Vec::new();
    let mut issue = Vec::new();
    let mut code = None;
    let mut access = None;
    if request.wants("code") {
        let (c, record) = tokens::new_code(
            state,
            &CodeData {
                grant: grant.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                dpop_jkt: request.dpop_jkt.clone(),
            },
        )?;
        issue.push(record);
        params.push(("code", c.clone()));
        code = Some(c);
    }
    if request.wants("token") {
        let t = super::records::new_token();
        issue.push(tokens::access_record(state, &grant, &t)?);
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
    // Last, so nothing that can fail comes after the spend.
    store(state, spend, issue).await?;
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.config.base_url().to_string()));
    params.push((
        "session_state",
        session_state(
            &client.client_id,
            &request.redirect_uri,
            &sso.browser_state,
            &crate::secrets::random_salt(),
        ),
    ));
    Ok(Outcome {
        response: redirect(&request.redirect_uri, request.response_mode, &params),
    })
}

/// Stores what [`complete`] minted: with `spend`, in the one write that
/// spends it; without, each record in a write of its own (one blocking
/// call).
async fn store(state: &AppState, spend: Option<Spend>, issue: Vec<Record>) -> Result<(), ApiError> {
    let now = state.now();
    match spend {
        Some(Spend { kind, id, with }) => {
            let all: Vec<Record> = with.into_iter().chain(issue).collect();
            match state
                .db
                .call(move |s| s.exchange(kind, &id, now, true, &all))
                .await
            {
                Ok(_) => Ok(()),
                Err(StoreError::Conflict(_) | StoreError::NotFound) => {
                    Err(ApiError::conflict("this sign-in was already completed"))
                }
                Err(e) => Err(e.into()),
            }
        }
        None if issue.is_empty() => Ok(()),
        None => Ok(state
            .db
            .call(move |s| issue.iter().try_for_each(|r| s.put_record(r)))
            .await?),
    }
}
