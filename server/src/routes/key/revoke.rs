//! Revoking an Authentiq ID: with its revocation secret
//! (`DELETE /key/{PK}`, the secret read by [`RevocationSecret`]) or, when
//! the secret is lost, by its bound email and phone and a code sent by
//! email (`DELETE /key`). Both end in `revoke`, which also ends the ID's
//! sessions, tells its devices and clients, and logs it.

use authentiq_protocol::payloads::DeviceEvent;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{StatusBody, parse_pk, status};
use crate::extract::Query;
use crate::oidc::logout;
use crate::secrets::{self, normalize_email, normalize_phone};
use crate::security::{self, ClientIp, Kind, Subject};
use crate::store::{RevokeCode, StoreError};
use crate::{ApiError, AppState};

/// How long a revocation code sent by email stays valid.
const REVOKE_CODE_TTL: i64 = 15 * 60;

#[derive(Debug, Deserialize, IntoParams)]
pub struct SecretQuery {
    /// The revocation secret returned at registration (better sent as
    /// `Authorization: Bearer` or in the body, which stay out of logs).
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecretBody {
    /// The revocation secret returned at registration.
    pub secret: String,
}

/// The revocation secret, from `Authorization: Bearer`, the body (JSON or
/// form `secret`) or — for older clients — the `secret` query parameter;
/// exactly one of them.
#[derive(Debug)]
pub struct RevocationSecret(String);

impl axum::extract::FromRequest<AppState> for RevocationSecret {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        use axum::http::header;
        let query = req
            .uri()
            .query()
            .and_then(|q| crate::extract::form_value(q, "secret"));
        let headers = req.headers().clone();
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.strip_prefix("Bearer ")
                    .map(|t| t.trim().to_string())
                    .ok_or_else(|| {
                        ApiError::bad_request("send the secret as Authorization: Bearer")
                    })
            })
            .transpose()?;
        let body = crate::extract::body_bytes(req, state).await?;
        let body_secret = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            Some(if json {
                serde_json::from_str::<SecretBody>(text)
                    .map_err(|e| ApiError::bad_request(format!("bad JSON: {e}")))?
                    .secret
            } else {
                crate::extract::form_value(text, "secret")
                    .ok_or_else(|| ApiError::bad_request("the body has no secret"))?
            })
        };
        match [bearer, body_secret, query]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .as_slice()
        {
            [one] => Ok(RevocationSecret(one.clone())),
            [] => Err(ApiError::bad_request(
                "give the revocation secret (Authorization: Bearer, or the body)",
            )),
            _ => Err(ApiError::bad_request(
                "send the revocation secret one way only",
            )),
        }
    }
}

