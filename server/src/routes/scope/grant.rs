//! The grant of a job: the issuer signs it when the code is confirmed
//! (`issue_grant`), a configured signing authority supplies its own
//! (`PUT /scope/{job}`), and `GET /scope/{job}` hands it out (or the job's
//! status until then). Either way the grant is recorded for the key.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{ClaimScope, ScopeGrant};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{GRANT_TTL, SIGNED_JOB_TTL, authority_key, load_job, notify};
use crate::extract::JwtBody;
use crate::routes::key::{StatusBody, status};
use crate::secrets::{normalize_email, normalize_phone};
use crate::store::{GrantRecord, Job, JobStatus};
use crate::{ApiError, AppState};

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

/// Signs the grant for a confirmed job and records it.
pub(super) async fn issue_grant(state: &AppState, job: &Job, now: i64) -> Result<String, ApiError> {
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
