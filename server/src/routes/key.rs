//! `/key` and `/key/{PK}`: registering, reading, binding, updating and
//! revoking Authentiq IDs.

use authentiq_protocol::AuthentiqId;
use authentiq_protocol::jwt;
use authentiq_protocol::payloads::{
    Binding, ClaimScope, DeviceEvent, KeyUpdate, Registration, ScopeGrant, SignOut,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{JwtBody, Query};
use crate::oidc::logout;
use crate::secrets::{self, normalize_email, normalize_phone};
use crate::security::{self, ClientIp, Kind, Subject};
use crate::store::{GrantRecord, KeyRecord, RevokeCode, StoreError};
use crate::{ApiError, AppState};

/// How long a revocation code sent by email stays valid.
const REVOKE_CODE_TTL: i64 = 15 * 60;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/key", post(register).delete(revoke_by_email_phone))
        .route(
            "/key/{pk}",
            axum::routing::get(retrieve)
                .post(update)
                .put(bind)
                .delete(revoke_with_secret),
        )
        .route("/key/{pk}/signout", post(sign_out_everywhere))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    /// What happened: `registered`, `confirmed`, `pending`, `done`, `sent`, …
    pub status: &'static str,
}

pub(crate) fn status(s: &'static str) -> Json<StatusBody> {
    Json(StatusBody { status: s })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredBody {
    /// `registered`
    pub status: &'static str,
    /// The revocation secret. Shown once; the server keeps only its hash.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    /// The Authentiq ID (base64url public signing key).
    pub sub: String,
    /// `registered` or `revoked`.
    pub status: &'static str,
    /// When the key was registered (RFC 3339).
    pub since: String,
}

/// Parses the `{PK}` of a path; anything that cannot be an ID is unknown.
pub(crate) fn parse_pk(pk: &str) -> Result<AuthentiqId, ApiError> {
    pk.parse()
        .map_err(|e| ApiError::unknown_key(format!("not an Authentiq ID: {e}")))
}

/// Checks that a self-signed token is by the key named in the path.
fn same_key(id: &AuthentiqId, path: &AuthentiqId) -> Result<(), ApiError> {
    if id != path {
        return Err(ApiError::auth_error(
            "the JWT must be signed by the key in the path",
        ));
    }
    Ok(())
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Register a new ID: a self-signed `JWT(sub, devtoken)`.
#[utoipa::path(post, path = "/key", tag = "key", operation_id = "key_register",
    request_body(content = String, content_type = "application/jwt", description = "Self-signed registration JWT"),
    responses(
        (status = 201, description = "Successfully registered", body = RegisteredBody),
        (status = 400, description = "Malformed JWT `invalid-jwt`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Bad signature, expired or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Key already registered `duplicate-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    JwtBody(token): JwtBody,
) -> Result<(StatusCode, Json<RegisteredBody>), ApiError> {
    let (id, claims, jti) =
        state.verify_unspent::<Registration>(&token, &state.action_validation())?;
    let secret = secrets::new_secret();
    let record = KeyRecord {
        pk: id.to_string(),
        secret_hash: secrets::hash_secret(&secret),
        devtoken: claims.body.devtoken,
        registered_at: state.now(),
        revoked_at: None,
        email_hash: None,
        phone_hash: None,
    };
    // The key and its registration token's jti, in one transaction.
    match state
        .db
        .call(move |s| s.insert_key(&record, Some((&jti.key, jti.until))))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict("duplicate-key")) => {
            return Err(ApiError::duplicate_key(
                "this Authentiq ID is already registered",
            ));
        }
        Err(e) => return Err(crate::state::jti_error(e)),
    }
    tracing::info!(pk = %id, "registered a key");
    Ok((
        StatusCode::CREATED,
        Json(RegisteredBody {
            status: "registered",
            secret,
        }),
    ))
}

/// Public details of an Authentiq ID (also `HEAD`).
#[utoipa::path(get, path = "/key/{PK}", tag = "key", operation_id = "key_retrieve",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)")),
    responses(
        (status = 200, description = "Successfully retrieved", body = KeyInfo),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn retrieve(
    State(state): State<AppState>,
    Path(pk): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    let id = parse_pk(&pk)?;
    let key = state.active_key(&id.to_string()).await?;
    Ok(Json(KeyInfo {
        sub: key.pk,
        status: "registered",
        since: rfc3339(key.registered_at),
    }))
}

/// Record issuer-signed grants, wrapped in a self-signed `JWT(sub, grants)`.
#[utoipa::path(post, path = "/key/{PK}", tag = "key", operation_id = "key_update",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed JWT with `grants`: issuer-signed scope grants"),
    responses(
        (status = 200, description = "Successfully updated", body = StatusBody),
        (status = 400, description = "Malformed JWT or grant", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by this key, or a grant not by a known issuer `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already bound to another key `duplicate-hash`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<StatusBody>, ApiError> {
    let path_id = parse_pk(&pk)?;
    let (id, claims) = state
        .verify_action::<KeyUpdate>(&token, &state.action_validation())
        .await?;
    same_key(&id, &path_id)?;
    state.active_key(&pk).await?;
    if claims.body.grants.is_empty() {
        return Err(ApiError::bad_request("no grants to record"));
    }
    let mut email_hash = None;
    let mut phone_hash = None;
    let mut records = Vec::new();
    for grant in &claims.body.grants {
        let (record, value) = verify_grant(&state, grant, &pk)?;
        match record.scope.as_str() {
            "email" => email_hash = Some(state.hasher.hash("email", &value)),
            _ => phone_hash = Some(state.hasher.hash("phone", &value)),
        }
        records.push(record);
    }
    bind_hashes(&state, &pk, email_hash, phone_hash).await?;
    state
        .db
        .call(move |s| records.iter().try_for_each(|r| s.insert_grant(r)))
        .await?;
    Ok(status("confirmed"))
}

/// Verifies a grant signed by one of our issuer keys or a configured
/// authority, for `pk`; returns what to record and the normalized value.
pub(crate) fn verify_grant(
    state: &AppState,
    grant: &str,
    pk: &str,
) -> Result<(GrantRecord, String), ApiError> {
    let kid = jwt::peek_kid(grant, state.config.limits.jwt_bytes)?
        .ok_or_else(|| ApiError::invalid_jwt("a grant must name its key in kid"))?;
    let key = match state.keys().issuer.find(&kid) {
        Some(k) => *k,
        None => {
            crate::routes::scope::authority_key(state, &kid)?
                .ok_or_else(|| ApiError::auth_error("a grant is not signed by a known issuer"))?
                .0
        }
    };
    let claims = jwt::verify::<ScopeGrant>(grant, &key, Some(&kid), &state.validation())?;
    if claims.registered.sub.as_deref() != Some(pk) {
        return Err(ApiError::auth_error("a grant is for another key"));
    }
    let value = match claims.body.scope {
        ClaimScope::Email => claims.body.email.as_deref().and_then(normalize_email),
        ClaimScope::Phone => claims
            .body
            .phone_number
            .as_deref()
            .and_then(normalize_phone),
    }
    .ok_or_else(|| ApiError::invalid_jwt("a grant lacks a valid value for its scope"))?;
    let scope = claims.body.scope.as_str();
    let now = state.now();
    Ok((
        GrantRecord {
            pk: pk.to_string(),
            scope: scope.to_string(),
            value_hash: state.hasher.hash(scope, &value),
            issuer: kid,
            jti: claims.registered.jti.unwrap_or_default(),
            issued_at: claims.registered.iat.unwrap_or(now),
            expires_at: claims.registered.exp.unwrap_or(now),
        },
        value,
    ))
}

async fn bind_hashes(
    state: &AppState,
    pk: &str,
    email_hash: Option<Vec<u8>>,
    phone_hash: Option<Vec<u8>>,
) -> Result<(), ApiError> {
    let pk = pk.to_string();
    match state
        .db
        .call(move |s| s.bind_key(&pk, email_hash.as_deref(), phone_hash.as_deref()))
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(ApiError::duplicate_hash(
            "this email or phone is bound to another Authentiq ID",
        )),
        Err(StoreError::NotFound) => Err(ApiError::revoked_key("this Authentiq ID was revoked")),
        Err(e) => Err(e.into()),
    }
}

/// Bind verified email and phone: self-signed `JWT(sub, email, phone)`.
#[utoipa::path(put, path = "/key/{PK}", tag = "key", operation_id = "key_bind",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed JWT with `email` and/or `phone`, each verified before (POST /scope)"),
    responses(
        (status = 200, description = "Successfully updated", body = StatusBody),
        (status = 400, description = "Malformed JWT, email or phone", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by this key `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already bound to another key `duplicate-hash`, or not verified yet `confirm-first`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn bind(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<StatusBody>, ApiError> {
    let path_id = parse_pk(&pk)?;
    let (id, claims) = state
        .verify_action::<Binding>(&token, &state.action_validation())
        .await?;
    same_key(&id, &path_id)?;
    state.active_key(&pk).await?;
    let Binding { email, phone } = claims.body;
    if email.is_none() && phone.is_none() {
        return Err(ApiError::bad_request(
            "nothing to bind: give email and/or phone",
        ));
    }
    let mut hashes = [None, None];
    for (slot, (scope, value)) in hashes.iter_mut().zip([("email", email), ("phone", phone)]) {
        let Some(value) = value else { continue };
        let normalized = match scope {
            "email" => normalize_email(&value),
            _ => normalize_phone(&value),
        }
        .ok_or_else(|| ApiError::bad_request(format!("not a valid {scope}")))?;
        let hash = state.hasher.hash(scope, &normalized);
        let (owned_pk, h) = (pk.clone(), hash.clone());
        let now = state.now();
        if !state
            .db
            .call(move |s| s.has_grant(&owned_pk, scope, &h, now))
            .await?
        {
            return Err(ApiError::confirm_first(format!(
                "verify this {scope} first (POST /scope), then bind it"
            )));
        }
        *slot = Some(hash);
    }
    let [email_hash, phone_hash] = hashes;
    bind_hashes(&state, &pk, email_hash, phone_hash).await?;
    Ok(status("confirmed"))
}

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

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOutBody {
    /// `done`
    pub status: &'static str,
    /// Clients sent a back-channel logout token.
    pub clients_told: usize,
}

/// Sign an ID out everywhere: a self-signed `JWT(sub, jti)`. Every SSO
/// session and every token of the ID ends; clients with a back-channel
/// logout URI are told.
#[utoipa::path(post, path = "/key/{PK}/signout", tag = "key", operation_id = "key_sign_out",
    params(("PK" = String, Path, description = "Authentiq ID (43 chars)")),
    request_body(content = String, content_type = "application/jwt", description = "Self-signed JWT (`sub`, `jti`)"),
    responses(
        (status = 200, description = "Signed out everywhere", body = SignedOutBody),
        (status = 400, description = "Malformed JWT", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed by this key, or replayed `auth-error`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Unknown key `unknown-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "Key is revoked `revoked-key`", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    JwtBody(token): JwtBody,
) -> Result<Json<SignedOutBody>, ApiError> {
    let path_id = parse_pk(&pk)?;
    let (id, _) = state
        .verify_action::<SignOut>(&token, &state.action_validation())
        .await?;
    same_key(&id, &path_id)?;
    state.active_key(&pk).await?;
    let clients_told = logout::end::sign_out_everywhere(&state, &pk).await?;
    Ok(Json(SignedOutBody {
        status: "done",
        clients_told,
    }))
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
