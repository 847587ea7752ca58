//! `/scope` and `/scope/{job}`: verifying an email or phone number and
//! issuing the signed grant for it.
//!
//! Here: the route table, starting a job (`POST /scope`, which sends the
//! code), deleting one, and what the handlers share (sending a code, the
//! configured signing authorities, loading a job, telling the ID's devices
//! of a job's progress). Confirming a job with its code (`POST`) is in
//! `confirm.rs`; its grant (issuing ours, an authority's `PUT`, and
//! reading it back with `GET`) in `grant.rs`.

use authentiq_protocol::payloads::{ClaimRequest, ClaimScope, DeviceEvent, ScopeJobUpdate};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::key::{StatusBody, status};
use crate::delivery::{Channel, Message};
use crate::extract::{JwtBody, Query};
use crate::secrets::{self, normalize_email, normalize_phone};
use crate::store::{Job, JobStatus, StoreError};
use crate::{ApiError, AppState};

mod confirm;
mod grant;

pub use confirm::{__path_confirm, CodeBody, Confirmation, confirm};
pub use grant::{
    __path_authority_sign, __path_retrieve, GrantBody, ReadyBody, authority_sign, retrieve,
};

/// A job waits this long for its code.
const JOB_TTL: i64 = 30 * 60;
/// After signing, the grant can be fetched for this long.
const SIGNED_JOB_TTL: i64 = 24 * 3600;
/// Grants the issuer signs are valid this long.
const GRANT_TTL: i64 = 365 * 24 * 3600;

