//! Requests the server owes other servers — logout tokens for clients'
//! back-channel logout URIs — kept in the store until delivered, so a
//! restart or an unreachable client loses none. A worker sends what is
//! due, retrying with backoff for a day; several workers (instances) lease
//! items so each is sent by one at a time.

use std::time::Duration;

use crate::hub::Topic;
use crate::store::Outgoing;
use crate::{ApiError, AppState};

/// How long an item is retried before it is given up.
pub const GIVE_UP_AFTER: i64 = 24 * 3600;
/// How long a worker holds an item it is sending.
const LEASE: i64 = 60;
/// First retry after this many seconds, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: i64 = 5;
const MAX_BACKOFF: i64 = 3600;
/// Each request's deadline.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Queues a form POST of `body` to `url`, and wakes the worker.
pub async fn enqueue_form(
    state: &AppState,
    kind: &str,
    url: &str,
    body: String,
) -> Result<(), ApiError> {
    enqueue(state, kind, url, "application/x-www-form-urlencoded", body).await
}

/// Queues a POST of `body` (of `content_type`) to `url`, and wakes the worker.
pub async fn enqueue(
    state: &AppState,
    kind: &str,
    url: &str,
    content_type: &str,
    body: String,
) -> Result<(), ApiError> {
    enqueue_with(state, kind, url, content_type, body, None).await
}

/// [`enqueue`] with an `Authorization` header.
pub async fn enqueue_with(
    state: &AppState,
    kind: &str,
    url: &str,
    content_type: &str,
    body: String,
    authorization: Option<String>,
) -> Result<(), ApiError> {
    let now = state.now();
    let item = Outgoing {
        id: 0,
        kind: kind.to_string(),
        url: url.to_string(),
        content_type: content_type.into(),
        body,
        authorization,
        attempts: 0,
        next_at: now,
        expires_at: now + GIVE_UP_AFTER,
        last_error: None,
    };
    state.db.call(move |s| s.enqueue_outgoing(&item)).await?;
    state.hub.signal(&Topic::Outgoing);
    Ok(())
}

/// The delivery worker: runs until the server stops.
pub async fn worker(state: AppState) {
    let http = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot make the HTTP client for outgoing requests");
            return;
        }
    };
    let mut wake = state.hub.watch(Topic::Outgoing);
    loop {
        let (now, s) = (state.now(), state.clone());
        match s
            .db
            .call(move |st| st.take_due_outgoing(now, LEASE, 32))
            .await
        {
            Ok(items) => {
                for item in items {
                    deliver(&state, &http, item).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the outgoing queue"),
        }
        // Woken by a new item, or soon enough for the next retry.
        let _ =
            tokio::time::timeout(Duration::from_secs(FIRST_BACKOFF as u64), wake.changed()).await;
    }
}

/// Sends one item; forgets it when delivered or refused for good, else
/// schedules the next attempt.
async fn deliver(state: &AppState, http: &reqwest::Client, item: Outgoing) {
    let mut request = http
        .post(&item.url)
        .header(reqwest::header::CONTENT_TYPE, &item.content_type)
        .body(item.body.clone());
    if let Some(a) = &item.authorization {
        request = request.header(reqwest::header::AUTHORIZATION, a);
    }
    let sent = request.send().await;
    let failure = match sent {
        Ok(res) if res.status().is_success() => None,
        // The receiver says the request is wrong: sending it again won't help.
        Ok(res)
            if res.status().is_client_error()
                && res.status() != reqwest::StatusCode::REQUEST_TIMEOUT
                && res.status() != reqwest::StatusCode::TOO_MANY_REQUESTS =>
        {
            tracing::warn!(kind = %item.kind, url = %item.url, status = %res.status(), "an outgoing request was refused; giving it up");
            None
        }
        Ok(res) => Some(format!("answered {}", res.status())),
        Err(e) => Some(without_url(&e)),
    };
    let id = item.id;
    let result = match failure {
        None => state.db.call(move |s| s.outgoing_done(id)).await,
        Some(error) => {
            let wait = FIRST_BACKOFF
                .saturating_mul(1 << item.attempts.min(20))
                .min(MAX_BACKOFF);
            tracing::info!(kind = %item.kind, url = %item.url, attempts = item.attempts + 1, %error, "an outgoing request failed; will retry");
            let next = state.now() + wait;
            state
                .db
                .call(move |s| s.outgoing_failed(id, next, &error))
                .await
        }
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot update the outgoing queue");
    }
}

/// A reqwest error's description without the URL (it may carry a query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}
