//! The OP iframe of OpenID Connect Session Management 1.0: `GET
//! /{client_id}/iframe` (seed 000's path; framed only by that client's
//! origins) and `GET /check-session` (advertised as `check_session_iframe`;
//! framed by any registered client's origins). The page's script answers
//! the client's `postMessage("client_id session_state")`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::clients::{self, Client};
use super::page;
use crate::AppState;

/// The iframe for one client.
pub async fn for_client(State(state): State<AppState>, Path(client_id): Path<String>) -> Response {
    match clients::find(&state, &client_id).await {
        Ok(Some(client)) => iframe(&client.client_id, &client.origins()),
        Ok(None) => page::error_page(
            StatusCode::NOT_FOUND,
            "Unknown application",
            "There is no such application.",
        ),
        Err(_) => page::failure_page(),
    }
}

/// The iframe for any client (the one discovery advertises).
pub async fn for_any(State(state): State<AppState>) -> Response {
    match clients::all(&state).await {
        Ok(all) => {
            let mut origins: Vec<String> = all.iter().flat_map(Client::origins).collect();
            origins.sort();
            origins.dedup();
            iframe("", &origins)
        }
        Err(_) => page::failure_page(),
    }
}

fn iframe(client_id: &str, origins: &[String]) -> Response {
    let mut res = Html(page::render_check_session(client_id)).into_response();
    page::iframe_security_headers(res.headers_mut(), origins);
    res
}
