//! Pushing a sign-in request to the user's devices, through the push gate.

use authentiq_protocol::payloads::{DeviceEvent, PushToken};

use super::sign_in_request;
use crate::oidc::clients::Client;
use crate::oidc::session::SessionData;
use crate::security::pushes::may_push;
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
    may_push(state, pk, &data.ip).await?;
    let ttl = (data.expires_at - state.now()).max(1);
    let event = DeviceEvent::SignIn(sign_in_request(state, client, sid, data));
    state.emit(pk, event, ttl).await?;
    state.metrics.push_sent();
    Ok(())
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
