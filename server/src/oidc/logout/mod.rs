//! RP-Initiated Logout 1.0 at `/logout` (GET and POST), and what ending a
//! session does: [`end`] ends SSO sessions and key grants, [`backchannel`]
//! tells the clients (Back-Channel Logout 1.0).
//!
//! With an `id_token_hint` for this browser's session the user is signed
//! out at once; without one, or with one for another session, a plain
//! confirmation form asks first (so a third party cannot sign the user out
//! with a link). `post_logout_redirect_uri` must be registered for the
//! client, exactly; otherwise the user stays on our "signed out" page.

pub mod backchannel;
pub mod end;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::clients::{self, Client};
use super::page::{self, MessageKind, error_page, failure_page};
use super::{authorize, cookies, signin};
use crate::AppState;

/// The parameters of a logout request (and of its confirmation form).
#[derive(Debug, Default, Clone)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub ui_locales: Option<String>,
    pub logout_hint: Option<String>,
    /// The confirmation form's answer and its CSRF token.
    pub confirm: Option<String>,
    pub csrf: Option<String>,
}

impl LogoutParams {
    /// From a query or a form body; a repeated parameter is refused.
    pub fn parse(form: &[u8]) -> Result<Self, String> {
        let mut p = Self::default();
        let mut seen = std::collections::HashSet::new();
        for (k, v) in url::form_urlencoded::parse(form) {
            if !seen.insert(k.clone()) {
                return Err(format!("the parameter {k} is repeated"));
            }
            let slot = match k.as_ref() {
                "id_token_hint" => &mut p.id_token_hint,
                "client_id" => &mut p.client_id,
                "post_logout_redirect_uri" => &mut p.post_logout_redirect_uri,
                "state" => &mut p.state,
                "ui_locales" => &mut p.ui_locales,
                "logout_hint" => &mut p.logout_hint,
                "confirm" => &mut p.confirm,
                "csrf" => &mut p.csrf,
                _ => continue,
            };
            *slot = Some(v.into_owned()).filter(|v| !v.is_empty());
        }
        Ok(p)
    }

    /// What the confirmation form carries back.
    fn hidden_fields(&self) -> Vec<(&'static str, String)> {
        [
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
            ("ui_locales", &self.ui_locales),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    match LogoutParams::parse(uri.query().unwrap_or("").as_bytes()) {
        Ok(p) => logout(&state, &headers, p, false).await,
        Err(e) => invalid(&e),
    }
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match LogoutParams::parse(&body) {
        Ok(p) => logout(&state, &headers, p, true).await,
        Err(e) => invalid(&e),
    }
}

fn invalid(why: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Invalid sign-out request",
        &format!("The request cannot be used: {why}."),
    )
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    mut p: LogoutParams,
    posted: bool,
) -> Response {
    // 1. Who asks, and where the user may go afterwards.
    let hint = match p.id_token_hint.as_deref() {
        Some(t) => match super::tokens::verify_id_token_hint(state, t).await {
            Ok(found) => Some(found),
            Err(why) => return invalid(why),
        },
        None => None,
    };
    let client: Option<Client> = match (&hint, p.client_id.as_deref()) {
        (Some((_, c)), Some(id)) if c.client_id != id => {
            return invalid("client_id is not the audience of id_token_hint");
        }
        (Some((_, c)), _) => Some(c.clone()),
        (None, Some(id)) => match clients::find(state, id).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => return invalid("the client is not registered"),
            Err(_) => return failure_page(),
        },
        (None, None) => None,
    };
    if let Some(c) = &client {
        p.client_id = Some(c.client_id.clone());
    }
    if let Some(uri) = p.post_logout_redirect_uri.as_deref() {
        let registered = client
            .as_ref()
            .is_some_and(|c| c.has_post_logout_redirect_uri(uri));
        if !registered {
            return invalid(
                "post_logout_redirect_uri is not registered for the client (name the client with id_token_hint or client_id)",
            );
        }
    }
    // 2. This browser's session, if any.
    let session = match authorize::sso_session(state, headers).await {
        Ok(s) => s,
        Err(_) => return failure_page(),
    };
    let Some((sid, sso)) = session else {
        return signed_out(&p);
    };
    let hinted = hint
        .as_ref()
        .is_some_and(|(claims, _)| claims["sid"].as_str() == Some(sid.as_str()));
    let confirmed = posted
        && p.confirm.as_deref() == Some("yes")
        && match (
            cookies::get(headers, cookies::LOGOUT_CSRF),
            p.csrf.as_deref(),
        ) {
            (Some(c), Some(f)) => bool::from(c.as_bytes().ct_eq(f.as_bytes())),
            _ => false,
        };
    if !(hinted || confirmed) {
        return confirmation(state, &p, client.as_ref());
    }
    // 3. End it, and tell the clients.
    if let Err(e) = end::end_sso_session(state, &sid, &sso.pk).await {
        tracing::warn!(error = %e, "cannot end an SSO session");
        return failure_page();
    }
    let mut res = signed_out(&p);
    let sec = signin::secure(state);
    for c in [
        cookies::set(cookies::SSO, "", "/", 0, sec),
        cookies::set_browser_state("", 0, sec),
        cookies::set_logout_csrf("", sec),
    ]
    .into_iter()
    .flatten()
    {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// After logout (or with nothing to log out): back to the client's
/// registered URI with its `state`, or our page.
fn signed_out(p: &LogoutParams) -> Response {
    let Some(uri) = p.post_logout_redirect_uri.as_deref() else {
        let mut res = axum::response::Html(page::render_message(
            "Signed out",
            "You are signed out of Authentiq in this browser. You can close this page.",
            MessageKind::Info,
        ))
        .into_response();
        page::security_headers(res.headers_mut());
        return res;
    };
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return failure_page(),
    };
    if let Some(s) = &p.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    let mut res = (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// "Sign out?" — a form posted back here with a CSRF token (double submit).
fn confirmation(state: &AppState, p: &LogoutParams, client: Option<&Client>) -> Response {
    let csrf = crate::secrets::new_secret();
    let mut fields = p.hidden_fields();
    fields.push(("csrf", csrf.clone()));
    let html = page::render_logout_confirm(client.map(|c| c.name.as_str()), &fields);
    let mut res = axum::response::Html(html).into_response();
    page::security_headers(res.headers_mut());
    if let Some(c) = cookies::set_logout_csrf(&csrf, signin::secure(state)) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
