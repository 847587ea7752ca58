//! What CIBA (`/bc-authorize`) and the device authorization grant
//! (`/device_authorization`) share: a grant the client polls `/token` for
//! while the user answers on their device. Its record (id: the hash of the
//! `auth_req_id` or `device_code`) names the sign-in session once there is
//! one; a poll is paced (`slow_down`, RFC 8628 §3.5) atomically, and the
//! approved session's tokens are issued once (the record is spent in the
//! same transaction as the tokens are stored).

use authentiq_protocol::errors::OAuthErrorCode;
use serde::{Deserialize, Serialize};

use super::clients::Client;
use super::error::OAuthErr;
use super::grants::{self, Issued};
use super::records::{self, SESSION};
use super::session::{SessionData, Status};
use crate::metrics::Outcome;
use crate::{ApiError, AppState};

/// The seconds a client waits between polls, at first.
pub const INTERVAL: i64 = 5;
/// Added to the interval each time a client polls too fast.
const SLOW_DOWN_STEP: i64 = 5;
/// Records outlive their grant this long, so a late poll hears
/// `expired_token` rather than `invalid_grant`.
pub const GRACE: i64 = 600;

/// A polled grant, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolledGrant {
    pub client_id: String,
    pub scope: String,
    /// The sign-in session, once started.
    pub sid: Option<String>,
    pub interval: i64,
    /// The client may not poll before this.
    pub next_poll: i64,
    pub expires_at: i64,
    /// CIBA ping mode: the notification (sealed for this record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<String>,
}

impl PolledGrant {
    pub fn new(client_id: &str, scope: &str, now: i64, expires_in: i64) -> Self {
        Self {
            client_id: client_id.into(),
            scope: scope.into(),
            sid: None,
            interval: INTERVAL,
            next_poll: now,
            expires_at: now + expires_in,
            ping: None,
        }
    }
}

/// `/token` with an `auth_req_id` or `device_code` (`token` is it) of
/// record kind `kind`.
pub async fn poll(
    state: &AppState,
    client: &Client,
    kind: &'static str,
    token: &str,
    dpop: Option<&str>,
) -> Result<Issued, OAuthErr> {
    let id = records::token_id(token);
    let what = if kind == super::ciba::KIND {
        "auth_req_id"
    } else {
        "device_code"
    };
    let Some(record) = records::get_raw(state, kind, &id).await? else {
        return Err(OAuthErr::invalid_grant(format!("unknown {what}")));
    };
    if record.used {
        return Err(OAuthErr::invalid_grant(format!(
            "this {what} was already exchanged for tokens"
        )));
    }
    let grant: PolledGrant = records::parse(&record)?;
    if grant.client_id != client.client_id {
        return Err(OAuthErr::invalid_grant(format!(
            "this {what} was issued to another client"
        )));
    }
    let now = state.now();
    let flow = if kind == super::ciba::KIND {
        "ciba"
    } else {
        "device"
    };
    if now >= grant.expires_at {
        if grant.sid.is_some() {
            // A sign-in was started, and never answered.
            state.metrics.sign_in_flow(flow, Outcome::Expired);
        }
        return Err(OAuthErr::new(
            OAuthErrorCode::ExpiredToken,
            format!("the {what} expired: start again"),
        ));
    }
    // Pacing: counted atomically, so two polls at once are one too many.
    let too_fast = records::modify(state, kind, &id, |g: &mut PolledGrant| {
        if now < g.next_poll {
            g.interval += SLOW_DOWN_STEP;
            g.next_poll = now + g.interval;
            Ok(true)
        } else {
            g.next_poll = now + g.interval;
            Ok(false)
        }
    })
    .await?;
    if too_fast {
        return Err(OAuthErr::new(
            OAuthErrorCode::SlowDown,
            "polling too often: wait 5 seconds more between polls",
        ));
    }
    let pending = || {
        OAuthErr::new(
            OAuthErrorCode::AuthorizationPending,
            "the user has not answered yet",
        )
    };
    let Some(sid) = &grant.sid else {
        return Err(pending());
    };
    let Some((session, _)) = records::get::<SessionData>(state, SESSION, sid).await? else {
        // The session ran out unanswered (or its key was revoked).
        state.metrics.sign_in_flow(flow, Outcome::Expired);
        return Err(OAuthErr::new(
            OAuthErrorCode::ExpiredToken,
            "the sign-in expired unanswered: start again",
        ));
    };
    match session.status {
        Status::Pending if now >= session.expires_at => {
            state.metrics.sign_in_flow(flow, Outcome::Expired);
            Err(OAuthErr::new(
                OAuthErrorCode::ExpiredToken,
                "the sign-in expired unanswered: start again",
            ))
        }
        Status::Pending => Err(pending()),
        // A token endpoint error: 400 (RFC 6749 §5.2, RFC 8628 §3.5).
        Status::Denied => Err(OAuthErr {
            status: axum::http::StatusCode::BAD_REQUEST,
            ..OAuthErr::new(OAuthErrorCode::AccessDenied, "the user denied the sign-in")
        }),
        Status::Approved => grants::from_session(state, client, kind, &id, &session, dpop).await,
    }
}

/// Starts polling for `id`'s session `sid` (refused when one was started).
pub async fn attach_session(
    state: &AppState,
    kind: &'static str,
    id: &str,
    sid: &str,
) -> Result<(), ApiError> {
    records::modify(state, kind, id, |g: &mut PolledGrant| {
        if g.sid.is_some() {
            return Err(ApiError::conflict("this code was already used"));
        }
        g.sid = Some(sid.to_string());
        Ok(())
    })
    .await
}
