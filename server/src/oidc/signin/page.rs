//! GET `/sign-in/{sid}`: the sign-in page (or, for the app, the signed
//! request), and POST `/sign-in/{sid}/push`: "send to my device".

use authentiq_protocol::jwt::Claims;
use authentiq_protocol::payloads::DeviceEvent;
use authentiq_protocol::scope::{Scope, ScopeName};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{client_or_page, load_or_page, push_and_mark, session_uri, sign_in_request};
use crate::oidc::clients::Client;
use crate::oidc::page::{self, ClaimView, MessageKind, SignInView, error_page};
use crate::oidc::session::{SessionData, Status};
use crate::{ApiError, AppState};

fn claim_label(name: &ScopeName) -> &'static str {
    match name {
        ScopeName::Email => "Email address",
        ScopeName::Phone => "Phone number",
        ScopeName::Profile => "Profile (name, username, locale)",
        ScopeName::Address => "Address",
        ScopeName::AqName => "Name",
        ScopeName::AqLocation => "Location",
        ScopeName::AqUsername => "Username",
        ScopeName::AqLocale => "Language",
        ScopeName::AqZoneinfo => "Time zone",
        ScopeName::AqPush => "Remember this browser for one-tap sign-in",
        ScopeName::OfflineAccess => "Stay signed in (offline access)",
        ScopeName::OpenId | ScopeName::Unknown(_) => "Your Authentiq ID",
    }
}

/// GET: the page, or (for the app, `Accept: application/jwt`) the signed request.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (data, _) = match load_or_page(&state, &sid).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let client = match client_or_page(&state, &data.request.client_id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let wants_jwt = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/jwt"));
    if wants_jwt {
        let ttl = (data.expires_at - state.now()).max(1);
        let claims = Claims::new(DeviceEvent::SignIn(sign_in_request(
            &state, &client, &sid, &data,
        )))
        .issuer(state.config.base_url())
        .valid_for(state.now(), ttl);
        return match state.sign_typed(&claims, DeviceEvent::TYP) {
            Ok(t) => ([(header::CONTENT_TYPE, "application/jwt")], t).into_response(),
            Err(e) => e.into_response(),
        };
    }
    if data.status != Status::Pending {
        return status_page(data.status);
    }
    render_page(&state, &client, &sid, &data)
}

fn status_page(status: Status) -> Response {
    let (title, msg, kind) = match status {
        Status::Denied => (
            "Sign-in denied",
            "The sign-in was denied on your device.",
            MessageKind::Denied,
        ),
        Status::Approved => (
            "Signed in",
            "The sign-in was approved. You can close this page.",
            MessageKind::Info,
        ),
        Status::Pending => ("Waiting", "Waiting for your device.", MessageKind::Info),
    };
    let mut res = Html(page::render_message(title, msg, kind)).into_response();
    page::security_headers(res.headers_mut());
    res
}

fn render_page(state: &AppState, client: &Client, sid: &str, data: &SessionData) -> Response {
    let scope: Scope = data.request.scope.parse().unwrap_or_default();
    let claims = scope
        .items()
        .iter()
        .filter(|i| i.name != ScopeName::OpenId)
        .map(|i| ClaimView {
            name: i.name.to_string(),
            label: claim_label(&i.name).to_string(),
            required: i.required,
            verified: i.signed,
        })
        .collect();
    let uri = session_uri(state, sid);
    let deep_link = super::deep_link(&uri);
    let view = SignInView {
        session_uri: uri,
        deep_link,
        client_name: client.name.clone(),
        client_uri: client.client_uri.clone(),
        logo_uri: client.logo_uri.clone(),
        claims,
        number: data.shown,
        events_url: format!("/sign-in/{sid}/events"),
        push_url: format!("/sign-in/{sid}/push"),
        csrf: data.csrf.clone(),
        pushed: data.pushed,
        expires_at: data.expires_at,
    };
    match page::render_sign_in(&view, state.now()) {
        Ok(html) => {
            let mut res = Html(html).into_response();
            page::security_headers(res.headers_mut());
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render the sign-in page");
            ApiError::internal("cannot render the page").into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PushForm {
    pub email: String,
    pub csrf: String,
}

/// "Send to my device": push to the key that verified and bound this email.
pub(super) async fn send_to_device(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    Form(form): Form<PushForm>,
) -> Response {
    let (mut data, _) = match load_or_page(&state, &sid).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !bool::from(data.csrf.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Invalid request",
            "The form was not sent from this sign-in page.",
        );
    }
    let client = match client_or_page(&state, &data.request.client_id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    if let Some(email) = crate::secrets::normalize_email(&form.email) {
        let hash = state.hasher.hash("email", &email);
        let found = state.db.read(move |s| s.find_key_by_email(&hash)).await;
        if let Ok(key) = found {
            // Refused (rate, block, answered) or failed: the page offers to
            // push again.
            let _ = push_and_mark(&state, &client, &sid, &data, &key.pk).await;
        }
    }
    // The same answer whether or not the address is known: no enumeration.
    data.pushed = true;
    render_page(&state, &client, &sid, &data)
}
