//! Whether a sign-in request may be pushed to a key's devices. Every push
//! (the sign-in page's "send to my device", a remembered browser, `POST
//! /login`) asks here first.

use axum::http::StatusCode;

use super::events::Kind;
use crate::store::EventFilter;
use crate::{ApiError, AppState};

/// How long a reported sign-in blocks pushes from its address, and the
/// window over which wrong numbers are counted.
pub const BLOCK_SECS: i64 = 3600;

/// `Ok` when a push to `pk`, asked for from `ip`, may go out; counts it
/// against the key's push rate. Refused (with a reason the caller may
/// show) when the key is unknown or revoked (404 / 410), when the user
/// reported a sign-in from `ip` within the hour (403 `push-blocked`), when
/// too many wrong numbers were picked for the key within the hour, or when
/// the key gets too many pushes (429 `rate-limit`).
pub async fn may_push(state: &AppState, pk: &str, ip: &str) -> Result<(), ApiError> {
    let verdict = check(state, pk, ip).await;
    if let Err(e) = &verdict {
        state.metrics.push_refused(e.kind);
    }
    verdict
}

async fn check(state: &AppState, pk: &str, ip: &str) -> Result<(), ApiError> {
    state.active_key(pk).await?;
    let now = state.now();
    let since = Some(now - BLOCK_SECS);
    let reports = count(state, pk, Kind::SignInReported, Some(ip), since).await?;
    if reports.count > 0 {
        let wait = reports.last.unwrap_or(now) + BLOCK_SECS - now;
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            kind: "push-blocked",
            title: "Pushes blocked",
            detail: format!(
                "the user reported a sign-in from this address as not theirs; \
                 sign-in requests from it are refused for {} more minutes",
                (wait + 59) / 60
            ),
            retry_after: Some(u64::try_from(wait.max(1)).unwrap_or(1)),
        });
    }
    let limit = state.config.rate.wrong_numbers_per_key_per_hour;
    let wrong = count(state, pk, Kind::WrongNumber, None, since).await?;
    if wrong.count >= limit {
        let wait = (wrong.first.unwrap_or(now) + BLOCK_SECS - now).max(1);
        return Err(ApiError::rate_limited(
            u64::try_from(wait).unwrap_or(1),
            format!(
                "too many wrong numbers were picked for this Authentiq ID; \
                 sign-in requests to it resume in {wait} s"
            ),
        ));
    }
    state
        .rate_limit(
            format!("push:{pk}"),
            state.config.rate.pushes_per_key_per_minute,
            60,
            "pushes to this device",
        )
        .await
}

async fn count(
    state: &AppState,
    pk: &str,
    kind: Kind,
    ip: Option<&str>,
    since: Option<i64>,
) -> Result<crate::store::EventCount, ApiError> {
    let filter = EventFilter {
        pk: Some(pk.to_string()),
        kind: Some(kind.as_str().to_string()),
        ip: ip.map(str::to_string),
        since,
        ..EventFilter::default()
    };
    Ok(state
        .db
        .read(move |s| s.count_security_events(&filter))
        .await?)
}
