//! `/link`: linking a new device to an identity. The new device signs the
//! request with its new key; the identity's devices are pushed it (with
//! where it comes from and three numbers); one of them approves with a
//! signed answer carrying the number the new device shows. Only then is
//! the new key recorded under the identity. A denial or a wrong number
//! ends the request (the compare-and-swap on its record decides once,
//! however many answers arrive at once).

use authentiq_protocol::devices::{LinkAnswer, LinkRequestEvent, LinkStart};
use authentiq_protocol::payloads::{Decision, DeviceEvent, Requester};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::manage::log;
use super::{device_name, fresh_key, new_device_token};
use crate::extract::JwtBody;
use crate::oidc::records;
use crate::security::{ClientIp, Kind};
use crate::store::StoreError;
use crate::store::devices::DeviceRecord;
use crate::{ApiError, AppState};

/// The record kind of a pairing.
const LINK: &str = "link";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/link", post(start))
        .route("/link/{pairing}", get(status).post(answer))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LinkStatus {
    Pending,
    Approved,
    Refused,
}

/// A pairing, as stored (record `link`/`<pairing id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pairing {
    id_pk: String,
    device_pk: String,
    name: String,
    numbers: [u16; 3],
    /// The one the new device shows.
    shown: u16,
    requester: Requester,
    status: LinkStatus,
}

