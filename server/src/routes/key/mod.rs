//! `/key` and `/key/{PK}`: registering, reading, binding, updating and
//! revoking Authentiq IDs.
//!
//! Here: the route table, registering (`POST /key`), reading (`GET`),
//! signing out everywhere (`POST /key/{PK}/signout`) and the bodies and
//! helpers the handlers share. Binding an email or phone (`POST`, `PUT`)
//! is in `binding.rs`; revoking (`DELETE /key/{PK}`, `DELETE /key`) in
//! `revoke.rs`.

use authentiq_protocol::AuthentiqId;
use authentiq_protocol::payloads::{Registration, SignOut};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::JwtBody;
use crate::oidc::logout;
use crate::secrets;
use crate::store::{KeyRecord, StoreError};
use crate::{ApiError, AppState};

mod binding;
mod revoke;

pub(crate) use binding::verify_grant;
pub use binding::{__path_bind, __path_update, bind, update};
pub use revoke::{
    __path_revoke_by_email_phone, __path_revoke_with_secret, EmailPhoneQuery, RevocationSecret,
    SecretBody, SecretQuery, revoke_by_email_phone, revoke_with_secret,
};

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
