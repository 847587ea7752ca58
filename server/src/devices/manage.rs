//! `/key/{PK}/devices…`: the devices of an identity, listed, renamed and
//! removed from any of its devices (signed requests, `aud` = the URL).
//! A removed device's key stops working at once and its channel ends;
//! the identity and its other devices stay.

use authentiq_protocol::devices::{DeviceChange, DeviceInfo, DeviceList, DeviceRemoved};
use authentiq_protocol::payloads::DeviceEvent;
use axum::extract::{Path, State};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::{Signed, device_name};
use crate::extract::JwtBody;
use crate::routes::key::{StatusBody, parse_pk, status};
use crate::security::{self, ClientIp, Kind, Subject};
use crate::store::StoreError;
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/key/{pk}/devices/list", post(list))
        .route("/key/{pk}/devices/{device}", put(rename).delete(remove))
}

/// The URL a device-management token names in `aud`.
pub fn audience(state: &AppState, pk: &str, rest: &str) -> String {
    format!("{}/key/{pk}/devices/{rest}", state.config.base_url())
}

/// Verifies a device-management token for the identity in the path,
/// addressed to `aud`; the identity must be live.
async fn verify<T: DeserializeOwned>(
    state: &AppState,
    pk: &str,
    aud: String,
    token: &str,
) -> Result<Signed<T>, ApiError> {
    let path_id = parse_pk(pk)?;
    let v = state.action_validation().audience(aud);
    let signed = state.verify_signed_action::<T>(token, &v).await?;
    if signed.id != path_id {
        return Err(ApiError::auth_error(
            "the JWT must be signed by a device of the ID in the path",
        ));
    }
    state.active_key(pk).await?;
    Ok(signed)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceListBody {
    /// The identity's active devices, oldest first: `device` (its key),
    /// `name`, `added_at` and `last_used_at` (seconds since the epoch).
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<DeviceInfo>,
    /// The device that asked.
    pub this_device: String,
}

/// List the devices of an ID: a `JWT(sub, aud, jti)` of one of them.
#[utoipa::path(post, path = "/key/{PK}/devices/list", tag = "key", operation_id = "devices_list",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "Signed by a device of the ID, `aud` = this URL"),
    responses(
        (status = 200, description = "The devices", body = DeviceListBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a device of this ID, or replayed `auth-error` / `aud-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID is revoked or the device removed `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<DeviceListBody>, ApiError> {
    let aud = audience(&state, &pk, "list");
    let signed = verify::<DeviceList>(&state, &pk, aud, &token).await?;
    let owned = pk.clone();
    let devices = state.db.read(move |s| s.list_devices(&owned)).await?;
    Ok(Json(DeviceListBody {
        devices: devices
            .into_iter()
            .map(|d| DeviceInfo {
                device: d.pk,
                name: d.name,
                added_at: d.added_at,
                last_used_at: d.last_used_at,
            })
            .collect(),
        this_device: signed.device.to_string(),
    }))
}

/// The device in the path, if it is an active device of the identity
/// (404 for any other: another identity's devices are none of its business).
async fn own_device(state: &AppState, pk: &str, device: &str) -> Result<(), ApiError> {
    match state.device(device).await {
        Ok(d) if d.id_pk == pk && !d.is_removed() => Ok(()),
        Ok(_) | Err(_) => Err(ApiError::unknown_key("no such device of this Authentiq ID")),
    }
}

/// Rename a device: `JWT(sub, aud, jti, name)` of any device of the ID.
#[utoipa::path(put, path = "/key/{PK}/devices/{DEVICE}", tag = "key", operation_id = "devices_rename",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)"),
        ("DEVICE" = String, Path, description = "The device's key (43 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "Signed by a device of the ID, `aud` = this URL, with `name`"),
    responses(
        (status = 200, description = "Renamed `done`", body = StatusBody),
        (status = 400, description = "Malformed JWT or name", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a device of this ID, or replayed `auth-error` / `aud-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ID or device `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID is revoked or the signing device removed `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    Path((pk, device)): Path<(String, String)>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<StatusBody>, ApiError> {
    let aud = audience(&state, &pk, &device);
    let signed = verify::<DeviceChange>(&state, &pk, aud, &token).await?;
    let name = device_name(
        signed
            .claims
            .body
            .name
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("give the new name in name"))?,
    )?;
    own_device(&state, &pk, &device).await?;
    let (owned, n) = (device.clone(), name.clone());
    match state.db.call(move |s| s.rename_device(&owned, &n)).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(ApiError::unknown_key("no such device of this Authentiq ID"));
        }
        Err(e) => return Err(e.into()),
    }
    log(
        &state,
        Kind::DeviceRenamed,
        &pk,
        &ip,
        format!("{device} as {name:?} by {}", signed.device),
    )
    .await?;
    Ok(status("done"))
}

/// Remove a device: `JWT(sub, aud, jti)` of any device of the ID (itself
/// included). Its key stops working at once; the last device cannot be
/// removed (revoke the ID instead).
#[utoipa::path(delete, path = "/key/{PK}/devices/{DEVICE}", tag = "key", operation_id = "devices_remove",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)"),
        ("DEVICE" = String, Path, description = "The device's key (43 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "Signed by a device of the ID, `aud` = this URL"),
    responses(
        (status = 200, description = "Removed `done`", body = StatusBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a device of this ID, or replayed `auth-error` / `aud-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ID or device `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The ID's last device `last-device`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID is revoked or the signing device removed `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Path((pk, device)): Path<(String, String)>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<StatusBody>, ApiError> {
    let aud = audience(&state, &pk, &device);
    let signed = verify::<DeviceChange>(&state, &pk, aud, &token).await?;
    if signed.claims.body.name.is_some() {
        return Err(ApiError::bad_request("a removal carries no name"));
    }
    own_device(&state, &pk, &device).await?;
    let (owned, now) = (device.clone(), state.now());
    match state.db.call(move |s| s.remove_device(&owned, now)).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return Err(ApiError::unknown_key("no such device of this Authentiq ID"));
        }
        Err(StoreError::Conflict(_)) => return Err(last_device()),
        Err(e) => return Err(e.into()),
    }
    removed(&state, &pk, std::slice::from_ref(&device)).await?;
    log(
        &state,
        Kind::DeviceRemoved,
        &pk,
        &ip,
        format!("{device} by {}", signed.device),
    )
    .await?;
    Ok(status("done"))
}

fn last_device() -> ApiError {
    ApiError {
        status: axum::http::StatusCode::CONFLICT,
        kind: "last-device",
        title: "Last device",
        detail: "this is the ID's last device: link another first, or revoke the ID".into(),
        retry_after: None,
    }
}

/// Tells the identity's devices (and so the removed ones' channels, which
/// end) that these devices are gone.
pub(crate) async fn removed(
    state: &AppState,
    pk: &str,
    devices: &[String],
) -> Result<(), ApiError> {
    for d in devices {
        let event = DeviceEvent::DeviceRemoved(DeviceRemoved { device: d.clone() });
        state.emit(pk, event, crate::state::EVENT_TTL).await?;
    }
    Ok(())
}

/// Writes a device step to the security event log.
pub(crate) async fn log(
    state: &AppState,
    kind: Kind,
    pk: &str,
    ip: &impl std::fmt::Display,
    detail: String,
) -> Result<(), ApiError> {
    let ip = ip.to_string();
    security::record(
        state,
        kind,
        Subject {
            pk: Some(pk),
            ip: Some(&ip),
            ..Subject::default()
        },
        Some(detail),
    )
    .await
}
