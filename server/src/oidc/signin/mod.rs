//! The sign-in session URI `/sign-in/{sid}`, one module per step:
//! [`page`] (GET: the page, or the signed request for the app; "send to my
//! device"), [`push`] (to the user's devices), [`answer`] (the app's signed
//! POST), [`events`] (the page's live status) and [`continue_to_client`]
//! (back to the client once answered). Shared here: the routes, cookie
//! names, and loading a session.

mod answer;
mod continue_to_client;
mod events;
mod page;
mod push;

use authentiq_protocol::payloads::{ClientInfo, Requester, SignInRequest};
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::clients::{self, Client};
use super::page::{error_page, failure_page};
use super::records::{self, SESSION};
use super::session::SessionData;
use crate::store::Record;
use crate::{ApiError, AppState};

pub use push::{push, push_and_mark, push_audience, remembered_key};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sign-in/{sid}", get(page::show).post(answer::answer))
        .route("/sign-in/{sid}/push", post(page::send_to_device))
        .route(
            "/sign-in/{sid}/continue",
            get(continue_to_client::continue_to_client),
        )
}

/// The live status stream is not bounded by the request timeout.
pub fn streaming_router() -> Router<AppState> {
    Router::new().route("/sign-in/{sid}/events", get(events::events))
}

/// The page for an unknown or expired sign-in session.
fn expired_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Sign-in expired",
        "This sign-in link is not valid or has expired. Go back to the application and try again.",
    )
}

/// The page for a session whose client has since been removed.
fn unknown_client_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Unknown application",
        "The application of this sign-in is no longer registered.",
    )
}

/// The session, or the page to show instead: expired, or a failure.
async fn load_or_page(state: &AppState, sid: &str) -> Result<(SessionData, Record), Response> {
    match load(state, sid).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(expired_page()),
        Err(_) => Err(failure_page()),
    }
}

/// The session's client, or the page to show instead.
async fn client_or_page(state: &AppState, client_id: &str) -> Result<Client, Response> {
    match clients::find(state, client_id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(unknown_client_page()),
        Err(_) => Err(failure_page()),
    }
}

/// The deep link that opens the session in the app.
pub fn deep_link(session_uri: &str) -> String {
    format!(
        "authentiq://sign-in?session={}",
        url::form_urlencoded::byte_serialize(session_uri.as_bytes()).collect::<String>()
    )
}

/// Where the app fetches a sign-in session and posts its answer.
pub fn session_uri(state: &AppState, sid: &str) -> String {
    format!("{}/sign-in/{sid}", state.config.base_url())
}

/// Cookies get `Secure` when the public URL is https.
pub fn secure(state: &AppState) -> bool {
    state.config.base_url().starts_with("https:")
}

async fn load(state: &AppState, sid: &str) -> Result<Option<(SessionData, Record)>, ApiError> {
    if sid.len() != 20 {
        return Ok(None);
    }
    records::get::<SessionData>(state, SESSION, sid).await
}

/// The request pushed to a device, or fetched by scanning the QR code.
fn sign_in_request(
    state: &AppState,
    client: &Client,
    sid: &str,
    data: &SessionData,
) -> SignInRequest {
    SignInRequest {
        purpose: data.purpose,
        backchannel: data.is_backchannel(),
        binding_message: data.binding_message.clone(),
        session: session_uri(state, sid),
        nonce: data.push_nonce.clone(),
        client: ClientInfo {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            uri: client.client_uri.clone(),
            logo_uri: client.logo_uri.clone(),
        },
        scope: data.request.scope.clone(),
        requester: Requester {
            ip: data.ip.clone(),
            user_agent: data.user_agent.clone(),
        },
        numbers: data.numbers,
    }
}
