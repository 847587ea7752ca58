//! Account tokens: short-lived JWTs signed by the server's issuer key
//! (EdDSA, `typ: account+jwt`), each tied to a stored session so logout,
//! a password change, a role change (read from the account on every
//! request) and deletion take effect at once.

use authentiq_protocol::jwt::{self, Claims};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::Role;
use crate::store::{Account, StoreError};
use crate::{ApiError, AppState};

/// The `typ` of account tokens, and their audience.
pub const TYP: &str = "account+jwt";
const AUDIENCE: &str = "authentiq-accounts";

#[derive(Debug, Serialize, Deserialize)]
struct AccountToken {
    /// The session the token belongs to.
    sid: String,
}

/// Starts a session for `account` and returns its token.
pub async fn start(state: &AppState, account: &Account) -> Result<String, ApiError> {
    let now = state.now();
    let ttl = state.config.accounts.token_ttl_secs.max(60);
    let sid = crate::secrets::new_secret();
    let (owned_sid, owned_id) = (sid.clone(), account.id.clone());
    state
        .db
        .call(move |s| s.insert_account_session(&owned_sid, &owned_id, now, now + ttl))
        .await?;
    let claims = Claims::new(AccountToken { sid })
        .issuer(state.config.base_url())
        .subject(account.id.clone())
        .audience(AUDIENCE)
        .valid_for(now, ttl);
    state.sign_typed(&claims, TYP)
}

/// The account behind a request's `Authorization: Bearer` account token:
/// signed by us, unexpired, its session live, the account active.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    pub sid: String,
    pub expires_at: i64,
}

impl Caller {
    pub fn role(&self) -> Role {
        Role::parse(&self.account.role).unwrap_or(Role::Guest)
    }

    /// Admins only: 403 for everyone else.
    pub fn admin(&self) -> Result<(), ApiError> {
        if self.role() == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only an admin may do this"))
        }
    }
}

/// Checks an account token (see [`Caller`]).
pub async fn verify(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::auth_error("the token is invalid, expired or signed out");
    // Anything that is not our valid token is bad credentials (401).
    let kid = jwt::peek_kid(token, state.config.limits.jwt_bytes)
        .ok()
        .flatten()
        .ok_or_else(invalid)?;
    let key = *state.keys().issuer.find(&kid).ok_or_else(invalid)?;
    let v = state.validation().typ(TYP).audience(AUDIENCE);
    let claims = jwt::verify::<AccountToken>(token, &key, Some(&kid), &v).map_err(|_| invalid())?;
    if claims.registered.iss.as_deref() != Some(state.config.base_url()) {
        return Err(invalid());
    }
    let sub = claims.registered.sub.clone().ok_or_else(invalid)?;
    let (sid, now) = (claims.body.sid.clone(), state.now());
    let owner = match state.db.read(move |s| s.account_session(&sid, now)).await {
        Ok(id) => id,
        Err(StoreError::NotFound) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };
    if owner != sub {
        return Err(invalid());
    }
    let account = match state.db.read(move |s| s.get_account(&owner)).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };
    if account.deactivated_at.is_some() {
        return Err(ApiError::auth_error("this account is deactivated"));
    }
    Ok(Caller {
        account,
        sid: claims.body.sid,
        expires_at: claims.registered.exp.unwrap_or(now),
    })
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::auth_error("send the account token as Authorization: Bearer"))?
            .to_string();
        verify(state, &token).await
    }
}
