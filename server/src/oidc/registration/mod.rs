//! Client registration over HTTP (seed 000's `/client`): OpenID Connect
//! Dynamic Client Registration 1.0 / RFC 7591 at `POST /client`, RFC 7592
//! read, update and delete at `/client/{client_id}`, and `GET /client` to
//! list the caller's clients. Metadata in and out is in [`metadata`];
//! errors are RFC 7591's `{error, error_description}`.
//!
//! Who may register is `registration` in the configuration: `account` (an
//! account token; the client belongs to that account), `token` (an initial
//! access token from `authentiq-server client token`, or an account token)
//! or `open`. A client is then managed with its registration access token,
//! or by its owner's or an admin's account token.

pub mod manage;
pub mod metadata;

use authentiq_protocol::errors::OAuthErrorCode;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use self::metadata::{Invalid, Metadata};
use super::clients::{self, Client};
use super::error::OAuthErr;
use crate::accounts::{Caller, Role, session};
use crate::config::RegistrationMode;
use crate::security::ClientIp;
use crate::store::StoreError;
use crate::{ApiError, AppState};

/// A registered client as the server describes it (RFC 7591 §3.2.1).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ClientInfoDoc {
    pub client_id: String,
    /// Only when it is issued (registration, rotation).
    pub client_secret: Option<String>,
    pub client_id_issued_at: Option<i64>,
    pub client_secret_expires_at: Option<i64>,
    /// Only at registration.
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub response_types: Vec<String>,
    pub id_token_signed_response_alg: String,
    pub subject_type: String,
}

/// `{error, error_description}` (RFC 6749 §5.2, RFC 7591 §3.2.2).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorDoc {
    /// e.g. `invalid_redirect_uri`, `invalid_client_metadata`, `invalid_token`.
    pub error: String,
    pub error_description: Option<String>,
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/client", get(list).post(register))
        .route("/client/{client_id}", get(read).put(update).delete(remove))
}

