//! Binding an email or phone number to an Authentiq ID: `POST /key/{PK}`
//! records issuer-signed grants (checked by [`verify_grant`], which the
//! OIDC sign-in uses too), `PUT /key/{PK}` binds values verified before
//! through `/scope`. Either way the hashes are bound in one place
//! (`bind_hashes`), which refuses a value bound to another ID.

use authentiq_protocol::jwt;
use authentiq_protocol::payloads::{Binding, ClaimScope, KeyUpdate, ScopeGrant};
use axum::Json;
use axum::extract::{Path, State};

use super::{StatusBody, parse_pk, same_key, status};
use crate::extract::JwtBody;
use crate::secrets::{normalize_email, normalize_phone};
use crate::store::{GrantRecord, StoreError};
use crate::{ApiError, AppState};

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
