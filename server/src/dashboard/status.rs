//! Server status for admins: the version, where the data lives, how many
//! accounts and clients there are, and the signing keys with their state
//! and dates; and the "rotate keys" action (what `authentiq-server keys
//! rotate` does: every instance on the database picks the new keys up).

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::render;
use super::session::{Admin, Posted};
use super::usage::moment;
use crate::AppState;
use crate::hub::Topic;
use crate::oidc::clients;
use crate::oidc::keys::{DEFAULT_PUBLISH_AHEAD, KeyState};
use crate::security::events::{self, Kind, Subject};

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
    /// Which database, for people.
    database: String,
    data_dir: String,
    /// Minutes between a rotation and the new RS256/ES256 keys signing.
    publish_ahead_minutes: i64,
    notice: Option<&'static str>,
    accounts: usize,
    clients: usize,
    configured_clients: usize,
    keys: Vec<KeyRow>,
}

/// `GET /dashboard/admin/status`.
pub async fn show(
    State(state): State<AppState>,
    Admin(owner): Admin,
    OriginalUri(uri): OriginalUri,
) -> Response {
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
        database: match state.config.database_url {
            Some(_) => "PostgreSQL (shared by every instance)".into(),
            None => "SQLite (WAL)".into(),
        },
        data_dir: state.config.data_dir.display().to_string(),
        publish_ahead_minutes: DEFAULT_PUBLISH_AHEAD / 60,
        notice: match crate::extract::form_value(uri.query().unwrap_or(""), "done").as_deref() {
            Some("rotated") => Some(
                "New keys were made. The issuer key signs now; the new RS256 and ES256 keys are \
                 published now and sign from the time shown.",
            ),
            _ => None,
        },
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

/// `POST /dashboard/admin/status/rotate-keys`: new signing keys (older ones
/// keep verifying what they signed), loaded here at once and announced to
/// the other instances.
pub async fn rotate_keys(State(state): State<AppState>, posted: Posted<Admin>) -> Response {
    let Posted {
        owner: Admin(owner),
        ..
    } = posted;
    let now = state.now();
    let s = state.clone();
    let rotated = tokio::task::spawn_blocking(move || {
        crate::keys::rotate(s.live_keys.vault(), now, DEFAULT_PUBLISH_AHEAD)?;
        s.live_keys.refresh(now)
    })
    .await;
    match rotated {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot rotate the keys");
            return render::api_error(
                Some(&owner),
                crate::ApiError::internal("cannot rotate the keys"),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "the key rotation task failed");
            return render::api_error(
                Some(&owner),
                crate::ApiError::internal("cannot rotate the keys"),
            );
        }
    }
    state.hub.signal(&Topic::Keys);
    let kid = state.keys().issuer.active_kid().to_string();
    let _ = events::record(
        &state,
        Kind::KeysRotated,
        Subject::default(),
        Some(format!("by account {} (new issuer key {kid})", owner.id())),
    )
    .await;
    Redirect::to("/dashboard/admin/status?done=rotated").into_response()
}
