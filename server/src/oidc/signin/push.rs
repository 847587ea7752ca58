//! Pushing a sign-in request to the user's devices, through the push gate.

use authentiq_protocol::payloads::{DeviceEvent, PushToken};

use super::sign_in_request;
use crate::hub::Topic;
use crate::oidc::clients::Client;
use crate::oidc::records::{self, SESSION};
use crate::oidc::session::{SessionData, Status};
use crate::security::pushes::may_push;
use crate::store::{NewEvent, Write};
use crate::{ApiError, AppState};

/// Pushes the sign-in request to `pk`'s devices, if the push gate lets it
/// (key live, not blocked, under the rate).
pub async fn push(
    state: &AppState,
    client: &Client,
    sid: &str,
    data: &SessionData,
    pk: &str,
) -> Result<(), ApiError> {
    let request = gated_request(state, client, sid, data, pk).await?;
    state.store_event(request).await?;
    state.metrics.push_sent();
    Ok(())
}

/// [`push`], and the session marked pushed (what its page shows) in the
/// same write as the request is stored for the devices.
pub async fn push_and_mark(
    state: &AppState,
    client: &Client,
    sid: &str,
    data: &SessionData,
    pk: &str,
) -> Result<(), ApiError> {
    let answered = || ApiError::conflict("this sign-in was already answered");
    if data.status != Status::Pending {
        return Err(answered());
    }
    let stored = [Write::DeviceEvent(
        gated_request(state, client, sid, data, pk).await?,
    )];
    // Only the flag, and only while pending: an answer (to the QR code, to
    // an earlier push) may have come since `data` was read.
    let mark = |d: &mut SessionData| {
        if d.status != Status::Pending {
            return Err(answered());
        }
        d.pushed = true;
        Ok(())
    };
    records::modify_with(state, SESSION, sid, mark, &stored).await?;
    state.hub.signal(&Topic::Key(pk.to_string()));
    state.metrics.push_sent();
    Ok(())
}

/// Through the push gate: the sign-in request for `pk`'s devices, signed,
/// not stored yet.
async fn gated_request(
    state: &AppState,
    client: &Client,
    sid: &str,
    data: &SessionData,
    pk: &str,
) -> Result<NewEvent, ApiError> {
    may_push(state, pk, &data.ip).await?;
    let ttl = (data.expires_at - state.now()).max(1);
    let event = DeviceEvent::SignIn(sign_in_request(state, client, sid, data));
    state.device_event(pk, event, ttl)
}

/// The audience of push tokens the provider keeps for remembered devices.
pub fn push_audience(state: &AppState) -> String {
    format!("{}/sign-in", state.config.base_url())
}

/// The key behind a remembered device's push token, if it is still good.
pub async fn remembered_key(state: &AppState, token: &str) -> Result<String, ApiError> {
    let v = state
        .validation()
        .jti_optional()
        .audience(push_audience(state));
    let pk = state
        .verify_signed::<PushToken>(token, &v)
        .await?
        .id
        .to_string();
    state.active_key(&pk).await?;
    Ok(pk)
}