/// Revoke an ID with its revocation secret.
#[utoipa::path(delete, path = "/key/{PK}", tag = "key", operation_id = "key_revoke",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)"), SecretQuery,
        ("Authorization" = Option<String>, Header, description = "`Bearer <revocation secret>`")),
    request_body(description = "The secret, as JSON or form (or use the header)",
        content((SecretBody = "application/json"), (SecretBody = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Successful response", body = StatusBody),
        (status = 400, description = "No secret given, or given twice", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Wrong secret `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn revoke_with_secret(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    ClientIp(ip): ClientIp,
    RevocationSecret(secret): RevocationSecret,
) -> Result<Json<StatusBody>, ApiError> {
    parse_pk(&pk)?;
    let key = state.active_key(&pk).await?;
    if !secrets::verify_secret(&secret, &key.secret_hash) {
        return Err(ApiError::auth_error("wrong revocation secret"));
    }
    revoke(&state, &pk, ClientIp(ip), "with the revocation secret").await?;
    Ok(status("done"))
}

/// Marks the key revoked — which in the same transaction revokes its SSO
/// sessions, codes and tokens — tells its devices (whose channels end with
/// that event), and logs it.
async fn revoke(state: &AppState, pk: &str, ip: ClientIp, how: &str) -> Result<(), ApiError> {
    let sessions = logout::end::sessions_of_key(state, pk).await?;
    let owned = pk.to_string();
    let now = state.now();
    state.db.call(move |s| s.revoke_key(&owned, now)).await?;
    state
        .emit(pk, DeviceEvent::KeyRevoked {}, crate::state::EVENT_TTL)
        .await?;
    logout::backchannel::notify(state, pk, &sessions).await?;
    let ip = ip.to_string();
    security::record(
        state,
        Kind::KeyRevoked,
        Subject {
            pk: Some(pk),
            ip: Some(&ip),
            ..Subject::default()
        },
        Some(how.to_string()),
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EmailPhoneQuery {
    /// Primary email bound to the key.
    pub email: String,
    /// Primary phone number bound to the key, international form.
    pub phone: String,
    /// The code sent by email (second call).
    pub code: Option<String>,
}

/// Revoke an ID by its bound email and phone: the first call emails a code,
/// the second (with `code`) revokes.
#[utoipa::path(delete, path = "/key", tag = "key", operation_id = "key_revoke_nosecret",
    params(EmailPhoneQuery),
    responses(
        (status = 200, description = "`pending` (code sent) or `done` (revoked)", body = StatusBody),
        (status = 400, description = "Malformed email or phone", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Wrong code `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Confirm with code sent `confirm-first`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many codes requested `rate-limit`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn revoke_by_email_phone(
    State(state): State<AppState>,
    ip: ClientIp,
    Query(q): Query<EmailPhoneQuery>,
) -> Result<Json<StatusBody>, ApiError> {
    let email =
        normalize_email(&q.email).ok_or_else(|| ApiError::bad_request("not a valid email"))?;
    let phone = normalize_phone(&q.phone)
        .ok_or_else(|| ApiError::bad_request("not a valid phone number"))?;
    let (eh, ph) = (
        state.hasher.hash("email", &email),
        state.hasher.hash("phone", &phone),
    );
    let key = match state
        .db
        .call(move |s| s.find_key_by_binding(&eh, &ph))
        .await
    {
        Ok(k) => k,
        Err(StoreError::NotFound) => {
            return Err(ApiError::unknown_key(
                "no Authentiq ID is bound to this email and phone",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let pk = key.pk.clone();
    let now = state.now();
    let Some(code) = q.code else {
        let r = &state.config.rate;
        state
            .rate_limit(
                format!("revoke:{pk}"),
                r.scope_per_address,
                r.scope_window_secs,
                "revocation codes",
            )
            .await?;
        let code = secrets::new_code();
        let record = RevokeCode {
            pk: pk.clone(),
            code_hash: state.hasher.hash(&format!("revoke:{pk}"), &code),
            attempts: 0,
            expires_at: now + REVOKE_CODE_TTL,
        };
        state.db.call(move |s| s.put_revoke_code(&record)).await?;
        crate::routes::scope::send_code(
            &state,
            crate::delivery::Channel::Email,
            &email,
            &code,
            "revoke your Authentiq ID",
            false,
        )
        .await?;
        return Ok(status("pending"));
    };
    // The attempt is counted before the code is compared, atomically.
    let (owned, max) = (pk.clone(), state.config.rate.code_attempts);
    let pending = match state
        .db
        .call(move |s| s.attempt_revoke_code(&owned, max, now))
        .await
    {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return Err(ApiError::confirm_first(
                "ask for a code first (call without code)",
            ));
        }
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::auth_error(
                "too many wrong codes; ask for a new code",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if !state
        .hasher
        .verify(&format!("revoke:{pk}"), code.trim(), &pending.code_hash)
    {
        if pending.attempts < max {
            return Err(ApiError::auth_error("wrong code"));
        }
        let owned = pk.clone();
        state.db.call(move |s| s.delete_revoke_code(&owned)).await?;
        let ip_text = ip.to_string();
        security::record(
            &state,
            Kind::CodeLimitReached,
            Subject {
                pk: Some(&pk),
                ip: Some(&ip_text),
                ..Subject::default()
            },
            Some("revocation code".into()),
        )
        .await?;
        return Err(ApiError::auth_error(
            "wrong code; too many attempts, ask for a new code",
        ));
    }
    revoke(&state, &pk, ip, "with the email and phone code").await?;
    Ok(status("done"))
}