impl From<Invalid> for OAuthErr {
    fn from(e: Invalid) -> Self {
        match e {
            Invalid::RedirectUri(d) => OAuthErr::new(OAuthErrorCode::InvalidRedirectUri, d),
            Invalid::Metadata(d) => OAuthErr::new(OAuthErrorCode::InvalidClientMetadata, d),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
}

/// An account token, if `token` is one.
async fn as_account(state: &AppState, token: &str) -> Result<Option<Caller>, OAuthErr> {
    match session::verify(state, token).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.status.is_server_error() => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// Who registers: the owning account, if any.
async fn registrar(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, OAuthErr> {
    let token = bearer(headers);
    let caller = match &token {
        Some(t) => as_account(state, t).await?,
        None => None,
    };
    let mode = state.config.registration;
    let allowed = match (&caller, &token, mode) {
        (Some(_), _, _) => true,
        (None, None, RegistrationMode::Open) => true,
        (None, Some(t), RegistrationMode::Token) => {
            let (id, now) = (crate::secrets::hash_secret_b64(t), state.now());
            match state
                .db
                .call(move |s| s.use_initial_access_token(&id, now))
                .await
            {
                Ok(()) => true,
                Err(StoreError::NotFound) => false,
                Err(e) => return Err(ApiError::from(e).into()),
            }
        }
        _ => false,
    };
    if !allowed {
        let what = match mode {
            RegistrationMode::Account => "an account token",
            RegistrationMode::Token => "an initial access token or an account token",
            RegistrationMode::Open => "no token, or a valid account token",
        };
        return Err(OAuthErr::invalid_token(format!(
            "registering a client needs {what}"
        )));
    }
    if let Some(c) = &caller
        && !c.role().may_own_clients()
    {
        return Err(OAuthErr::new(
            OAuthErrorCode::AccessDenied,
            "a guest account cannot own clients; an admin can make it a user",
        ));
    }
    Ok(caller)
}

fn parse(body: &Bytes) -> Result<Metadata, OAuthErr> {
    serde_json::from_slice(body).map_err(|e| {
        OAuthErr::new(
            OAuthErrorCode::InvalidClientMetadata,
            format!("not client metadata: {e}"),
        )
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn result(r: Result<Response, OAuthErr>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// Register a client (RFC 7591).
#[utoipa::path(post, path = "/client", tag = "clients", operation_id = "client_register",
    request_body = metadata::Metadata,
    responses(
        (status = 201, description = "Registered: the secret and the registration access token are shown this once", body = ClientInfoDoc),
        (status = 400, description = "`invalid_redirect_uri` or `invalid_client_metadata`", body = OAuthErrorDoc),
        (status = 401, description = "`invalid_token`: registering needs a token (see `registration`)", body = OAuthErrorDoc),
        (status = 403, description = "`access_denied`: a guest account cannot own clients", body = OAuthErrorDoc),
        (status = 429, description = "`temporarily_unavailable`: too many registrations from this address (`Retry-After`)", body = OAuthErrorDoc),
    ), security((), ("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    result(
        async {
            manage::limit(&state, &ip).await?;
            let owner = registrar(&state, &headers).await?;
            let meta = parse(&body)?;
            let created = manage::create(&state, owner.map(|c| c.account.id), &meta).await?;
            let mut body = metadata::show(&created.client, state.config.base_url()).0;
            if let Some(s) = created.secret {
                body.insert("client_secret".into(), json!(s));
            }
            body.insert(
                "registration_access_token".into(),
                json!(created.registration_access_token),
            );
            Ok(answer(StatusCode::CREATED, Value::Object(body)))
        }
        .await,
    )
}

/// The caller's clients (an admin's: every stored client).
#[utoipa::path(get, path = "/client", tag = "clients", operation_id = "client_list",
    responses(
        (status = 200, description = "The clients", body = [ClientInfoDoc]),
        (status = 401, description = "`invalid_token`", body = OAuthErrorDoc),
    ), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    result(
        async {
            let token = bearer(&headers).ok_or_else(|| {
                OAuthErr::invalid_token("send an account token as Authorization: Bearer")
            })?;
            let caller = as_account(&state, &token).await?.ok_or_else(|| {
                OAuthErr::invalid_token("the account token is invalid or expired")
            })?;
            let owner = (caller.role() != Role::Admin).then(|| caller.account.id.clone());
            let clients = clients::stored(&state, owner.as_deref()).await?;
            let base = state.config.base_url();
            let shown: Vec<Value> = clients
                .iter()
                .map(|c| Value::Object(metadata::show(c, base).0))
                .collect();
            Ok(answer(StatusCode::OK, Value::Array(shown)))
        }
        .await,
    )
}

/// A stored client the request may manage: with its registration access
/// token, or its owner's or an admin's account token. Anything else — an
/// unknown client included (RFC 7592 §2.1) — is 401.
async fn managed(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<Client, OAuthErr> {
    let refused = || OAuthErr::invalid_token("the token does not manage this client");
    let token = bearer(headers).ok_or_else(refused)?;
    let in_config = manage::in_config(state, client_id);
    let client = match clients::find(state, client_id).await? {
        Some(c) if !in_config => c,
        _ => return Err(refused()),
    };
    if let Some(h) = &client.registration_access_token_sha256
        && bool::from(
            crate::secrets::hash_secret_b64(&token)
                .as_bytes()
                .ct_eq(h.as_bytes()),
        )
    {
        return Ok(client);
    }
    match as_account(state, &token).await? {
        Some(c)
            if c.role() == Role::Admin
                || client.owner.as_deref() == Some(c.account.id.as_str()) =>
        {
            Ok(client)
        }
        _ => Err(refused()),
    }
}

/// Read a client (RFC 7592 §2.1).
#[utoipa::path(get, path = "/client/{client_id}", tag = "clients", operation_id = "client_read",
    params(("client_id" = String, Path)),
    responses(
        (status = 200, description = "The client", body = ClientInfoDoc),
        (status = 401, description = "`invalid_token` (also for an unknown client)", body = OAuthErrorDoc),
    ), security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    result(
        async {
            let client = managed(&state, &headers, &id).await?;
            Ok(answer(
                StatusCode::OK,
                Value::Object(metadata::show(&client, state.config.base_url()).0),
            ))
        }
        .await,
    )
}

/// Replace a client's metadata (RFC 7592 §2.2); `"rotate_secret": true`
/// issues a new secret.
#[utoipa::path(put, path = "/client/{client_id}", tag = "clients", operation_id = "client_update",
    params(("client_id" = String, Path)),
    request_body = metadata::Metadata,
    responses(
        (status = 200, description = "Updated", body = ClientInfoDoc),
        (status = 400, description = "`invalid_redirect_uri` or `invalid_client_metadata`", body = OAuthErrorDoc),
        (status = 401, description = "`invalid_token`", body = OAuthErrorDoc),
    ), security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    result(
        async {
            let current = managed(&state, &headers, &id).await?;
            let meta = parse(&body)?;
            if meta.client_id.as_deref() != Some(id.as_str()) {
                return Err(OAuthErr::new(
                    OAuthErrorCode::InvalidClientMetadata,
                    "the body must name this client_id",
                ));
            }
            let (client, secret) = manage::update(&state, current, &meta).await?;
            let mut body = metadata::show(&client, state.config.base_url()).0;
            if let Some(s) = secret {
                body.insert("client_secret".into(), json!(s));
            }
            Ok(answer(StatusCode::OK, Value::Object(body)))
        }
        .await,
    )
}

/// Delete a client (RFC 7592 §2.3): its tokens stop working with it.
#[utoipa::path(delete, path = "/client/{client_id}", tag = "clients", operation_id = "client_delete",
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`invalid_token`", body = OAuthErrorDoc),
    ), security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    result(
        async {
            let client = managed(&state, &headers, &id).await?;
            manage::delete(&state, &client.client_id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}
