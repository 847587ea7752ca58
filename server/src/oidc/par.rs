//! Pushed authorization requests (RFC 9126): `POST /par` takes an
//! authorization request from an authenticated client, checks it as
//! `/authorize` would, and keeps it for 60 seconds under a
//! `request_uri` the browser then carries to `/authorize` — once. A client
//! registered with `require_pushed_authorization_requests` may send no
//! other kind.

use authentiq_protocol::errors::OAuthErrorCode;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::authorize::validate::{self, AuthError, AuthParams};
use super::client_auth::{Form, authenticate};
use super::dpop;
use super::error::OAuthErr;
use super::records::{self, Taken};
use crate::AppState;

pub const KIND: &str = "par";
/// What a pushed request's `request_uri` starts with.
pub const URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits for the browser.
pub const EXPIRES_IN: i64 = 60;

pub async fn push(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = async {
        let form = Form::parse(&headers, &body)?;
        let client = authenticate(&state, &headers, &form).await?;
        let mut p = AuthParams::parse(&body).map_err(OAuthErr::invalid_request)?;
        if p.request_uri.is_some() {
            return Err(OAuthErr::invalid_request(
                "request_uri cannot be pushed (RFC 9126 §2.1)",
            ));
        }
        // Authenticated by Basic, the body need not name the client.
        p.client_id = Some(client.client_id.clone());
        // RFC 9449 §10.1: a proof here binds the code as dpop_jkt would.
        let target = dpop::Target {
            method: "POST",
            url: &format!("{}/par", state.config.base_url()),
            access_token: None,
        };
        if let Some(proof) = dpop::proof(&state, &headers, &target).await? {
            match &p.dpop_jkt {
                Some(j) if *j != proof.jkt => {
                    return Err(OAuthErr::new(
                        OAuthErrorCode::InvalidDpopProof,
                        "dpop_jkt is not the thumbprint of the DPoP proof's key",
                    ));
                }
                _ => p.dpop_jkt = Some(proof.jkt),
            }
        }
        validate::validate(&p, &client).map_err(|e| match e {
            AuthError::Page { message, .. } => OAuthErr::invalid_request(message),
            AuthError::Redirect {
                code, description, ..
            } => OAuthErr::new(code, description),
        })?;
        if client.suspended {
            return Err(OAuthErr::new(
                OAuthErrorCode::UnauthorizedClient,
                "the account this client belongs to is deactivated",
            ));
        }
        let reference = records::new_token();
        let id = records::token_id(&reference);
        let now = state.now();
        let record = records::new(KIND, &id, &id, None, &p, now + EXPIRES_IN)?;
        records::put(&state, record).await?;
        Ok(json!({
            "request_uri": format!("{URN_PREFIX}{reference}"),
            "expires_in": EXPIRES_IN,
        }))
    }
    .await;
    super::error::json_answer(StatusCode::CREATED, r)
}

/// The pushed request `request_uri` stands for, spent; for `client_id` only.
/// `Err` is the page's message.
pub async fn resolve(
    state: &AppState,
    client_id: &str,
    request_uri: &str,
) -> Result<AuthParams, &'static str> {
    let expired = "The sign-in request expired or was already used. Go back to the application and try again.";
    let reference = request_uri
        .strip_prefix(URN_PREFIX)
        .ok_or("The request_uri is not one this server issued.")?;
    let id = records::token_id(reference);
    let failed = "The sign-in request could not be read. Try again in a moment.";
    // Another client's reference is refused without spending it.
    match records::get::<AuthParams>(state, KIND, &id).await {
        Ok(Some((p, _))) if p.client_id.as_deref() != Some(client_id) => {
            return Err("The sign-in request was pushed by another application.");
        }
        Ok(_) => {}
        Err(_) => return Err(failed),
    }
    match records::take::<AuthParams>(state, KIND, &id).await {
        Ok(Taken::Fresh(p, _)) => Ok(p),
        Ok(_) => Err(expired),
        Err(_) => Err(failed),
    }
}
