//! Signing in to the dashboard with an account's email and password (the
//! accounts API's check, with its login limits) or with the Authentiq ID
//! the account linked ([`super::authentiq`]), and signing out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::authentiq::{self, Purpose, Refusal};
use super::form::Form;
use super::render;
use super::session::{self, COOKIE, LOGIN_CSRF, Posted};
use crate::AppState;
use crate::accounts::routes::check_credentials;
use crate::oidc::cookies;
use crate::security::ClientIp;
use crate::store::{Account, StoreError};

/// Where a signed-in owner starts.
pub const HOME: &str = "/dashboard/clients";

#[derive(Serialize)]
struct SignInCtx<'a> {
    login_csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

/// `GET /dashboard`: the sign-in form, or the clients once signed in.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session::current(&state, &headers).await {
        Ok(Some(_)) => Redirect::to(HOME).into_response(),
        Ok(None) => form_page(&state, StatusCode::OK, "", None),
        Err(e) => render::api_error(None, e),
    }
}

/// The sign-in form, with a new CSRF token in the form and its cookie.
fn form_page(state: &AppState, status: StatusCode, email: &str, error: Option<&str>) -> Response {
    let token = crate::secrets::new_secret();
    let ctx = SignInCtx {
        login_csrf: &token,
        email,
        error,
    };
    let mut res = render::page(status, "sign-in.html", None, "sign-in", &ctx);
    if let Some(c) = session::cookie(state, LOGIN_CSRF, &token, 1800) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `POST /dashboard/sign-in`: email and password.
pub async fn submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let email: String = form.text("email").chars().take(320).collect();
    let csrf_ok = match (cookies::get(&headers, LOGIN_CSRF), form.get("csrf")) {
        (Some(cookie), Some(field)) => session::same(&cookie, field),
        _ => false,
    };
    if !csrf_ok {
        let why = "The sign-in form expired or was not sent from this page. Sign in again.";
        return form_page(&state, StatusCode::FORBIDDEN, &email, Some(why));
    }
    let password = form.get("password").unwrap_or_default().to_string();
    let account = match check_credentials(&state, &ip, &email, password).await {
        Ok(a) => a,
        Err(e) if e.status.is_server_error() => return render::api_error(None, e),
        Err(e) => {
            let why = match e.status {
                StatusCode::BAD_REQUEST => "Enter the email address of your account.".to_string(),
                StatusCode::TOO_MANY_REQUESTS => {
                    let mins = e.retry_after.unwrap_or(60).div_ceil(60);
                    format!(
                        "Too many failed sign-ins. Try again in {mins} minute{}.",
                        if mins == 1 { "" } else { "s" }
                    )
                }
                _ if e.detail.contains("deactivated") => {
                    "This account is deactivated. Ask an admin of this server.".to_string()
                }
                _ => "The email or the password is not right.".to_string(),
            };
            let mut res = form_page(&state, e.status, &email, Some(&why));
            if let Some(secs) = e.retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return res;
        }
    };
    tracing::info!(account = %account.id, "signed in to the dashboard with a password");
    signed_in(&state, &account).await
}

/// A new session for `account`: its cookie set, the sign-in form's gone,
/// on to the clients.
async fn signed_in(state: &AppState, account: &Account) -> Response {
    let token = match crate::accounts::session::start(state, account).await {
        Ok(t) => t,
        Err(e) => return render::api_error(None, e),
    };
    let ttl = state.config.accounts.token_ttl_secs.max(60);
    let mut res = Redirect::to(HOME).into_response();
    let h = res.headers_mut();
    for c in [
        session::cookie(state, COOKIE, &token, ttl),
        session::cookie(state, LOGIN_CSRF, "", 0),
    ]
    .into_iter()
    .flatten()
    {
        h.append(header::SET_COOKIE, c);
    }
    res
}

/// `GET /dashboard/authentiq`: "Sign in with Authentiq", through this
/// server's `/authorize` ([`authentiq`]).
pub async fn start_authentiq(State(state): State<AppState>) -> Response {
    authentiq::begin(&state, &Purpose::SignIn)
}

/// The end of "Sign in with Authentiq": the account that linked `pk`, if
/// it is active, gets a session like a password sign-in.
pub async fn with_authentiq(state: &AppState, pk: &str) -> Response {
    let owned = pk.to_string();
    let account = match state.db.call(move |s| s.find_account_by_pk(&owned)).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => {
            let why = "No account of this dashboard is linked to this Authentiq ID. Sign in with your email and password, then link the ID on the Account page.";
            return form_page(state, StatusCode::FORBIDDEN, "", Some(why));
        }
        Err(e) => return render::api_error(None, e.into()),
    };
    if account.deactivated_at.is_some() {
        let why = "This account is deactivated. Ask an admin of this server.";
        return form_page(state, StatusCode::FORBIDDEN, &account.email, Some(why));
    }
    tracing::info!(account = %account.id, "signed in to the dashboard with Authentiq");
    signed_in(state, &account).await
}

/// A "Sign in with Authentiq" that did not end in an Authentiq ID: the
/// sign-in form, saying why.
pub fn refused(state: &AppState, r: Refusal) -> Response {
    if r.status.is_server_error() {
        return render::message(r.status, None, "Something went wrong", &r.message);
    }
    form_page(state, r.status, "", Some(&r.message))
}

/// `POST /dashboard/sign-out`: this session ends.
pub async fn sign_out(State(state): State<AppState>, posted: Posted) -> Response {
    let sid = posted.owner.caller.sid.clone();
    if let Err(e) = state.db.call(move |s| s.delete_account_session(&sid)).await {
        return render::api_error(Some(&posted.owner), e.into());
    }
    signed_out(&state)
}

/// To the sign-in page, the session cookie gone.
pub fn signed_out(state: &AppState) -> Response {
    let mut res = Redirect::to(super::PREFIX).into_response();
    if let Some(c) = session::cookie(state, COOKIE, "", 0) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
