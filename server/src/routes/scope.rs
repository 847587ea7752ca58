//! `/scope` and `/scope/{job}`: verifying an email or phone number and
//! issuing the signed grant for it.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    ClaimRequest, ClaimScope, DeviceEvent, ScopeGrant, ScopeJobUpdate,
};
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::key::{StatusBody, status};
use crate::delivery::{Channel, Message};
use crate::extract::{JwtBody, Query, body_bytes, form_value};
use crate::secrets::{self, normalize_email, normalize_phone};
use crate::security::{self, ClientIp, Kind, Subject};
use crate::store::{GrantRecord, Job, JobStatus, StoreError};
use crate::{ApiError, AppState};

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

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantBody {
    /// `signed`
    pub status: &'static str,
    /// The grant: a JWT signed by the issuer (or an external authority).
    pub jwt: String,
    /// The Authentiq ID it is for.
    pub sub: String,
    /// `email` or `phone`.
    pub field: String,
    /// Expiry of the grant (seconds since the epoch).
    pub exp: i64,
}

/// The status of a job, or its grant once signed (also `HEAD`).
#[utoipa::path(get, path = "/scope/{job}", tag = "scope", operation_id = "sign_retrieve",
    params(("job" = String, Path, description = "Job ID (20 chars)")),
    responses(
        (status = 200, description = "Signed: the grant as `application/jwt`, or JSON with `Accept: application/json`",
            content((GrantBody = "application/json"), (String = "application/jwt"))),
        (status = 202, description = "Waiting for the code", body = StatusBody),
        (status = 204, description = "Confirmed, waiting for signing"),
        (status = 404, description = "Job not found `unknown-job`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn retrieve(
    State(state): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = load_job(&state, &job).await?;
    match (job.status, job.grant_jwt) {
        (JobStatus::Waiting, _) => Ok((StatusCode::ACCEPTED, status("waiting")).into_response()),
        (JobStatus::Confirmed, _) | (JobStatus::Signed, None) => {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (JobStatus::Signed, Some(grant)) => {
            let wants_json = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("application/json") && !a.contains("application/jwt"));
            if wants_json {
                let exp = grant_exp(&grant).unwrap_or(job.expires_at);
                Ok(Json(GrantBody {
                    status: "signed",
                    jwt: grant,
                    sub: job.pk,
                    field: job.scope,
                    exp,
                })
                .into_response())
            } else {
                Ok(([(header::CONTENT_TYPE, "application/jwt")], grant).into_response())
            }
        }
    }
}

/// `exp` of a token we issued ourselves (already trusted).
fn grant_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["exp"].as_i64()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeBody {
    /// The 6-digit code that was sent.
    pub code: String,
}

/// The confirmation: the code, as `?code=`, a form field or JSON `{"code"}`.
#[derive(Debug)]
pub struct Confirmation(Option<String>);

impl FromRequest<AppState> for Confirmation {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Q {
            code: Option<String>,
        }
        let query_code = req.uri().query().and_then(|q| form_value(q, "code"));
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body: Bytes = body_bytes(req, state).await?;
        let text = std::str::from_utf8(&body).unwrap_or("").trim();
        let looks_like_jwt = text.split('.').count() == 3 && !text.contains(['{', '=', ' ']);
        if ct.starts_with("application/jwt") || looks_like_jwt {
            return Err(ApiError::not_supported(
                "a JWT cannot be posted to a job; post the code (PUT is for signing authorities)",
            ));
        }
        if text.is_empty() {
            return Ok(Confirmation(query_code));
        }
        let body_code = if ct.starts_with("application/json") {
            serde_json::from_str::<Q>(text)
                .map_err(|e| ApiError::bad_request(format!("bad JSON: {e}")))?
                .code
        } else {
            form_value(text, "code")
        };
        Ok(Confirmation(body_code.or(query_code)))
    }
}

