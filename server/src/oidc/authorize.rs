//! `/authorize` (GET and POST; alias `/sign-in`): validates the request and
//! starts a sign-in session, or answers silently from the SSO session.
//!
//! Until the client and its redirect URI are known to be right, errors are
//! an error page and never a redirect (RFC 9700 §4.1).

use authentiq_protocol::errors::OAuthErrorCode;
use authentiq_protocol::scope::{Scope, ScopeName};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::clients::{self, Client};
use super::page::{self, MessageKind};
use super::records::{self, SESSION};
use super::response::{self, Outcome};
use super::session::{AuthRequest, ResponseMode, SESSION_TTL, SessionData, SsoData, Status};
use super::{cookies, signin};
use crate::security::ClientIp;
use crate::{ApiError, AppState};

/// The parameters of an authorization request; all optional here so that
/// every problem gets a precise answer.
#[derive(Debug, Default, Deserialize)]
pub struct AuthParams {
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub response_mode: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub display: Option<String>,
    pub ui_locales: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Query(p): Query<AuthParams>,
) -> Response {
    authorize(state, ip, headers, p).await
}

pub async fn post(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(p): Form<AuthParams>,
) -> Response {
    authorize(state, ip, headers, p).await
}

/// An HTML error page (no redirect).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut res = (
        status,
        Html(page::render_message(title, message, MessageKind::Error)),
    )
        .into_response();
    page::security_headers(res.headers_mut());
    res
}

const RESPONSE_TYPES: &[&str] = &[
    "code",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

async fn authorize(state: AppState, ip: ClientIp, headers: HeaderMap, p: AuthParams) -> Response {
    // 1. Who is asking, and where the answer goes: errors here are pages.
    let Some(client_id) = p.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid sign-in request",
            "The request names no client (client_id is missing).",
        );
    };
    let client = match clients::find(&state, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "The application that sent you here is not registered with this Authentiq server.",
            );
        }
        Err(e) => return e.into_response(),
    };
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(r) if client.has_redirect_uri(r) => r.to_string(),
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect",
                "The address this sign-in would return to is not registered for this application, so you are not sent there.",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid sign-in request",
                "The request names no redirect_uri.",
            );
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
    let fail = |code: OAuthErrorCode, desc: &str| {
        response::redirect_error(&state, &redirect_uri, mode, p.state.as_deref(), code, desc)
    };
    if p.response_mode
        .as_deref()
        .is_some_and(|m| !["query", "fragment", "form_post"].contains(&m))
    {
        return fail(OAuthErrorCode::InvalidRequest, "unsupported response_mode");
    }
    if p.response_mode.as_deref() == Some("query") && response_type != "code" {
        return fail(
            OAuthErrorCode::InvalidRequest,
            "tokens are never sent in the query: use fragment or form_post",
        );
    }
    if p.request.is_some() {
        return fail(
            OAuthErrorCode::RequestNotSupported,
            "request objects are not supported",
        );
    }
    if p.request_uri.is_some() {
        return fail(
            OAuthErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        );
    }
    if !RESPONSE_TYPES
        .iter()
        .any(|r| clients::normalize_response_type(r) == rt_words)
    {
        return fail(
            OAuthErrorCode::UnsupportedResponseType,
            "unsupported response_type",
        );
    }
    if !client.allows_response_type(&response_type) {
        return fail(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use this response_type",
        );
    }
    let scope: Scope = match p.scope.as_deref().unwrap_or("").parse() {
        Ok(s) => s,
        Err(e) => return fail(OAuthErrorCode::InvalidScope, &e.to_string()),
    };
    if !scope.contains(&ScopeName::OpenId) {
        return fail(
            OAuthErrorCode::InvalidScope,
            "the scope must include openid",
        );
    }
    if let Some(unknown) = scope.unknown().next() {
        return fail(
            OAuthErrorCode::InvalidScope,
            &format!("unknown scope {unknown}"),
        );
    }
    if response_type != "code" && p.nonce.as_deref().is_none_or(str::is_empty) {
        return fail(
            OAuthErrorCode::InvalidRequest,
            "a nonce is required when tokens come from the authorization endpoint",
        );
    }
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (Some(_), Some("plain")) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method plain is not supported; use S256",
            );
        }
        (Some(c), Some("S256")) if is_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge must be 43 characters of base64url (S256)",
            );
        }
        (Some(_), None) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method is required; use S256",
            );
        }
        (Some(_), Some(_)) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "unsupported code_challenge_method; use S256",
            );
        }
        (None, Some(_)) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            );
        }
        (None, None) if client.is_public() && rt_words.contains(&"code") => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "public clients must use PKCE (code_challenge with S256)",
            );
        }
        (None, None) => {}
    }
    let max_age = match p.max_age.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            );
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
        return fail(
            OAuthErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        );
    }
    if let Some(bad) = prompts
        .iter()
        .find(|w| !["none", "login", "consent", "select_account"].contains(w))
    {
        return fail(
            OAuthErrorCode::InvalidRequest,
            &format!("unsupported prompt {bad}"),
        );
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        response_type,
        response_mode: mode,
        scope: scope.to_string(),
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        code_challenge: p.code_challenge.clone(),
        max_age,
    };

    // 3. Silent answer from the SSO session.
    let now = state.now();
    let fresh_enough = |s: &SsoData| request.max_age.is_none_or(|m| now - s.auth_time <= m);
    if prompts.contains(&"none") {
        let sso = match sso_session(&state, &headers).await {
            Ok(sso) => sso,
            Err(_) => {
                return fail(
                    OAuthErrorCode::ServerError,
                    "the sign-in session could not be read",
                );
            }
        };
        return match sso {
            Some((sid, s)) if fresh_enough(&s) => {
                match response::complete(
                    &state,
                    &client,
                    &request,
                    &s.pk,
                    &s.claims,
                    &s.granted_scope,
                    s.auth_time,
                    &sid,
                )
                .await
                {
                    Ok(Outcome { response, .. }) => response,
                    // The key was revoked since: its sessions are over.
                    Err(e) if e.status == StatusCode::GONE => fail(
                        OAuthErrorCode::LoginRequired,
                        "no sign-in session: the user must sign in",
                    ),
                    Err(_) => fail(
                        OAuthErrorCode::ServerError,
                        "the sign-in could not be completed",
                    ),
                }
            }
            _ => fail(
                OAuthErrorCode::LoginRequired,
                "no sign-in session: the user must sign in",
            ),
        };
    }

    // 4. A sign-in session, shown on the sign-in page.
    match start_session(&state, &client, request, ip, &headers).await {
        Ok(res) => res,
        Err(e) => {
            if e.status == StatusCode::TOO_MANY_REQUESTS {
                fail(OAuthErrorCode::TemporarilyUnavailable, &e.detail)
            } else {
                fail(OAuthErrorCode::ServerError, "could not start the sign-in")
            }
        }
    }
}

