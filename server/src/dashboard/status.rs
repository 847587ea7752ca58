//! Server status for admins: the version, where the data lives, how many
//! accounts and clients there are, and the signing keys with their state
//! and dates. Keys are rotated from the command line (`authentiq-server
//! keys rotate`, then a restart), which the page says.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::render;
use super::session::Admin;
use super::usage::moment;
use crate::AppState;
use crate::oidc::clients;
use crate::oidc::keys::KeyState;

#[derive(Serialize)]
struct KeyRow {
    alg: String,
    kid: String,
    state: String,
    when: String,
}

#[derive(Serialize)]
struct StatusCtx {
    version: &'static str,
    issuer: String,
    data_dir: String,
    accounts: usize,
    clients: usize,
    configured_clients: usize,
    keys: Vec<KeyRow>,
}

/// `GET /dashboard/admin/status`.
pub async fn show(State(state): State<AppState>, Admin(owner): Admin) -> Response {
    let accounts = match state.db.call(|s| s.list_accounts()).await {
        Ok(a) => a.len(),
        Err(e) => return render::api_error(Some(&owner), e.into()),
    };
    let stored = match clients::stored(&state, None).await {
        Ok(c) => c.len(),
        Err(e) => return render::api_error(Some(&owner), e),
    };
    let now = state.now();
    let keys = state
        .keys()
        .oidc
        .list(now)
        .into_iter()
        .map(|k| {
            let when = match k.state {
                KeyState::PublishedOnly { signs_from } => {
                    format!("signs from {}", moment(signs_from))
                }
                KeyState::Retiring {
                    published_until: Some(t),
                } => format!("published until {}", moment(t)),
                KeyState::Retiring {
                    published_until: None,
                } => "verifies as long as it is kept".to_string(),
                KeyState::Active | KeyState::Expired => String::new(),
            };
            KeyRow {
                alg: k.alg.to_string(),
                kid: k.kid,
                state: k.state.to_string(),
                when,
            }
        })
        .collect();
    let ctx = StatusCtx {
        version: env!("CARGO_PKG_VERSION"),
        issuer: state.config.base_url().to_string(),
        data_dir: state.config.data_dir.display().to_string(),
        accounts,
        clients: stored,
        configured_clients: state.config.clients.len(),
        keys,
    };
    render::page(
        StatusCode::OK,
        "admin-status.html",
        Some(&owner),
        "status",
        &ctx,
    )
}