pub fn router() -> Router<AppState> {
    Router::new().route("/scope", post(create)).route(
        "/scope/{job}",
        axum::routing::get(retrieve)
            .post(confirm)
            .put(authority_sign)
            .delete(delete),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TestQuery {
    /// `1`: deliver the code to the server's outbox only, never by mail or SMS.
    pub test: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobCreated {
    /// 20-character job ID.
    pub job: String,
    /// `waiting`
    pub status: &'static str,
}

/// The external authority with this `kid`, if configured.
pub(crate) fn authority_key(
    state: &AppState,
    kid: &str,
) -> Result<Option<(VerifyingKey, Vec<String>)>, ApiError> {
    let Some(a) = state.config.authorities.iter().find(|a| a.kid == kid) else {
        return Ok(None);
    };
    let id: authentiq_protocol::AuthentiqId = a.public_key.parse().map_err(|e| {
        tracing::error!(kid, error = %e, "misconfigured authority key");
        ApiError::internal("misconfigured authority")
    })?;
    Ok(Some((*id.verifying_key(), a.scopes.clone())))
}

fn has_authority(state: &AppState, scope: &str) -> bool {
    state
        .config
        .authorities
        .iter()
        .any(|a| a.scopes.iter().any(|s| s == scope))
}

/// Sends `code` by email or SMS (or to the outbox for test jobs).
pub(crate) async fn send_code(
    state: &AppState,
    channel: Channel,
    to: &str,
    code: &str,
    purpose: &str,
    test: bool,
) -> Result<(), ApiError> {
    let message = Message {
        channel,
        to: to.to_string(),
        subject: format!("Your Authentiq code: {code}"),
        text: format!(
            "Your Authentiq code to {purpose} is {code}.\n\nEnter it in the Authentiq app. \
             If you did not ask for it, ignore this message."
        ),
    };
    let sent = if test {
        state.delivery.send_to_outbox(&message).await
    } else {
        state.delivery.send(&message).await
    };
    sent.map_err(|e| {
        tracing::warn!(error = %e, ?channel, "could not deliver a code");
        ApiError::delivery_failed("the code could not be delivered; try again later")
    })
}

/// Start verifying an email or phone: a self-signed claim request.
#[utoipa::path(post, path = "/scope", tag = "scope", operation_id = "sign_request",
    params(TestQuery),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed `JWT(sub, scope, email | phone_number, type?)`"),
    responses(
        (status = 201, description = "Job created, code sent", body = JobCreated),
        (status = 400, description = "Malformed JWT, email or phone", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Bad signature, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests on the same address or number `rate-limit`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 502, description = "The code could not be delivered", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Query(q): Query<TestQuery>,
    JwtBody(token): JwtBody,
) -> Result<(StatusCode, Json<JobCreated>), ApiError> {
    let (id, claims) = state
        .verify_action::<ClaimRequest>(&token, &state.action_validation())
        .await?;
    let raw = claims.body.validate().map_err(ApiError::bad_request)?;
    let (scope, value, channel) = match claims.body.scope {
        ClaimScope::Email => (
            "email",
            normalize_email(raw).ok_or_else(|| ApiError::bad_request("not a valid email"))?,
            Channel::Email,
        ),
        ClaimScope::Phone => (
            "phone",
            normalize_phone(raw)
                .ok_or_else(|| ApiError::bad_request("not a valid phone number (use +country…)"))?,
            Channel::Sms,
        ),
    };
    let pk = id.to_string();
    state.active_key(&pk).await?;
    let value_hash = state.hasher.hash(scope, &value);
    let r = &state.config.rate;
    let bucket = format!("scope:{}", hex(&value_hash));
    state
        .rate_limit(
            bucket,
            r.scope_per_address,
            r.scope_window_secs,
            "codes for this address",
        )
        .await?;
    let job_id = secrets::new_job_id();
    let code = secrets::new_code();
    let now = state.now();
    let test = q.test == Some(1);
    let job = Job {
        id: job_id.clone(),
        pk,
        scope: scope.to_string(),
        value: value.clone(),
        value_hash,
        code_hash: state.hasher.hash(&format!("code:{job_id}"), &code),
        attempts: 0,
        status: JobStatus::Waiting,
        test,
        created_at: now,
        expires_at: now + JOB_TTL,
        grant_jwt: None,
    };
    state.db.call(move |s| s.insert_job(&job)).await?;
    let purpose = format!("verify {value}");
    if let Err(e) = send_code(&state, channel, &value, &code, &purpose, test).await {
        let owned = job_id.clone();
        let _ = state.db.call(move |s| s.delete_job(&owned)).await;
        return Err(e);
    }
    Ok((
        StatusCode::CREATED,
        Json(JobCreated {
            job: job_id,
            status: "waiting",
        }),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn load_job(state: &AppState, job: &str) -> Result<Job, ApiError> {
    let (id, now) = (job.to_string(), state.now());
    match state.db.read(move |s| s.get_job(&id, now)).await {
        Ok(j) => Ok(j),
        Err(StoreError::NotFound) => Err(ApiError::unknown_job("no such job, or it expired")),
        Err(e) => Err(e.into()),
    }
}

async fn notify(state: &AppState, job: &Job) -> Result<(), ApiError> {
    let update = ScopeJobUpdate {
        job: job.id.clone(),
        status: job.status.as_str().to_string(),
    };
    state
        .emit(
            &job.pk,
            DeviceEvent::ScopeJob(update),
            crate::state::EVENT_TTL,
        )
        .await
        .map(|_| ())
}

/// Delete a verification job.
#[utoipa::path(delete, path = "/scope/{job}", tag = "scope", operation_id = "sign_delete",
    params(("job" = String, Path, description = "Job ID (20 chars)")),
    responses(
        (status = 200, description = "Successfully deleted", body = StatusBody),
        (status = 404, description = "Job not found `unknown-job`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(job): Path<String>,
) -> Result<Json<StatusBody>, ApiError> {
    let id = job.clone();
    match state.db.call(move |s| s.delete_job(&id)).await {
        Ok(()) => Ok(status("done")),
        Err(StoreError::NotFound) => Err(ApiError::unknown_job("no such job")),
        Err(e) => Err(e.into()),
    }
}
