//! `POST /scope/{job}`: confirming a job with the code that was sent (read
//! by [`Confirmation`] from the query, a form or JSON). Attempts are
//! counted before the code is compared; a confirmed job is signed at once
//! by the issuer, or waits for its external authority.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use serde::Deserialize;
use utoipa::ToSchema;

use super::grant::issue_grant;
use super::{SIGNED_JOB_TTL, has_authority, notify};
use crate::extract::{body_bytes, form_value};
use crate::routes::key::{StatusBody, status};
use crate::security::{self, ClientIp, Kind, Subject};
use crate::store::{JobStatus, StoreError};
use crate::{ApiError, AppState};

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
