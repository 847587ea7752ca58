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

/// Start recovering an ID on a new device: `JWT(sub, aud, jti, id, name,
/// email, phone?)` self-signed by the new key, `aud` = `<server>/recovery`,
/// and the recovery secret as `Authorization: Bearer`. Sends the codes.
#[utoipa::path(post, path = "/recovery", tag = "key", operation_id = "recovery_start",
    params(("Authorization" = String, Header, description = "`Bearer <recovery secret>`")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key: `id`, `name`, `email` (and `phone` when the ID has one bound)"),
    responses(
        (status = 201, description = "Codes sent `codes-sent`", body = RecoveryBody),
        (status = 400, description = "Malformed JWT, email or phone", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No or a wrong secret; a wrong email or phone; bad signature, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown ID `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The new key is registered `duplicate-key`; the ID has no verified email `confirm-first`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this ID `rate-limit`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<(StatusCode, Json<RecoveryBody>), ApiError> {
    let secret = bearer(&headers)?;
    let aud = format!("{}/recovery", state.config.base_url());
    let v = state.action_validation().audience(aud.clone());
    // Checked before anything is spent or counted.
    let (_, claims, _) = state.verify_unspent::<RecoveryStart>(&token, &v)?;
    let RecoveryStart {
        id,
        name,
        email,
        phone,
    } = claims.body;
    let name = device_name(&name)?;
    let id_pk = crate::routes::key::parse_pk(&id)?.to_string();
    let key = state.active_key(&id_pk).await?;
    let d = &state.config.devices;
    // Counted before the secret is compared, atomically.
    state
        .rate_limit(
            format!("recovery:{id_pk}"),
            d.attempts_per_id,
            d.attempt_window_secs,
            "recovery attempts",
        )
        .await?;
    let (device, _) = new_device_token::<RecoveryStart>(&state, &token, aud).await?;
    let device_pk = device.to_string();
    fresh_key(&state, &device_pk).await?;
    let ip = ip.to_string();
    if !secrets::verify_secret(&secret, &key.secret_hash) {
        log(
            &state,
            Kind::RecoveryStarted,
            &id_pk,
            &ip,
            "refused: wrong recovery secret".into(),
        )
        .await?;
        return Err(ApiError::auth_error("wrong recovery secret"));
    }
    if key.email_hash.is_none() {
        return Err(ApiError::confirm_first(
            "this ID has no verified email: it cannot be recovered (revoke it instead)",
        ));
    }
    let email =
        normalize_email(&email).ok_or_else(|| ApiError::bad_request("not a valid email"))?;
    if !same_hash(
        key.email_hash.as_deref(),
        &state.hasher.hash("email", &email),
    ) {
        return Err(ApiError::auth_error("not the email this ID verified"));
    }
    let phone = match (&key.phone_hash, phone) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "this ID has a phone bound: give it too",
            ));
        }
        (Some(bound), Some(p)) => {
            let p = normalize_phone(&p)
                .ok_or_else(|| ApiError::bad_request("not a valid phone number"))?;
            if !same_hash(Some(bound), &state.hasher.hash("phone", &p)) {
                return Err(ApiError::auth_error("not the phone this ID verified"));
            }
            Some(p)
        }
    };
    let rid = records::new_token();
    let email_code = secrets::new_code();
    let phone_code = phone.as_ref().map(|_| secrets::new_code());
    let recovery = Recovery {
        id_pk: id_pk.clone(),
        device_pk: device_pk.clone(),
        name,
        email_code: state.hasher.hash(&code_domain(&rid, "email"), &email_code),
        phone_code: phone_code
            .as_ref()
            .map(|c| state.hasher.hash(&code_domain(&rid, "phone"), c)),
        attempts: 0,
        stage: Stage::Codes,
        completes_at: None,
        requester: crate::routes::login::requester(&headers, &ip),
    };
    // Lives as long as it may wait, and goes with the ID if it is revoked.
    let expires_at = state.now() + CODE_TTL + d.recovery_delay_secs + 24 * 3600;
    let record = records::new(RECOVERY, &rid, &rid, Some(&id_pk), &recovery, expires_at)?;
    records::put(&state, record).await?;
    let what = "recover your Authentiq ID on a new device";
    crate::routes::scope::send_code(&state, Channel::Email, &email, &email_code, what, false)
        .await?;
    if let (Some(p), Some(c)) = (&phone, &phone_code) {
        crate::routes::scope::send_code(&state, Channel::Sms, p, c, what, false).await?;
    }
    log(
        &state,
        Kind::RecoveryStarted,
        &id_pk,
        &ip,
        format!("{device_pk}: codes sent"),
    )
    .await?;
    Ok((StatusCode::CREATED, body(&state, &rid, &recovery)))
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

/// Give the codes: `JWT(sub, aud, jti, email_code, phone_code?)` self-signed
/// by the new key, `aud` = `<recovery>/confirm`. Announces the recovery to
/// the ID's devices; it completes after the delay.
#[utoipa::path(post, path = "/recovery/{RID}/confirm", tag = "key", operation_id = "recovery_confirm",
    params(("RID" = String, Path, description = "The recovery id")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key: `email_code`, `phone_code`"),
    responses(
        (status = 200, description = "`waiting` until `completes_at`", body = RecoveryBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Wrong code, another key, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired `not-found`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Not waiting for codes (cancelled, failed, confirmed) `conflict`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<RecoveryBody>, ApiError> {
    let base = url(&state, &rid);
    let (device, codes) =
        new_device_token::<RecoveryConfirm>(&state, &token, format!("{base}/confirm")).await?;
    new_key_only(&device, &load(&state, &rid).await?)?;
    let (max, now, delay) = (
        state.config.rate.code_attempts,
        state.now(),
        state.config.devices.recovery_delay_secs,
    );
    let hasher = &state.hasher;
    // The attempt is counted and the codes compared in one compare-and-swap.
    let (right, r) = records::modify(&state, RECOVERY, &rid, |r: &mut Recovery| {
        if r.stage != Stage::Codes {
            return Err(ApiError::conflict(format!(
                "this recovery is {}, not waiting for codes",
                r.stage.name()
            )));
        }
        r.attempts += 1;
        let email_ok = hasher.verify(
            &code_domain(&rid, "email"),
            codes.email_code.trim(),
            &r.email_code,
        );
        let phone_ok = match (&r.phone_code, &codes.phone_code) {
            (None, _) => true,
            (Some(h), Some(c)) => hasher.verify(&code_domain(&rid, "phone"), c.trim(), h),
            (Some(_), None) => false,
        };
        let right = email_ok && phone_ok;
        if right {
            r.stage = Stage::Waiting;
            r.completes_at = Some(now + delay);
        } else if r.attempts >= max {
            r.stage = Stage::Failed;
        }
        Ok((right, r.clone()))
    })
    .await?;
    let ip = ip.to_string();
    if !right {
        if r.stage == Stage::Failed {
            log(
                &state,
                Kind::CodeLimitReached,
                &r.id_pk,
                &ip,
                "recovery codes".into(),
            )
            .await?;
            return Err(ApiError::auth_error(
                "wrong code; too many attempts, start again",
            ));
        }
        return Err(ApiError::auth_error("wrong code"));
    }
    let completes_at = r.completes_at.unwrap_or(now + delay);
    let event = DeviceEvent::RecoveryStarted(RecoveryStarted {
        recovery: base,
        device: r.device_pk.clone(),
        name: r.name.clone(),
        requester: r.requester.clone(),
        completes_at,
    });
    state
        .emit(&r.id_pk, event, delay.max(crate::state::EVENT_TTL))
        .await?;
    log(
        &state,
        Kind::RecoveryStarted,
        &r.id_pk,
        &ip,
        format!("{}: announced, completes at {completes_at}", r.device_pk),
    )
    .await?;
    Ok(body(&state, &rid, &r))
}

/// Cancel a recovery from a device of the ID: `JWT(sub, aud, jti)`,
/// `aud` = `<recovery>/cancel`.
#[utoipa::path(post, path = "/recovery/{RID}/cancel", tag = "key", operation_id = "recovery_cancel",
    params(("RID" = String, Path, description = "The recovery id")),
    request_body(content = String, content_type = "application/jwt", description = "Signed by a device of the ID"),
    responses(
        (status = 200, description = "`cancelled`", body = RecoveryBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by a device of this ID, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired `not-found`, or unknown key", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Completed or failed already `conflict`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The signing device was removed `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<RecoveryBody>, ApiError> {
    let base = url(&state, &rid);
    let v = state.action_validation().audience(format!("{base}/cancel"));
    let signed = state
        .verify_signed_action::<RecoveryAction>(&token, &v)
        .await?;
    let id_pk = signed.id.to_string();
    if load(&state, &rid).await?.id_pk != id_pk {
        return Err(ApiError::auth_error(
            "only a device of the ID being recovered may cancel",
        ));
    }
    let r = records::modify(&state, RECOVERY, &rid, |r: &mut Recovery| {
        match r.stage {
            Stage::Codes | Stage::Waiting => r.stage = Stage::Cancelled,
            Stage::Cancelled => {}
            other => {
                return Err(ApiError::conflict(format!(
                    "this recovery is {}",
                    other.name()
                )));
            }
        }
        Ok(r.clone())
    })
    .await?;
    state.withdraw(&id_pk, &base, "cancelled").await?;
    log(
        &state,
        Kind::RecoveryCancelled,
        &id_pk,
        &ip.to_string(),
        format!("{} by {}", r.device_pk, signed.device),
    )
    .await?;
    Ok(body(&state, &rid, &r))
}

/// Complete a recovery once its delay is over: `JWT(sub, aud, jti)`
/// self-signed by the new key, `aud` = `<recovery>/complete`. The new key
/// becomes the ID's only device and gets a new recovery secret.
#[utoipa::path(post, path = "/recovery/{RID}/complete", tag = "key", operation_id = "recovery_complete",
    params(("RID" = String, Path, description = "The recovery id")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed by the new key"),
    responses(
        (status = 200, description = "`completed`, with the new recovery secret", body = RecoveryBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Another key, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or expired `not-found`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Cancelled, not confirmed, or still waiting `conflict`; the key was registered meanwhile `duplicate-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "The ID was revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn complete(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<RecoveryBody>, ApiError> {
    let base = url(&state, &rid);
    let (device, _) =
        new_device_token::<RecoveryAction>(&state, &token, format!("{base}/complete")).await?;
    new_key_only(&device, &load(&state, &rid).await?)?;
    let now = state.now();
    // Decided once, against a cancellation arriving at the same moment.
    let r = records::modify(&state, RECOVERY, &rid, |r: &mut Recovery| {
        match (r.stage, r.completes_at) {
            (Stage::Waiting, Some(at)) if now >= at => {
                r.stage = Stage::Completed;
                Ok(r.clone())
            }
            (Stage::Waiting, at) => Err(ApiError::conflict(format!(
                "the recovery completes at {}; any device of the ID may cancel it until then",
                at.unwrap_or_default()
            ))),
            (stage, _) => Err(ApiError::conflict(format!(
                "this recovery is {}",
                stage.name()
            ))),
        }
    })
    .await?;
    let secret = secrets::new_secret();
    let new = DeviceRecord {
        pk: r.device_pk.clone(),
        id_pk: r.id_pk.clone(),
        name: r.name.clone(),
        added_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let hash = secrets::hash_secret(&secret);
    let old = match state
        .db
        .call(move |s| s.recover_identity(&new, &hash, now))
        .await
    {
        Ok(old) => old,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::duplicate_key(
                "the new key was registered meanwhile",
            ));
        }
        Err(StoreError::NotFound) => {
            return Err(ApiError::revoked_key("this Authentiq ID was revoked"));
        }
        Err(e) => return Err(e.into()),
    };
    removed(&state, &r.id_pk, &old).await?;
    state.withdraw(&r.id_pk, &base, "completed").await?;
    log(
        &state,
        Kind::RecoveryCompleted,
        &r.id_pk,
        &ip.to_string(),
        format!("{} replaces {} device(s)", r.device_pk, old.len()),
    )
    .await?;
    let mut out = body(&state, &rid, &r);
    out.secret = Some(secret);
    Ok(out)
}
