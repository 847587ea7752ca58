//! Who is signed in to the dashboard, and the CSRF tokens of its forms.
//!
//! The session cookie holds an account token (the accounts API's), so the
//! session is a stored account session: it ends at once with a sign-out,
//! a password change elsewhere, a deactivation or the account's deletion,
//! and the role is read from the account on every request. The cookie is
//! HttpOnly, SameSite=Strict, path `/dashboard`, Secure over https.
//!
//! A signed-in form's CSRF token is a keyed hash of the session id: the
//! same for every form of a session, unknown to other sites, compared in
//! constant time. The sign-in form, before there is a session, uses a
//! random token in a cookie and in the form (double submit).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::form::Form;
use super::render;
use crate::accounts::{Caller, Role, session};
use crate::oidc::cookies;
use crate::{ApiError, AppState};

/// The session cookie (an account token).
pub const COOKIE: &str = "aq_dash";
/// The sign-in form's CSRF cookie (double submit).
pub const LOGIN_CSRF: &str = "aq_dash_login";
const PATH: &str = "/dashboard";
const CSRF_DOMAIN: &str = "dashboard-csrf";

/// A `Set-Cookie` for the dashboard (`max_age` 0 deletes it).
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    let c = Cookie::build((name, value))
        .path(PATH)
        .http_only(true)
        .secure(crate::oidc::signin::secure(state))
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

/// Whether two tokens are equal, in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The CSRF token of a session's forms.
fn csrf_for(state: &AppState, sid: &str) -> String {
    URL_SAFE_NO_PAD.encode(state.hasher.hash(CSRF_DOMAIN, sid))
}

/// The signed-in account of a dashboard request.
#[derive(Debug, Clone)]
pub struct Owner {
    pub caller: Caller,
    /// The CSRF token its forms carry.
    pub csrf: String,
}

/// The signed-in account as the pages show it.
#[derive(Debug, Serialize)]
pub struct Me {
    pub email: String,
    pub role: &'static str,
    pub admin: bool,
}

impl Owner {
    pub fn id(&self) -> &str {
        &self.caller.account.id
    }

    pub fn is_admin(&self) -> bool {
        self.caller.role() == Role::Admin
    }

    pub fn me(&self) -> Me {
        Me {
            email: self.caller.account.email.clone(),
            role: self.caller.role().as_str(),
            admin: self.is_admin(),
        }
    }

    /// Admins only: the 403 page for everyone else (what [`Admin`] checks).
    fn admin(&self) -> Result<(), Response> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(render::message(
                StatusCode::FORBIDDEN,
                Some(self),
                "Admins only",
                "Only an admin of this server may see this page or do this.",
            ))
        }
    }
}

/// The signed-in account of a request, if its session cookie is live.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Owner>, ApiError> {
    let Some(token) = cookies::get(headers, COOKIE) else {
        return Ok(None);
    };
    match session::verify(state, &token).await {
        Ok(caller) => Ok(Some(Owner {
            csrf: csrf_for(state, &caller.sid),
            caller,
        })),
        Err(e) if e.status.is_server_error() => Err(e),
        Err(_) => Ok(None),
    }
}

impl FromRequestParts<AppState> for Owner {
    /// Not signed in: to the sign-in page.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match current(state, &parts.headers).await {
            Ok(Some(owner)) => Ok(owner),
            Ok(None) => Err(Redirect::to(super::PREFIX).into_response()),
            Err(e) => Err(render::api_error(None, e)),
        }
    }
}

/// A signed-in admin; anyone else gets the 403 page.
#[derive(Debug, Clone)]
pub struct Admin(pub Owner);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let owner = Owner::from_request_parts(parts, state).await?;
        owner.admin()?;
        Ok(Admin(owner))
    }
}

impl AsRef<Owner> for Owner {
    fn as_ref(&self) -> &Owner {
        self
    }
}

impl AsRef<Owner> for Admin {
    fn as_ref(&self) -> &Owner {
        &self.0
    }
}

/// A form post by `W` (an [`Owner`], or an [`Admin`]) whose CSRF token is
/// right (403 otherwise).
#[derive(Debug)]
pub struct Posted<W = Owner> {
    pub owner: W,
    pub form: Form,
}

impl<W> FromRequest<AppState> for Posted<W>
where
    W: FromRequestParts<AppState, Rejection = Response> + AsRef<Owner> + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let who = W::from_request_parts(&mut parts, state).await?;
        let owner = who.as_ref();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| {
                render::message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some(owner),
                    "Too much to send",
                    "The form was too large. Shorten what you entered and try again.",
                )
            })?;
        let form = Form::parse(&body);
        if !form.get("csrf").is_some_and(|t| same(t, &owner.csrf)) {
            return Err(csrf_refused(Some(owner)));
        }
        Ok(Posted { owner: who, form })
    }
}

/// The 403 page for a form without the right CSRF token.
pub fn csrf_refused(owner: Option<&Owner>) -> Response {
    render::message(
        StatusCode::FORBIDDEN,
        owner,
        "The form could not be accepted",
        "It was not sent from this dashboard, or it is from an earlier session. Go back, reload the page and try again.",
    )
}
