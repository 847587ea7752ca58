//! The accounts API at `/authentiq/v1/…`, exactly as seed 004 has it:
//! heartbeat, register, login, validate/token, password, list, role (get
//! and change), logout and delete — and `user/active` for admins to
//! deactivate an account. Errors are problem+json like the issuer API's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session::{self, Caller};
use super::{Role, password};
use crate::extract::JsonBody;
use crate::secrets::normalize_email;
use crate::security::ClientIp;
use crate::store::{Account, StoreError};
use crate::{ApiError, AppState};

pub const PREFIX: &str = "/authentiq/v1";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authentiq/v1/heartbeat", get(heartbeat))
        .route("/authentiq/v1/user/register", post(register))
        .route("/authentiq/v1/user/login", post(login))
        .route("/authentiq/v1/validate/token", get(validate))
        .route("/authentiq/v1/user/password", put(change_password))
        .route("/authentiq/v1/user/list", get(list))
        .route("/authentiq/v1/user/role", get(get_role).put(set_role))
        .route("/authentiq/v1/user/active", put(set_active))
        .route("/authentiq/v1/user/logout", delete(logout))
        .route("/authentiq/v1/user/delete", delete(delete_account))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OkBody {
    /// `ok`
    pub status: &'static str,
}

fn ok() -> Json<OkBody> {
    Json(OkBody { status: "ok" })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// An account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Deactivated accounts cannot sign in, and their clients stop working.
    pub active: bool,
}

impl From<&Account> for AccountBody {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            email: a.email.clone(),
            role: Role::parse(&a.role).unwrap_or(Role::Guest),
            active: a.deactivated_at.is_none(),
        }
    }
}

fn email(raw: &str) -> Result<String, ApiError> {
    normalize_email(raw).ok_or_else(|| ApiError::bad_request("not a valid email"))
}

