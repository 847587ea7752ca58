//! `POST /login?callback=`: a relying party holding a push token asks for a
//! sign-in request to be pushed to the user's device.

use authentiq_protocol::jwt;
use authentiq_protocol::payloads::{ClientInfo, DeviceEvent, PushToken, Requester, SignInRequest};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use utoipa::IntoParams;

use super::key::{StatusBody, status};
use crate::extract::{JwtBody, Query};
use crate::security::ClientIp;
use crate::security::pushes::may_push;
use crate::{ApiError, AppState};

/// How long a pushed sign-in request stays answerable.
const SIGN_IN_TTL: i64 = 5 * 60;

pub fn router() -> Router<AppState> {
    Router::new().route("/login", post(push_login))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// Where the app sends the signed response; must be covered by the push token's `aud`.
    pub callback: String,
}

/// Whether a push token's audience `aud` allows pushes for `callback`: the
/// same origin, and the callback's path at or below the audience's path.
pub fn aud_covers(aud: &str, callback: &str) -> bool {
    let (Ok(a), Ok(c)) = (url::Url::parse(aud), url::Url::parse(callback)) else {
        return aud == callback;
    };
    if a.cannot_be_a_base() || c.cannot_be_a_base() {
        return aud == callback;
    }
    if a.origin() != c.origin() {
        return false;
    }
    let ap = a.path().trim_end_matches('/');
    let cp = c.path();
    cp == ap || cp.starts_with(&format!("{ap}/")) || (ap.is_empty() && cp.starts_with('/'))
}

/// Three distinct two-digit numbers for number matching.
pub fn candidate_numbers() -> [u16; 3] {
    let mut out = [0u16; 3];
    let mut n = 0;
    while n < 3 {
        let v = 10 + (OsRng.next_u32() % 90) as u16;
        if !out[..n].contains(&v) {
            out[n] = v;
            n += 1;
        }
    }
    out
}

/// Who is asking, for the user to judge.
pub fn requester(headers: &HeaderMap, ip: &str) -> Requester {
    Requester {
        ip: ip.to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}

/// A push token's key unknown (404) or revoked (410) is a failed
/// authentication here.
fn push_key_error(e: ApiError) -> ApiError {
    match e.status {
        StatusCode::NOT_FOUND => {
            ApiError::auth_error("the key of this push token is not registered")
        }
        StatusCode::GONE => ApiError::auth_error("the key of this push token is revoked"),
        _ => e,
    }
}

/// Push a sign-in request to the device of the push token's key.
#[utoipa::path(post, path = "/login", tag = "login", operation_id = "push_login_request",
    params(CallbackQuery),
    request_body(content = String, content_type = "application/jwt", description = "Push token: self-signed `JWT(sub, iss, aud, exp, iat, nbf)`"),
    responses(
        (status = 200, description = "Sent to the device", body = StatusBody),
        (status = 400, description = "Malformed JWT or no callback", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Unauthorized for this callback audience `aud-error`, or not self-signed by a registered key `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The user reported a sign-in from this address within the hour `push-blocked`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many pushes, or too many wrong numbers, for this key `rate-limit`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn push_login(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
    ip: ClientIp,
    JwtBody(token): JwtBody,
) -> Result<Json<StatusBody>, ApiError> {
    // Push tokens are kept by relying parties and used again: no jti spending.
    let v = state.validation().jti_optional();
    let signed = state
        .verify_signed::<PushToken>(&token, &v)
        .await
        .map_err(push_key_error)?;
    let (id, claims) = (signed.id, signed.claims);
    let aud = claims
        .registered
        .aud
        .as_ref()
        .ok_or_else(|| ApiError::aud_error("the push token has no aud"))?;
    if !aud.iter().any(|a| aud_covers(a, &q.callback)) {
        return Err(ApiError::aud_error(
            "the push token's aud does not cover this callback",
        ));
    }
    let pk = id.to_string();
    let ip = ip.to_string();
    may_push(&state, &pk, &ip).await.map_err(push_key_error)?;
    let origin = url::Url::parse(&q.callback)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| q.callback.clone());
    let host = url::Url::parse(&q.callback)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| origin.clone());
    let request = SignInRequest {
        purpose: Default::default(),
        backchannel: false,
        binding_message: None,
        session: q.callback.clone(),
        nonce: jwt::random_jti().map_err(|_| ApiError::internal("no randomness"))?,
        client: ClientInfo {
            client_id: origin.clone(),
            name: host,
            uri: Some(origin),
            logo_uri: None,
        },
        scope: "openid".into(),
        requester: requester(&headers, &ip),
        numbers: candidate_numbers(),
    };
    state
        .emit(&pk, DeviceEvent::SignIn(request), SIGN_IN_TTL)
        .await?;
    state.metrics.push_sent();
    Ok(status("sent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aud_coverage() {
        assert!(aud_covers("https://rp.example", "https://rp.example/cb"));
        assert!(aud_covers(
            "https://rp.example/",
            "https://rp.example/auth/cb"
        ));
        assert!(aud_covers(
            "https://rp.example/auth",
            "https://rp.example/auth/cb"
        ));
        assert!(aud_covers(
            "https://rp.example/auth",
            "https://rp.example/auth"
        ));
        assert!(!aud_covers(
            "https://rp.example/auth",
            "https://rp.example/authx"
        ));
        assert!(!aud_covers("https://rp.example", "https://evil.example/cb"));
        assert!(!aud_covers("https://rp.example", "http://rp.example/cb"));
        assert!(!aud_covers(
            "https://rp.example",
            "https://rp.example:8443/cb"
        ));
        assert!(aud_covers("urn:x", "urn:x"));
        assert!(!aud_covers("urn:x", "urn:y"));
    }

    #[test]
    fn numbers_are_distinct_two_digit() {
        for _ in 0..100 {
            let n = candidate_numbers();
            assert!(n.iter().all(|v| (10..100).contains(v)));
            assert!(n[0] != n[1] && n[1] != n[2] && n[0] != n[2]);
        }
    }
}
