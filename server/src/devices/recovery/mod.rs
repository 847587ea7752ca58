//! `/recovery`: when every device of an ID is lost. On a new device, the
//! recovery secret (shown at enrolment) *and* a code sent to the ID's
//! verified email (and one to its phone, when one is bound) start a
//! recovery; it is announced to the ID's devices at once and completes
//! only after `devices.recovery_delay_secs`, unless one of them cancels
//! it. Completing attaches the new key to the same identity (same `sub`
//! at every relying party) and removes every old device key. Attempts are
//! counted before anything is compared, atomically (a rate bucket per ID
//! for the secret, the record's compare-and-swap for the codes).
//! Revoking the whole ID is a separate, explicit flow (`DELETE /key`).

use authentiq_protocol::AuthentiqId;
use authentiq_protocol::devices::{
    RecoveryAction, RecoveryConfirm, RecoveryStart, RecoveryStarted,
};
use authentiq_protocol::payloads::{DeviceEvent, Requester};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::manage::{log, removed};
use super::{device_name, fresh_key, new_device_token};
use crate::delivery::Channel;
use crate::extract::JwtBody;
use crate::oidc::records;
use crate::secrets::{self, normalize_email, normalize_phone};
use crate::security::{ClientIp, Kind};
use crate::store::StoreError;
use crate::store::devices::DeviceRecord;
use crate::{ApiError, AppState};

mod begin;
mod end;

pub use begin::{__path_confirm, __path_start, confirm, start};
pub use end::{__path_cancel, __path_complete, cancel, complete};

/// The record kind of a recovery.
const RECOVERY: &str = "recovery";

/// How long the codes stay valid.
const CODE_TTL: i64 = 15 * 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recovery", post(start))
        .route("/recovery/{rid}", get(status))
        .route("/recovery/{rid}/confirm", post(confirm))
        .route("/recovery/{rid}/cancel", post(cancel))
        .route("/recovery/{rid}/complete", post(complete))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    /// Codes sent, waiting for them.
    Codes,
    /// Codes right: waiting out the delay.
    Waiting,
    Cancelled,
    Completed,
    /// Too many wrong codes.
    Failed,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Codes => "codes-sent",
            Stage::Waiting => "waiting",
            Stage::Cancelled => "cancelled",
            Stage::Completed => "completed",
            Stage::Failed => "failed",
        }
    }
}

/// A recovery, as stored (record `recovery`/`<id>`, belonging to the ID).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recovery {
    id_pk: String,
    device_pk: String,
    name: String,
    email_code: Vec<u8>,
    phone_code: Option<Vec<u8>>,
    attempts: u32,
    stage: Stage,
    completes_at: Option<i64>,
    requester: Requester,
}

fn url(state: &AppState, rid: &str) -> String {
    format!("{}/recovery/{rid}", state.config.base_url())
}

fn code_domain(rid: &str, channel: &str) -> String {
    format!("recover:{channel}:{rid}")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryBody {
    /// `codes-sent`, `waiting`, `cancelled`, `completed` or `failed`.
    pub status: &'static str,
    /// The recovery's URL.
    pub recovery: String,
    /// When it completes (once `waiting`), seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completes_at: Option<i64>,
    /// Once `completed`: the ID's new recovery secret (the old one is
    /// spent). Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn body(state: &AppState, rid: &str, r: &Recovery) -> Json<RecoveryBody> {
    Json(RecoveryBody {
        status: r.stage.name(),
        recovery: url(state, rid),
        completes_at: r.completes_at,
        secret: None,
    })
}

fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::auth_error("give the recovery secret as Authorization: Bearer"))
}

/// A bound hash equal to the hash of what was given, compared in constant time.
fn same_hash(bound: Option<&[u8]>, given: &[u8]) -> bool {
    bound.is_some_and(|b| bool::from(b.ct_eq(given)))
}

async fn load(state: &AppState, rid: &str) -> Result<Recovery, ApiError> {
    records::get::<Recovery>(state, RECOVERY, rid)
        .await?
        .map(|(r, _)| r)
        .ok_or_else(|| ApiError::not_found("no such recovery, or it expired"))
}

/// How a recovery stands.
#[utoipa::path(get, path = "/recovery/{RID}", tag = "key", operation_id = "recovery_status",
    params(("RID" = String, Path, description = "The recovery id")),
    responses(
        (status = 200, description = "Its stage", body = RecoveryBody),
        (status = 404, description = "Unknown or expired `not-found`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn status(
    State(state): State<AppState>,
    Path(rid): Path<String>,
) -> Result<Json<RecoveryBody>, ApiError> {
    let r = load(&state, &rid).await?;
    Ok(body(&state, &rid, &r))
}

fn new_key_only(device: &AuthentiqId, r: &Recovery) -> Result<(), ApiError> {
    if device.to_string() != r.device_pk {
        return Err(ApiError::auth_error(
            "only the key that started the recovery may continue it",
        ));
    }
    Ok(())
}
