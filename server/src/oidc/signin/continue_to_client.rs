//! GET `/sign-in/{sid}/continue`: once the app answered, the browser that
//! started the sign-in (and only that one) goes on to the client.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::{client_or_page, load_or_page, secure};
use crate::AppState;
use crate::oidc::page::{MessageKind, error_page, failure_page, message_page};
use crate::oidc::records::{self, SESSION, SSO};
use crate::oidc::session::{GrantLink, SsoData, Status};
use crate::oidc::{cookies, response};

/// Once approved (or denied), the browser that started the sign-in goes on
/// to the client: with a code and/or tokens, or with `access_denied`.
pub(super) async fn continue_to_client(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (data, _) = match load_or_page(&state, &sid).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let bound = cookies::get(&headers, &cookies::binding(&sid)).is_some_and(|b| {
        bool::from(
            records::token_id(&b)
                .as_bytes()
                .ct_eq(data.browser.as_bytes()),
        )
    });
    if !bound {
        return error_page(
            StatusCode::FORBIDDEN,
            "Wrong browser",
            "This sign-in was started in another browser. Continue there, or start again here.",
        );
    }
    if !data.purpose.is_sign_in() {
        // An SDK operation: its result goes to the client's backend.
        return message_page(
            StatusCode::OK,
            "Done",
            "Your answer was sent. Go back to the application.",
            MessageKind::Info,
        );
    }
    if matches!(data.link, Some(GrantLink::Device { .. })) {
        // The device polls for the tokens; this browser only hears how it went.
        return match data.status {
            Status::Pending => (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, format!("/sign-in/{sid}"))],
            )
                .into_response(),
            Status::Denied => message_page(
                StatusCode::OK,
                "Sign-in denied",
                "The device was not signed in. You can close this page.",
                MessageKind::Denied,
            ),
            Status::Approved => message_page(
                StatusCode::OK,
                "Device signed in",
                "You are signed in on the device. You can close this page.",
                MessageKind::Info,
            ),
        };
    }
    let req = &data.request;
    match data.status {
        Status::Pending => {
            return (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, format!("/sign-in/{sid}"))],
            )
                .into_response();
        }
        Status::Denied => {
            return response::redirect_error(
                &state,
                &req.redirect_uri,
                req.response_mode,
                req.state.as_deref(),
                authentiq_protocol::errors::OAuthErrorCode::AccessDenied,
                "the user denied the sign-in",
            );
        }
        Status::Approved => {}
    }
    let client = match client_or_page(&state, &req.client_id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let (Some(pk), Some(auth_time)) = (data.pk.clone(), data.auth_time) else {
        tracing::error!(sid = %sid, "an approved session has no key");
        return failure_page();
    };
    // The SSO session of this browser.
    let sso_token = records::new_token();
    let sso_id = records::token_id(&sso_token);
    let sso = SsoData {
        pk: pk.clone(),
        auth_time,
        claims: data.claims.clone(),
        granted_scope: data.granted_scope.clone(),
        browser_state: crate::secrets::new_job_id(),
    };
    let Ok(sso_record) = records::new(
        SSO,
        &sso_id,
        &sso_id,
        Some(&pk),
        &sso,
        state.now() + cookies::SSO_TTL,
    ) else {
        return failure_page();
    };
    // Exactly once: the session record is spent in the write that stores
    // the SSO session and the code.
    let spend = response::Spend {
        kind: SESSION,
        id: sid.clone(),
        with: vec![sso_record],
    };
    let outcome = match response::complete(&state, &client, req, &sso_id, &sso, Some(spend)).await {
        Ok(o) => o,
        Err(e) if e.status == StatusCode::CONFLICT => {
            return error_page(
                StatusCode::CONFLICT,
                "Already used",
                "This sign-in was already completed. Go back to the application.",
            );
        }
        Err(e) if e.status == StatusCode::GONE => {
            return error_page(
                StatusCode::FORBIDDEN,
                "Authentiq ID revoked",
                "The Authentiq ID that approved this sign-in was revoked. Go back to the application and sign in again.",
            );
        }
        Err(_) => return failure_page(),
    };
    let mut res = outcome.response;
    let h = res.headers_mut();
    let sec = secure(&state);
    for c in [
        cookies::set(cookies::SSO, &sso_token, "/", cookies::SSO_TTL, sec),
        cookies::set_browser_state(&sso.browser_state, cookies::SSO_TTL, sec),
        cookies::set(
            &cookies::binding(&sid),
            "",
            &format!("/sign-in/{sid}"),
            0,
            sec,
        ),
        data.push_token.as_deref().and_then(|t| {
            cookies::set(
                &cookies::push(&client.client_id),
                t,
                "/",
                cookies::PUSH_TTL,
                sec,
            )
        }),
    ]
    .into_iter()
    .flatten()
    {
        h.append(header::SET_COOKIE, c);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
