//! `GET /channel`: the device channel, a Server-Sent Events stream per
//! key. Opened with a fresh self-signed channel-auth JWT
//! (`aud` = `<public_url>/channel`); events missed while away are replayed
//! from `Last-Event-ID`.

use std::convert::Infallible;
use std::time::Duration;

use authentiq_protocol::payloads::ChannelAuth;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::extract::Query;
use crate::hub::Topic;
use crate::store::StoredEvent;
use crate::{ApiError, AppState};

/// The event that ends a key's channels.
const REVOKED: &str = "key-revoked";

/// The event that ends the channels of a removed device (the identity's
/// other devices see it too, and keep theirs).
const DEVICE_REMOVED: &str = "device-removed";

/// Whether the device is removed (or can no longer be read).
async fn removed(state: &AppState, device: &str) -> bool {
    state.device(device).await.map_or(true, |d| d.is_removed())
}

/// How long a removed device's channel waits for the event naming it
/// once it found the device gone (it passes on only removals meanwhile).
const OWN_REMOVAL_WAIT: Duration = Duration::from_secs(2);

/// A removal or a revocation: what a removed device's channel still
/// passes on before it ends.
fn ends_channels(e: &StoredEvent) -> bool {
    e.kind == DEVICE_REMOVED || e.kind == REVOKED
}

/// The device a stored `device-removed` event names. The event is this
/// server's own signed JWT, read back from its database: the payload is
/// read without checking the signature again.
fn removed_device(e: &StoredEvent) -> Option<String> {
    let payload = e.data.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("device")?.as_str().map(str::to_owned)
}

/// Longest lifetime of a channel-auth JWT.
const CHANNEL_AUTH_MAX_LIFETIME: i64 = 5 * 60;

pub fn router() -> Router<AppState> {
    Router::new().route("/channel", get(open))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ChannelQuery {
    /// The channel-auth JWT, for clients that cannot set `Authorization`.
    pub access_token: Option<String>,
    /// Resume after this event id (same as the `Last-Event-ID` header).
    pub last_event_id: Option<i64>,
}

fn to_sse(e: &StoredEvent) -> Event {
    Event::default()
        .id(e.id.to_string())
        .event(&e.kind)
        .data(&e.data)
}

/// Open the device channel (Server-Sent Events).
#[utoipa::path(get, path = "/channel", tag = "channel", operation_id = "channel_open",
    params(ChannelQuery,
        ("Authorization" = Option<String>, Header, description = "`Bearer <channel-auth JWT>`"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses(
        (status = 200, description = "An event stream: `sign-in`, `scope-job` and `key-revoked` events, each an issuer-signed JWT", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Missing, expired, replayed or wrongly addressed channel-auth JWT `auth-error` / `aud-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn open(
    State(state): State<AppState>,
    Query(q): Query<ChannelQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_string));
    let token = bearer
        .or(q.access_token)
        .ok_or_else(|| ApiError::auth_error("send a channel-auth JWT as Authorization: Bearer"))?;
    if token.len() > state.config.limits.jwt_bytes {
        return Err(ApiError::too_large("the JWT is too large"));
    }
    let v = state
        .validation()
        .max_lifetime(CHANNEL_AUTH_MAX_LIFETIME)
        .audience(format!("{}/channel", state.config.base_url()));
    // A channel per device, carrying its identity's events.
    let signed = state
        .verify_signed_action::<ChannelAuth>(&token, &v)
        .await?;
    let (pk, device) = (signed.id.to_string(), signed.device.to_string());
    state.active_key(&pk).await?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.last_event_id)
        .unwrap_or(0);

    let open = state.metrics.channel_open();
    let stream = async_stream::stream! {
        // Counted open until the stream is dropped (the device went away).
        let _open = open;
        // Watch before reading, so an event stored after a read always
        // wakes the next one; each wake re-reads everything after the last
        // event sent, in the store's order.
        let mut watch = state.hub.watch(Topic::Key(pk.clone()));
        let mut sent = last;
        // Set once this device is found removed: until when it waits for
        // the event that says so.
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            let (owned, now) = (pk.clone(), state.now());
            let events = match state.db.read(move |s| s.events_after(&owned, sent, now)).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read device events");
                    return;
                }
            };
            if closing.is_none()
                && events.iter().any(|e| !ends_channels(e))
                && removed(&state, &device).await
            {
                // Removed, and the event saying so not read yet (written
                // just after the removal, or never: its write failed):
                // nothing else of the identity goes to this device.
                closing = Some(tokio::time::Instant::now() + OWN_REMOVAL_WAIT);
            }
            for e in events {
                sent = e.id;
                if closing.is_some() && !ends_channels(&e) {
                    // A removed device hears nothing more of its identity.
                    continue;
                }
                yield Ok(to_sse(&e));
                if e.kind == REVOKED {
                    // The key is gone: nothing more will come.
                    return;
                }
                if e.kind == DEVICE_REMOVED {
                    if removed_device(&e).as_deref() == Some(device.as_str()) {
                        // This device was removed: its channel ends with that.
                        return;
                    }
                    if closing.is_none() && removed(&state, &device).await {
                        // Removed with others (a recovery removes every old
                        // device, one event each): its own event follows.
                        closing = Some(tokio::time::Instant::now() + OWN_REMOVAL_WAIT);
                    }
                }
            }
            match closing {
                // Its own event did not come in time: end anyway.
                Some(until) => {
                    if tokio::time::Instant::now() >= until
                        || tokio::time::timeout_at(until, watch.changed()).await.is_err()
                    {
                        return;
                    }
                }
                None => watch.changed().await,
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))))
}
