//! `/authorize` (GET and POST; alias `/sign-in`): validates the request
//! ([`validate`]) and starts a sign-in session, or answers silently from
//! the SSO session.

pub mod validate;

use authentiq_protocol::errors::OAuthErrorCode;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::clients::{self, Client};
use super::page;
use super::records::{self, SESSION};
use super::response::{self, Outcome};
use super::session::{AuthRequest, GrantLink, SESSION_TTL, SessionData, SsoData};
use super::{cookies, signin};
use crate::security::ClientIp;
use crate::{ApiError, AppState};
pub use validate::{AuthError, AuthParams, Valid};

pub async fn get(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let query = uri.query().unwrap_or("").as_bytes();
    match AuthParams::parse(query) {
        Ok(p) => authorize(state, ip, headers, p).await,
        Err(e) => malformed(&e),
    }
}

pub async fn post(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return malformed("send the request as application/x-www-form-urlencoded");
    }
    match AuthParams::parse(&body) {
        Ok(p) => authorize(state, ip, headers, p).await,
        Err(e) => malformed(&e),
    }
}

/// A request whose parameters cannot be read: a page (who to send it back
/// to is not known yet).
fn malformed(why: &str) -> Response {
    page::error_page(
        StatusCode::BAD_REQUEST,
        "Invalid sign-in request",
        &format!("The request cannot be read: {why}."),
    )
}

async fn authorize(state: AppState, ip: ClientIp, headers: HeaderMap, p: AuthParams) -> Response {
    // 1. Who is asking, where the answer goes, and what is asked.
    let client_id = match validate::client_id(&p) {
        Ok(id) => id.to_string(),
        Err(e) => return refusal(&state, e),
    };
    let client_id = client_id.as_str();
    let client = match clients::find(&state, client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return page::error_page(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "The application that sent you here is not registered with this Authentiq server.",
            );
        }
        Err(_) => return page::failure_page(),
    };
    // A pushed request (RFC 9126): the browser carries only its reference.
    let pushed = state.config.oidc.par && p.request_uri.is_some();
    let p = match p.request_uri.as_deref() {
        Some(uri) if pushed => match super::par::resolve(&state, client_id, uri).await {
            Ok(pushed) => pushed,
            Err(message) => {
                return page::error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid sign-in request",
                    message,
                );
            }
        },
        _ => p,
    };
    let Valid {
        request,
        prompt_none,
    } = match validate::validate(&p, &client) {
        Ok(v) => v,
        Err(e) => return refusal(&state, e),
    };
    let fail = |code: OAuthErrorCode, desc: &str| {
        response::redirect_error(
            &state,
            &request.redirect_uri,
            request.response_mode,
            request.state.as_deref(),
            code,
            desc,
        )
    };

    if client.require_pushed_authorization_requests && !pushed {
        return fail(
            OAuthErrorCode::InvalidRequest,
            "this client must push its authorization requests (PAR)",
        );
    }
    if client.suspended {
        return fail(
            OAuthErrorCode::UnauthorizedClient,
            "the account this client belongs to is deactivated",
        );
    }

    // 2. Silent answer from the SSO session.
    let now = state.now();
    let fresh_enough = |s: &SsoData| request.max_age.is_none_or(|m| now - s.auth_time <= m);
    if prompt_none {
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
                match response::complete(&state, &client, &request, &sid, &s, None).await {
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

    // 3. A sign-in session, shown on the sign-in page.
    match start_session(&state, &client, request.clone(), ip, &headers).await {
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

/// The answer to a refused request: a page, or an error at the redirect URI.
fn refusal(state: &AppState, e: AuthError) -> Response {
    match e {
        AuthError::Page { title, message } => {
            page::error_page(StatusCode::BAD_REQUEST, title, message)
        }
        AuthError::Redirect {
            redirect_uri,
            mode,
            state: client_state,
            code,
            description,
        } => response::redirect_error(
            state,
            &redirect_uri,
            mode,
            client_state.as_deref(),
            code,
            &description,
        ),
    }
}

/// The SSO session of this browser, if any (`Err` when it cannot be read).
pub async fn sso_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, SsoData)>, ApiError> {
    let Some(cookie) = cookies::get(headers, cookies::SSO) else {
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
    let sid = crate::secrets::new_job_id();
    begin(state, client, &sid, request, &ip, headers, None).await
}

/// Starts sign-in session `sid` for `request` in this browser (bound to it
/// by a cookie) and sends the browser to its page; `link` is the grant
/// that waits on the answer when it is not this browser's (the device
/// authorization grant).
pub async fn begin(
    state: &AppState,
    client: &Client,
    sid: &str,
    request: AuthRequest,
    ip: &ClientIp,
    headers: &HeaderMap,
    link: Option<GrantLink>,
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
    let binding = records::new_token();
    let requester = crate::routes::login::requester(headers, &ip);
    let mut data = SessionData::pending(request, requester, &binding, now);
    data.link = link;
    // Stored before anything is pushed: a device may answer at once.
    let record = records::new(SESSION, sid, sid, None, &data, now + SESSION_TTL)?;
    records::put(state, record).await?;
    state
        .metrics
        .sign_in(&data, crate::metrics::Outcome::Started);
    // A remembered device: push by itself.
    if let Some(token) = cookies::get(headers, &cookies::push(&client.client_id))
        && let Ok(pk) = signin::remembered_key(state, &token).await
    {
        // Refused (rate, block) or failed: the page offers to push again.
        let _ = signin::push_and_mark(state, client, sid, &data, &pk).await;
    }
    let mut res = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/sign-in/{sid}"))],
    )
        .into_response();
    if let Some(c) = cookies::set(
        &cookies::binding(sid),
        &binding,
        &format!("/sign-in/{sid}"),
        SESSION_TTL,
        state.config.base_url().starts_with("https:"),
    ) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}
