//! GET `/sign-in/{sid}/events`: the page's live status (Server-Sent
//! Events), woken by the session's change signal.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::load;
use crate::hub::Topic;
use crate::metrics::Outcome;
use crate::oidc::page::StatusEvent;
use crate::oidc::session::Status;
use crate::security::ClientIp;
use crate::{ApiError, AppState};

/// Live status for the page, as Server-Sent Events; at most
/// `limits.event_streams_per_ip` open per client address.
pub(super) async fn events(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    ip: ClientIp,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let max = state.config.limits.event_streams_per_ip;
    let Some(slot) = state.streams.acquire(&ip.to_string(), max) else {
        return Err(ApiError::rate_limited(
            5,
            format!("at most {max} sign-in status streams per address"),
        ));
    };
    let stream = async_stream::stream! {
        let _slot = slot;
        // Watch before reading: a change after the read wakes the next one.
        let mut watch = state.hub.watch(Topic::Session(sid.clone()));
        let mut last: Option<&'static str> = None;
        // The flow of the sign-in while it waited.
        let mut waiting = None;
        loop {
            let (status, cont, expires_at) = match load(&state, &sid).await {
                Ok(Some((d, _))) => match d.status {
                    Status::Pending => {
                        waiting = Some(crate::metrics::flow(&d));
                        ("pending", None, d.expires_at)
                    }
                    Status::Approved => ("approved", Some(format!("/sign-in/{sid}/continue")), 0),
                    Status::Denied => ("denied", Some(format!("/sign-in/{sid}/continue")), 0),
                },
                Ok(None) => ("expired", None, 0),
                Err(_) => ("error", None, 0),
            };
            if status == "expired"
                && let Some(flow) = waiting.take()
                && !crate::metrics::is_polled(flow)
            {
                // The page waited for it (a polled flow's client is told).
                state.metrics.sign_in_flow(flow, Outcome::Expired);
            }
            if last != Some(status) {
                let message = match status {
                    "denied" => Some("The sign-in was denied on your device.".to_string()),
                    "expired" => Some("This sign-in request expired. Go back and try again.".to_string()),
                    "error" => Some("Something went wrong on the server. Reload the page to try again.".to_string()),
                    _ => None,
                };
                let ev = StatusEvent { status, continue_url: cont, message };
                if let Ok(data) = serde_json::to_string(&ev) {
                    yield Ok(Event::default().event("status").data(data));
                }
                last = Some(status);
            }
            if status != "pending" {
                break;
            }
            // Wake on this session's change, or when it expires.
            let left = u64::try_from(expires_at - state.now()).unwrap_or(0) + 1;
            let _ = tokio::time::timeout(Duration::from_secs(left), watch.changed()).await;
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