/// Confirm a job with the code that was sent.
#[utoipa::path(post, path = "/scope/{job}", tag = "scope", operation_id = "sign_confirm",
    params(("job" = String, Path, description = "Job ID (20 chars)"),
           ("code" = Option<String>, Query, description = "The code (or send it as a form field or JSON)")),
    request_body(description = "The code, as JSON or form",
        content((CodeBody = "application/json"), (CodeBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 202, description = "Successfully confirmed", body = StatusBody),
        (status = 400, description = "No code given", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Wrong code `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Job not found `unknown-job`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 405, description = "JWT posted to a job `not-supported`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    Path(job): Path<String>,
    ip: ClientIp,
    Confirmation(code): Confirmation,
) -> Result<(StatusCode, Json<StatusBody>), ApiError> {
    let code = code
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("give the code that was sent"))?;
    // The attempt is counted before the code is compared, atomically: no
    // number of parallel guesses gets more than `code_attempts` compared.
    let (id, now, max) = (job, state.now(), state.config.rate.code_attempts);
    let mut job = match state.db.call(move |s| s.attempt_job(&id, max, now)).await {
        Ok(j) => j,
        Err(StoreError::NotFound) => {
            return Err(ApiError::unknown_job("no such job, or it expired"));
        }
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::auth_error(
                "too many wrong codes; the job is cancelled",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if !state
        .hasher
        .verify(&format!("code:{}", job.id), &code, &job.code_hash)
    {
        if job.attempts < max {
            return Err(ApiError::auth_error("wrong code"));
        }
        let j = job.id.clone();
        match state.db.call(move |s| s.delete_job(&j)).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let ip = ip.to_string();
        security::record(
            &state,
            Kind::CodeLimitReached,
            Subject {
                pk: Some(&job.pk),
                ip: Some(&ip),
                ..Subject::default()
            },
            Some(format!("{} verification code", job.scope)),
        )
        .await?;
        return Err(ApiError::auth_error(
            "wrong code; too many attempts, the job is cancelled",
        ));
    }
    if job.status != JobStatus::Waiting {
        return Ok((StatusCode::ACCEPTED, status("confirmed")));
    }
    if has_authority(&state, &job.scope) {
        job.status = JobStatus::Confirmed;
    } else {
        job.grant_jwt = Some(issue_grant(&state, &job, now).await?);
        job.status = JobStatus::Signed;
        job.expires_at = now + SIGNED_JOB_TTL;
    }
    let j = job.clone();
    state.db.call(move |s| s.update_job(&j)).await?;
    notify(&state, &job).await?;
    Ok((StatusCode::ACCEPTED, status("confirmed")))
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

/// Signs the grant for a confirmed job and records it.
async fn issue_grant(state: &AppState, job: &Job, now: i64) -> Result<String, ApiError> {
    let (scope, email, phone_number) = match job.scope.as_str() {
        "email" => (ClaimScope::Email, Some(job.value.clone()), None),
        _ => (ClaimScope::Phone, None, Some(job.value.clone())),
    };
    let jti = jwt::random_jti().map_err(|_| ApiError::internal("no randomness"))?;
    let mut claims = Claims::new(ScopeGrant {
        scope,
        email,
        phone_number,
    })
    .issuer(state.config.base_url())
    .subject(job.pk.clone())
    .valid_for(now, GRANT_TTL);
    claims.registered.jti = Some(jti.clone());
    let token = state.sign(&claims)?;
    let record = GrantRecord {
        pk: job.pk.clone(),
        scope: job.scope.clone(),
        value_hash: job.value_hash.clone(),
        issuer: state.keys().issuer.active_kid().to_string(),
        jti,
        issued_at: now,
        expires_at: now + GRANT_TTL,
    };
    state.db.call(move |s| s.insert_grant(&record)).await?;
    Ok(token)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyBody {
    /// `ready`
    pub status: &'static str,
    /// The authority's grant, as stored.
    pub jwt: String,
}

/// An external signing authority supplies its signed grant for a confirmed job.
#[utoipa::path(put, path = "/scope/{job}", tag = "scope", operation_id = "sign_update",
    params(("job" = String, Path, description = "Job ID (20 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "The grant, signed by a configured authority"),
    responses(
        (status = 200, description = "Successfully updated", body = ReadyBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by an authority for this scope `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Job not found `unknown-job`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Job not confirmed yet `confirm-first`, or already signed", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn authority_sign(
    State(state): State<AppState>,
    Path(job): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<ReadyBody>, ApiError> {
    let kid = jwt::peek_kid(&token, state.config.limits.jwt_bytes)?
        .ok_or_else(|| ApiError::auth_error("the JWT must name the authority's key in kid"))?;
    let (key, scopes) = authority_key(&state, &kid)?
        .ok_or_else(|| ApiError::auth_error("not signed by a known signing authority"))?;
    let claims = jwt::verify::<ScopeGrant>(&token, &key, Some(&kid), &state.validation())?;
    let mut job = load_job(&state, &job).await?;
    match job.status {
        JobStatus::Waiting => {
            return Err(ApiError::confirm_first("the job is not confirmed yet"));
        }
        JobStatus::Signed => return Err(ApiError::conflict("the job is already signed")),
        JobStatus::Confirmed => {}
    }
    if !scopes.contains(&job.scope) || claims.body.scope.as_str() != job.scope {
        return Err(ApiError::auth_error(
            "this authority does not sign this scope",
        ));
    }
    let value = claims
        .body
        .email
        .as_deref()
        .and_then(normalize_email)
        .or_else(|| {
            claims
                .body
                .phone_number
                .as_deref()
                .and_then(normalize_phone)
        });
    if claims.registered.sub.as_deref() != Some(job.pk.as_str())
        || value.as_deref() != Some(job.value.as_str())
    {
        return Err(ApiError::auth_error(
            "the grant is not for this job's key and value",
        ));
    }
    let now = state.now();
    let record = GrantRecord {
        pk: job.pk.clone(),
        scope: job.scope.clone(),
        value_hash: job.value_hash.clone(),
        issuer: kid,
        jti: claims.registered.jti.clone().unwrap_or_default(),
        issued_at: claims.registered.iat.unwrap_or(now),
        expires_at: claims.registered.exp.unwrap_or(now + GRANT_TTL),
    };
    state.db.call(move |s| s.insert_grant(&record)).await?;
    job.status = JobStatus::Signed;
    job.grant_jwt = Some(token.clone());
    job.expires_at = now + SIGNED_JOB_TTL;
    let j = job.clone();
    state.db.call(move |s| s.update_job(&j)).await?;
    notify(&state, &job).await?;
    Ok(Json(ReadyBody {
        status: "ready",
        jwt: token,
    }))
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