fn is_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The SSO session of this browser, if any (`Err` when it cannot be read).
pub async fn sso_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, SsoData)>, ApiError> {
    let Some(cookie) = cookies::get(headers, signin::SSO_COOKIE) else {
        return Ok(None);
    };
    let id = records::token_id(&cookie);
    Ok(records::get::<SsoData>(state, records::SSO, &id)
        .await?
        .map(|(data, _)| (id, data)))
}

async fn start_session(
    state: &AppState,
    client: &Client,
    request: AuthRequest,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let ip = ip.to_string();
    let rate = &state.config.rate;
    state
        .rate_limit(
            format!("signin-ip:{ip}"),
            rate.sign_ins_per_ip_per_minute,
            60,
            "sign-in attempts from this address",
        )
        .await?;
    let now = state.now();
    let sid = crate::secrets::new_job_id();
    let binding = records::new_token();
    let numbers = crate::routes::login::candidate_numbers();
    let shown = numbers[usize::from(crate::secrets::random_bytes::<1>()[0]) % 3];
    let requester = crate::routes::login::requester(headers, &ip);
    let data = SessionData {
        request,
        push_nonce: records::new_token(),
        numbers,
        shown,
        status: Status::Pending,
        browser: records::token_id(&binding),
        csrf: records::new_token(),
        ip: requester.ip,
        user_agent: requester.user_agent,
        created_at: now,
        expires_at: now + SESSION_TTL,
        pk: None,
        claims: Default::default(),
        granted_scope: String::new(),
        auth_time: None,
        push_token: None,
        pushed: false,
        wrong_numbers: 0,
        reported: false,
    };
    // Stored before anything is pushed: a device may answer at once.
    let record = records::new(SESSION, &sid, &sid, None, &data, now + SESSION_TTL)?;
    records::put(state, record).await?;
    // A remembered device: push by itself.
    if let Some(token) = cookies::get(headers, &signin::push_cookie_name(&client.client_id))
        && let Ok(pk) = signin::remembered_key(state, &token).await
        && signin::push(state, client, &sid, &data, &pk).await.is_ok()
    {
        // Only the flag: an answer may already have arrived meanwhile.
        records::modify(state, SESSION, &sid, |d: &mut SessionData| {
            d.pushed = true;
            Ok(())
        })
        .await?;
    }
    let mut res = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/sign-in/{sid}"))],
    )
        .into_response();
    if let Some(c) = cookies::set(
        &signin::binding_cookie_name(&sid),
        &binding,
        &format!("/sign-in/{sid}"),
        SESSION_TTL,
        state.config.base_url().starts_with("https:"),
    ) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}