/// The URL of a pairing: its answers name it in `aud`.
pub fn pairing_url(state: &AppState, pairing: &str) -> String {
    format!("{}/link/{pairing}", state.config.base_url())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStarted {
    /// `pending`
    pub status: &'static str,
    /// The pairing's URL: poll it (GET) for the outcome.
    pub pairing: String,
    /// The number to show on the new device; the approving device picks it.
    pub number: u16,
    pub expires_at: i64,
}

/// Ask to link a new device to an ID: `JWT(sub, aud, jti, id, name)`
/// self-signed by the new device's key, `aud` = `<server>/link`.
#[utoipa::path(post, path = "/link", tag = "key", operation_id = "link_start",
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key: `id` (the ID to link to) and `name`"),
    responses(
        (status = 201, description = "Pushed to the ID's devices", body = LinkStarted),
        (status = 400, description = "Malformed JWT, ID or name", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Bad signature, expired or replayed `auth-error` / `aud-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ID `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The new key is registered already `duplicate-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many link requests for this ID `rate-limit`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<(StatusCode, Json<LinkStarted>), ApiError> {
    let aud = format!("{}/link", state.config.base_url());
    let (device, LinkStart { id, name }) = new_device_token(&state, &token, aud).await?;
    let name = device_name(&name)?;
    let id_pk = crate::routes::key::parse_pk(&id)?.to_string();
    state.active_key(&id_pk).await?;
    let device_pk = device.to_string();
    fresh_key(&state, &device_pk).await?;
    let d = &state.config.devices;
    state
        .rate_limit(
            format!("link:{id_pk}"),
            d.attempts_per_id,
            d.attempt_window_secs,
            "link requests",
        )
        .await?;
    let numbers = crate::routes::login::candidate_numbers();
    let shown = numbers[usize::from(crate::secrets::random_bytes::<1>()[0]) % 3];
    let ip = ip.to_string();
    let pairing = Pairing {
        id_pk: id_pk.clone(),
        device_pk: device_pk.clone(),
        name: name.clone(),
        numbers,
        shown,
        requester: crate::routes::login::requester(&headers, &ip),
        status: LinkStatus::Pending,
    };
    let pairing_id = records::new_token();
    let expires_at = state.now() + d.link_ttl_secs;
    let record = records::new(
        LINK,
        &pairing_id,
        &pairing_id,
        Some(&id_pk),
        &pairing,
        expires_at,
    )?;
    records::put(&state, record).await?;
    let url = pairing_url(&state, &pairing_id);
    let event = DeviceEvent::LinkRequest(LinkRequestEvent {
        pairing: url.clone(),
        device: device_pk.clone(),
        name,
        requester: pairing.requester,
        numbers,
    });
    state.emit(&id_pk, event, d.link_ttl_secs).await?;
    log(
        &state,
        Kind::LinkRequested,
        &id_pk,
        &ip,
        format!("{device_pk} asks"),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(LinkStarted {
            status: "pending",
            pairing: url,
            number: shown,
            expires_at,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStatusBody {
    /// `pending`, `approved` or `refused`.
    pub status: &'static str,
}

fn status_name(s: LinkStatus) -> &'static str {
    match s {
        LinkStatus::Pending => "pending",
        LinkStatus::Approved => "approved",
        LinkStatus::Refused => "refused",
    }
}

/// How a pairing stands (for the new device, which polls it).
#[utoipa::path(get, path = "/link/{PAIRING}", tag = "key", operation_id = "link_status",
    params(("PAIRING" = String, Path, description = "The pairing id")),
    responses(
        (status = 200, description = "`pending`, `approved` or `refused`", body = LinkStatusBody),
        (status = 404, description = "Unknown or expired pairing `not-found`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn status(
    State(state): State<AppState>,
    Path(pairing): Path<String>,
) -> Result<Json<LinkStatusBody>, ApiError> {
    let (p, _) = load(&state, &pairing).await?;
    Ok(Json(LinkStatusBody {
        status: status_name(p.status),
    }))
}

async fn load(
    state: &AppState,
    pairing: &str,
) -> Result<(Pairing, crate::store::Record), ApiError> {
    records::get::<Pairing>(state, LINK, pairing)
        .await?
        .ok_or_else(|| ApiError::not_found("no such link request, or it expired"))
}

/// Answer a link request from a device of the ID: `JWT(sub, aud, jti,
/// decision, number)`, `aud` = the pairing's URL.
#[utoipa::path(post, path = "/link/{PAIRING}", tag = "key", operation_id = "link_answer",
    params(("PAIRING" = String, Path, description = "The pairing id")),
    request_body(content = String, content_type = "application/jwt", description = "Signed by a device of the ID: `decision` (`approve`/`deny`) and, approving, the `number` the new device shows"),
    responses(
        (status = 200, description = "`approved` (the new device is linked) or `refused`", body = LinkStatusBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a device of this ID, expired or replayed `auth-error` / `aud-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A wrong number: the request is refused `wrong-number`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired pairing `not-found`, or unknown key", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already answered `conflict`, or the new key was registered meanwhile `duplicate-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The signing device was removed or the ID revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn answer(
    State(state): State<AppState>,
    Path(pairing): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<LinkStatusBody>, ApiError> {
    let url = pairing_url(&state, &pairing);
    let v = state.action_validation().audience(url.clone());
    let signed = state.verify_signed_action::<LinkAnswer>(&token, &v).await?;
    let (p, _) = load(&state, &pairing).await?;
    let id_pk = signed.id.to_string();
    if id_pk != p.id_pk {
        return Err(ApiError::auth_error(
            "only a device of the ID being linked to may answer",
        ));
    }
    state.active_key(&id_pk).await?;
    let body = signed.claims.body;
    let right = body.decision == Decision::Approve && body.number == Some(p.shown);
    let outcome = if right {
        LinkStatus::Approved
    } else {
        LinkStatus::Refused
    };
    // Decided once: the first answer wins.
    records::modify(&state, LINK, &pairing, |d: &mut Pairing| {
        if d.status != LinkStatus::Pending {
            return Err(ApiError::conflict("this link request was already answered"));
        }
        d.status = outcome;
        Ok(())
    })
    .await?;
    let by = signed.device.to_string();
    let ip = ip.to_string();
    if !right {
        let why = if body.decision == Decision::Deny {
            "denied"
        } else {
            "a wrong number"
        };
        log(
            &state,
            Kind::LinkRefused,
            &id_pk,
            &ip,
            format!("{} by {by}: {why}", p.device_pk),
        )
        .await?;
        state.withdraw(&id_pk, &url, "refused").await?;
        if body.decision == Decision::Deny {
            return Ok(Json(LinkStatusBody { status: "refused" }));
        }
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            kind: "wrong-number",
            title: "Wrong number",
            detail: "the number does not match the one the new device shows; the link is refused"
                .into(),
            retry_after: None,
        });
    }
    let device = DeviceRecord {
        pk: p.device_pk.clone(),
        id_pk: id_pk.clone(),
        name: p.name.clone(),
        added_at: state.now(),
        last_used_at: None,
        revoked_at: None,
    };
    match state.db.call(move |s| s.add_device(&device)).await {
        Ok(()) => {}
        Err(e) => {
            records::modify(&state, LINK, &pairing, |d: &mut Pairing| {
                d.status = LinkStatus::Refused;
                Ok(())
            })
            .await?;
            log(
                &state,
                Kind::LinkRefused,
                &id_pk,
                &ip,
                format!("{}: {e}", p.device_pk),
            )
            .await?;
            state.withdraw(&id_pk, &url, "refused").await?;
            return Err(match e {
                StoreError::Conflict(_) => {
                    ApiError::duplicate_key("the new key was registered meanwhile")
                }
                StoreError::NotFound => ApiError::revoked_key("this Authentiq ID was revoked"),
                e => e.into(),
            });
        }
    }
    log(
        &state,
        Kind::LinkApproved,
        &id_pk,
        &ip,
        format!("{} by {by}", p.device_pk),
    )
    .await?;
    state.withdraw(&id_pk, &url, "approved").await?;
    Ok(Json(LinkStatusBody { status: "approved" }))
}