async fn find_by_email(state: &AppState, email: String) -> Result<Option<Account>, ApiError> {
    match state
        .db
        .call(move |s| s.find_account_by_email(&email))
        .await
    {
        Ok(a) => Ok(Some(a)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes an account, refusing to leave no active admin (409).
pub async fn save(state: &AppState, account: Account) -> Result<(), ApiError> {
    match state.db.call(move |s| s.update_account(&account)).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict("last-admin")) => Err(ApiError::conflict(
            "this is the last active admin: make another admin first",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Is the service up?
#[utoipa::path(get, path = "/authentiq/v1/heartbeat", tag = "accounts", operation_id = "accounts_heartbeat",
    responses((status = 200, description = "Up", body = OkBody)))]
pub async fn heartbeat() -> Json<OkBody> {
    ok()
}

/// Register an account (its role: `accounts.default_role`).
#[utoipa::path(post, path = "/authentiq/v1/user/register", tag = "accounts", operation_id = "accounts_register",
    request_body = Credentials,
    responses(
        (status = 201, description = "Registered", body = AccountBody),
        (status = 400, description = "Invalid email or password (8 to 1024 characters)", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The email has an account", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this address", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonBody(c): JsonBody<Credentials>,
) -> Result<(StatusCode, Json<AccountBody>), ApiError> {
    let email = email(&c.email)?;
    password::check(&c.password)?;
    state
        .rate_limit(
            format!("account-register:{ip}"),
            state.config.accounts.registrations_per_ip_per_hour,
            3600,
            "accounts registered from this address",
        )
        .await?;
    let account = Account {
        id: crate::secrets::new_job_id(),
        email,
        password_hash: password::hash(c.password).await?,
        role: state.config.accounts.default_role.as_str().into(),
        deactivated_at: None,
        authentiq_pk: None,
        created_at: state.now(),
    };
    let body = AccountBody::from(&account);
    match state.db.call(move |s| s.insert_account(&account)).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(body))),
        Err(StoreError::Conflict(_)) => {
            Err(ApiError::conflict("an account with this email exists"))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    /// The account token, for `Authorization: Bearer` (1 hour by default).
    pub token: String,
}

/// Sign in; the token answers `Authorization: Bearer` on the other calls.
#[utoipa::path(post, path = "/authentiq/v1/user/login", tag = "accounts", operation_id = "accounts_login",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = TokenBody),
        (status = 400, description = "Invalid parameters", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this account or from this address (`Retry-After`)", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonBody(c): JsonBody<Credentials>,
) -> Result<Json<TokenBody>, ApiError> {
    let account = check_credentials(&state, &ip, &c.email, c.password).await?;
    Ok(Json(TokenBody {
        token: session::start(&state, &account).await?,
    }))
}

/// The account an email and password sign in to, with the login limits
/// (the API's login and the dashboard's): 400 for an invalid email, 401
/// for wrong credentials or a deactivated account, 429 past the limits.
pub async fn check_credentials(
    state: &AppState,
    ip: &ClientIp,
    raw_email: &str,
    password: String,
) -> Result<Account, ApiError> {
    let email = email(raw_email)?;
    password::check(&password).map_err(|_| ApiError::auth_error("invalid credentials"))?;
    // Each attempt is counted before the password is compared, for the
    // account and for the address: however many arrive at once, no more
    // than the limit are compared. A success takes its count back.
    let cfg = &state.config.accounts;
    let buckets = [
        (
            format!("login-account:{email}"),
            cfg.login_failures_per_account,
        ),
        (format!("login-ip:{ip}"), cfg.login_failures_per_ip),
    ];
    let mut counted = Vec::new();
    for (bucket, limit) in &buckets {
        let r = state
            .rate_limit(
                bucket.clone(),
                *limit,
                cfg.login_window_secs,
                "failed logins",
            )
            .await;
        if let Err(e) = r {
            refund(state, &counted).await;
            return Err(e);
        }
        counted.push(bucket.clone());
    }
    let account = find_by_email(state, email).await?;
    let matches =
        password::verify(password, account.as_ref().map(|a| a.password_hash.clone())).await;
    let Some(account) = account.filter(|_| matches) else {
        return Err(ApiError::auth_error("invalid credentials"));
    };
    if account.deactivated_at.is_some() {
        return Err(ApiError::auth_error("this account is deactivated"));
    }
    refund(state, &counted).await;
    Ok(account)
}

async fn refund(state: &AppState, buckets: &[String]) {
    for b in buckets {
        let b = b.clone();
        if let Err(e) = state.db.call(move |s| s.rate_refund(&b)).await {
            tracing::warn!(error = %e, "cannot take back a login attempt");
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidBody {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// When the token expires (seconds since the epoch).
    pub expires_at: i64,
}

/// Is this token (`Authorization: Bearer`) signed in?
#[utoipa::path(get, path = "/authentiq/v1/validate/token", tag = "accounts", operation_id = "accounts_validate",
    responses(
        (status = 200, description = "Valid", body = ValidBody),
        (status = 400, description = "Malformed token", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Invalid, expired or signed out", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn validate(caller: Caller) -> Json<ValidBody> {
    Json(ValidBody {
        id: caller.account.id.clone(),
        email: caller.account.email.clone(),
        role: caller.role(),
        expires_at: caller.expires_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub password: String,
    #[serde(rename = "newPassword")]
    #[schema(rename = "newPassword")]
    pub new_password: String,
}

/// Change the password; every other session of the account ends.
#[utoipa::path(put, path = "/authentiq/v1/user/password", tag = "accounts", operation_id = "accounts_password",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed", body = OkBody),
        (status = 400, description = "Invalid parameters", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<PasswordChange>,
) -> Result<Json<OkBody>, ApiError> {
    replace_password(&state, &caller, b.password, b.new_password).await?;
    Ok(ok())
}

/// Changes the caller's password (the current one confirms it); every
/// other session of the account ends (the API's and the dashboard's).
pub async fn replace_password(
    state: &AppState,
    caller: &Caller,
    current: String,
    new: String,
) -> Result<(), ApiError> {
    password::check(&new)?;
    if !password::verify(current, Some(caller.account.password_hash.clone())).await {
        return Err(ApiError::auth_error("invalid credentials"));
    }
    let mut account = caller.account.clone();
    account.password_hash = password::hash(new).await?;
    let (id, sid) = (account.id.clone(), caller.sid.clone());
    save(state, account).await?;
    state
        .db
        .call(move |s| s.delete_account_sessions(&id, Some(&sid)))
        .await?;
    Ok(())
}

/// Every account (admins only).
#[utoipa::path(get, path = "/authentiq/v1/user/list", tag = "accounts", operation_id = "accounts_list",
    responses(
        (status = 200, description = "The accounts", body = [AccountBody]),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AccountBody>>, ApiError> {
    caller.admin()?;
    let all = state.db.call(|s| s.list_accounts()).await?;
    Ok(Json(all.iter().map(AccountBody::from).collect()))
}

/// The caller's own id, email and role.
#[utoipa::path(get, path = "/authentiq/v1/user/role", tag = "accounts", operation_id = "accounts_get_role",
    responses(
        (status = 200, description = "The account", body = AccountBody),
        (status = 401, description = "Invalid token", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn get_role(caller: Caller) -> Json<AccountBody> {
    Json(AccountBody::from(&caller.account))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleChange {
    pub email: String,
    pub role: Role,
}

/// Change an account's role (admins only; the last admin stays one).
#[utoipa::path(put, path = "/authentiq/v1/user/role", tag = "accounts", operation_id = "accounts_set_role",
    request_body = RoleChange,
    responses(
        (status = 200, description = "Changed", body = AccountBody),
        (status = 400, description = "Invalid parameters", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No account has the email", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "It is the last active admin", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<RoleChange>,
) -> Result<Json<AccountBody>, ApiError> {
    caller.admin()?;
    let mut account = find_by_email(&state, email(&b.email)?)
        .await?
        .ok_or_else(|| ApiError::not_found("no account has this email"))?;
    account.role = b.role.as_str().into();
    let body = AccountBody::from(&account);
    save(&state, account).await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActiveChange {
    pub email: String,
    pub active: bool,
}

/// Deactivate or reactivate an account (admins only): a deactivated
/// account cannot sign in, its sessions end, and its clients stop working.
#[utoipa::path(put, path = "/authentiq/v1/user/active", tag = "accounts", operation_id = "accounts_set_active",
    request_body = ActiveChange,
    responses(
        (status = 200, description = "Changed", body = AccountBody),
        (status = 400, description = "Invalid parameters", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No account has the email", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "It is the last active admin", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn set_active(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<ActiveChange>,
) -> Result<Json<AccountBody>, ApiError> {
    caller.admin()?;
    let account = find_by_email(&state, email(&b.email)?)
        .await?
        .ok_or_else(|| ApiError::not_found("no account has this email"))?;
    let account = change_active(&state, account, b.active).await?;
    Ok(Json(AccountBody::from(&account)))
}

/// Deactivates (its sessions end, its clients stop working) or
/// reactivates an account; the last active admin stays (409).
pub async fn change_active(
    state: &AppState,
    mut account: Account,
    active: bool,
) -> Result<Account, ApiError> {
    account.deactivated_at = if active { None } else { Some(state.now()) };
    let id = account.id.clone();
    save(state, account.clone()).await?;
    if !active {
        state
            .db
            .call(move |s| s.delete_account_sessions(&id, None))
            .await?;
    }
    Ok(account)
}

/// Sign out: this token stops working at once.
#[utoipa::path(delete, path = "/authentiq/v1/user/logout", tag = "accounts", operation_id = "accounts_logout",
    responses(
        (status = 200, description = "Signed out", body = OkBody),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<OkBody>, ApiError> {
    let sid = caller.sid;
    state
        .db
        .call(move |s| s.delete_account_session(&sid))
        .await?;
    Ok(ok())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteBody {
    pub password: String,
}

/// Delete the account, its sessions and its clients (the password confirms).
#[utoipa::path(delete, path = "/authentiq/v1/user/delete", tag = "accounts", operation_id = "accounts_delete",
    request_body = DeleteBody,
    responses(
        (status = 200, description = "Deleted", body = OkBody),
        (status = 400, description = "Invalid parameters", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Invalid credentials", body = crate::error::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "It is the last active admin", body = crate::error::ProblemBody, content_type = "application/problem+json"),
    ), security(("bearer" = [])))]
pub async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(b): JsonBody<DeleteBody>,
) -> Result<Json<OkBody>, ApiError> {
    if !password::verify(b.password, Some(caller.account.password_hash.clone())).await {
        return Err(ApiError::auth_error("invalid credentials"));
    }
    let id = caller.account.id.clone();
    match state.db.call(move |s| s.delete_account(&id)).await {
        Ok(()) => Ok(ok()),
        Err(StoreError::Conflict(_)) => Err(ApiError::conflict(
            "this is the last active admin: make another admin first",
        )),
        Err(e) => Err(e.into()),
    }
}
