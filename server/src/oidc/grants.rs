//! The token endpoint's grants: exchanging a code, rotating a refresh
//! token. Each is one transaction — the code or old refresh token is spent
//! and the new tokens stored together, or nothing happens — so a crash can
//! never leave a client with a spent token and no new one. A spent code or
//! refresh token that comes back revokes its whole family (RFC 9700 §4.5,
//! §4.14), except a refresh replayed within `refresh_reuse_grace_secs` by
//! the same client, which gets the same new tokens again.

use authentiq_protocol::errors::OAuthErrorCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::clients::Client;
use super::error::OAuthErr;
use super::records::{self, ACCESS, CODE, REFRESH, SSO};
use super::session::{SessionData, SsoData};
use super::tokens::{self, CodeData, Grant};
use crate::security::{self, Kind, Subject};
use crate::store::{Record, StoreError};
use crate::{ApiError, AppState};

/// What a grant hands the client.
#[derive(Debug)]
pub struct Issued {
    pub access: String,
    pub refresh: String,
    pub id_token: String,
    pub scope: String,
    /// The access token is DPoP-bound (`token_type: DPoP`).
    pub dpop: bool,
}

/// Whether the key is live, as [`AppState::active_key`] decides: `false`
/// for an unknown or revoked key, `Err` when that cannot be told.
pub async fn key_is_live(state: &AppState, pk: &str) -> Result<bool, ApiError> {
    match state.active_key(pk).await {
        Ok(_) => Ok(true),
        Err(e) if e.status.is_server_error() => Err(e),
        Err(_) => Ok(false),
    }
}

/// Whether tokens of `grant` still work: its key is live and, unless the
/// user granted `offline_access`, the SSO session it was issued in goes on
/// (OIDC Core §11: only offline access outlives the user's session; signing
/// out ends the rest).
pub async fn grant_is_live(state: &AppState, grant: &Grant) -> Result<bool, ApiError> {
    if !key_is_live(state, &grant.pk).await? {
        return Ok(false);
    }
    if grant.scope.split(' ').any(|s| s == "offline_access") {
        return Ok(true);
    }
    Ok(records::get_raw(state, SSO, &grant.sid).await?.is_some())
}

/// The grant behind an access token that still works: known, unexpired,
/// not revoked (a revoked access token is kept spent), and its grant live.
pub async fn live_access_token(state: &AppState, token: &str) -> Result<Option<Grant>, ApiError> {
    let Some(record) = records::get_raw(state, ACCESS, &records::token_id(token)).await? else {
        return Ok(None);
    };
    if record.used {
        return Ok(None);
    }
    let grant: Grant = records::parse(&record)?;
    Ok(grant_is_live(state, &grant).await?.then_some(grant))
}

fn pkce_ok(challenge: &str, verifier: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    valid && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The parameters of an `authorization_code` grant.
#[derive(Debug)]
pub struct CodeRequest<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// The thumbprint of the request's DPoP proof, if it had one.
    pub dpop: Option<&'a str>,
}

pub async fn exchange_code(
    state: &AppState,
    client: &Client,
    req: CodeRequest<'_>,
) -> Result<Issued, OAuthErr> {
    let id = records::token_id(req.code);
    let Some(record) = records::get_raw(state, CODE, &id).await? else {
        return Err(OAuthErr::invalid_grant("the code is unknown or expired"));
    };
    if record.used {
        return Err(reused(state, client, &record, "authorization code").await);
    }
    let data: CodeData = records::parse(&record)?;
    if data.grant.client_id != client.client_id {
        return Err(OAuthErr::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if req.redirect_uri != Some(data.redirect_uri.as_str()) {
        return Err(OAuthErr::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&data.code_challenge, req.code_verifier) {
        (Some(ch), Some(v)) if pkce_ok(ch, v) => {}
        (Some(_), Some(_)) => return Err(OAuthErr::invalid_grant("PKCE verification failed")),
        (Some(_), None) => return Err(OAuthErr::invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(OAuthErr::invalid_grant(
                "no code_challenge was sent for this code",
            ));
        }
        (None, None) => {}
    }
    if data.dpop_jkt.is_some() && data.dpop_jkt.as_deref() != req.dpop {
        return Err(OAuthErr::new(
            OAuthErrorCode::InvalidDpopProof,
            "this code was requested for a DPoP key (dpop_jkt): send a proof made with it",
        ));
    }
    let tokens = NewTokens {
        access: records::new_token(),
        refresh: records::new_token(),
        access_scope: None,
        access_jkt: req.dpop.map(str::to_string),
    };
    let grant = Grant {
        jkt: refresh_binding(client, req.dpop),
        ..data.grant.clone()
    };
    match commit(state, client, CODE, &id, &grant, tokens).await? {
        Ok(issued) => Ok(issued),
        // Redeemed by a concurrent request in between: a reuse.
        Err(Spent) => Err(reused(state, client, &record, "authorization code").await),
    }
}

/// Tokens for a sign-in the user answered on their device for a grant that
/// is not the browser's (CIBA, device authorization): the grant gets an
/// SSO session of its own — so offline access, signing out and revocation
/// work as for any other — and `kind`/`id` (the CIBA request, the device
/// code) is spent in the same transaction as the tokens are stored.
pub async fn from_session(
    state: &AppState,
    client: &Client,
    kind: &'static str,
    id: &str,
    session: &SessionData,
    dpop: Option<&str>,
) -> Result<Issued, OAuthErr> {
    let pk = session
        .pk
        .clone()
        .ok_or_else(|| OAuthErr::from(ApiError::internal("an approved session without a key")))?;
    let now = state.now();
    let auth_time = session.auth_time.unwrap_or(now);
    let sso_id = records::token_id(&records::new_token());
    let sso = SsoData {
        pk: pk.clone(),
        auth_time,
        claims: session.claims.clone(),
        granted_scope: session.granted_scope.clone(),
        browser_state: String::new(),
    };
    let record = records::new(
        SSO,
        &sso_id,
        &sso_id,
        Some(&pk),
        &sso,
        now + super::cookies::SSO_TTL,
    )?;
    records::put(state, record).await?;
    let sub = tokens::subject(state, client, &pk);
    records::remember_subject(state, &client.client_id, sub, &pk).await?;
    let grant = Grant {
        client_id: client.client_id.clone(),
        pk,
        scope: session.granted_scope.clone(),
        requested_scope: session.request.scope.clone(),
        claims: session.claims.clone(),
        auth_time,
        nonce: None,
        sid: sso_id,
        family: crate::secrets::new_job_id(),
        jkt: refresh_binding(client, dpop),
    };
    let tokens = NewTokens {
        access: records::new_token(),
        refresh: records::new_token(),
        access_scope: None,
        access_jkt: dpop.map(str::to_string),
    };
    match commit(state, client, kind, id, &grant, tokens).await? {
        Ok(issued) => Ok(issued),
        Err(Spent) => Err(OAuthErr::invalid_grant("this grant was already exchanged")),
    }
}

/// The refresh token that rotation issues for `token`: derived from it
/// with the server's keyed hash, so a replay within the grace period can be
/// answered with the same tokens without storing them anywhere readable.
fn successor(state: &AppState, token: &str, what: &str) -> String {
    URL_SAFE_NO_PAD.encode(state.hasher.hash(&format!("rotate:{what}"), token))
}

pub async fn rotate_refresh(
    state: &AppState,
    client: &Client,
    token: &str,
    scope: Option<&str>,
    dpop: Option<&str>,
) -> Result<Issued, OAuthErr> {
    let id = records::token_id(token);
    let Some(record) = records::get_raw(state, REFRESH, &id).await? else {
        return Err(OAuthErr::invalid_grant(
            "the refresh token is unknown, expired or revoked",
        ));
    };
    if record.used {
        return replayed(state, client, token, &record, dpop).await;
    }
    let grant: Grant = records::parse(&record)?;
    if grant.client_id != client.client_id {
        return Err(OAuthErr::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // A DPoP-bound refresh token needs a proof with its key (RFC 9449 §5).
    if grant.jkt.is_some() && grant.jkt.as_deref() != dpop {
        return Err(OAuthErr::new(
            OAuthErrorCode::InvalidDpopProof,
            "this refresh token is bound to a DPoP key: send a proof made with it",
        ));
    }
    // A public client's unbound refresh token binds on its first proof.
    let grant = Grant {
        jkt: grant.jkt.clone().or_else(|| refresh_binding(client, dpop)),
        ..grant
    };
    // A narrower scope is for this access token; the refresh token keeps
    // the scope it had (RFC 6749 §6).
    let access_scope = scope.map(|s| narrowed_scope(&grant, s)).transpose()?;
    let access = successor(state, token, "access");
    let refresh = successor(state, token, "refresh");
    let tokens = NewTokens {
        access,
        refresh,
        access_scope,
        access_jkt: dpop.map(str::to_string),
    };
    match commit(state, client, REFRESH, &id, &grant, tokens).await? {
        Ok(issued) => Ok(issued),
        // Spent by a concurrent request in between: the same as a replay.
        Err(Spent) => {
            let again = records::get_raw(state, REFRESH, &id).await?;
            replayed(
                state,
                client,
                token,
                again.as_ref().unwrap_or(&record),
                dpop,
            )
            .await
        }
    }
}

/// The scope a refresh asks for, as granted: a subset of what was granted,
/// or the scope as first requested (modifiers and all, as Authlib repeats
/// it), which gives what was granted of it. Anything else widens it.
fn narrowed_scope(grant: &Grant, asked: &str) -> Result<String, OAuthErr> {
    use authentiq_protocol::scope::Scope;
    let invalid = |why: &str| {
        OAuthErr::new(
            authentiq_protocol::errors::OAuthErrorCode::InvalidScope,
            why.to_string(),
        )
    };
    let asked: Scope = asked
        .parse()
        .map_err(|_| invalid("the scope does not parse"))?;
    let requested: Scope = grant.requested_scope.parse().unwrap_or_default();
    let granted: Vec<&str> = grant.scope.split(' ').collect();
    let mut out = Vec::new();
    for item in asked.items() {
        let name = item.name.as_str();
        if granted.contains(&name) {
            out.push(name);
        } else if !requested.contains(&item.name) {
            return Err(invalid("a refresh cannot widen the scope"));
        }
    }
    if !out.contains(&"openid") {
        out.insert(0, "openid");
    }
    Ok(out.join(" "))
}

/// The code or refresh token was spent by someone else first.
#[derive(Debug)]
struct Spent;

/// The tokens a grant is about to issue.
struct NewTokens {
    access: String,
    refresh: String,
    /// The access token's scope when narrower than the grant's.
    access_scope: Option<String>,
    /// The DPoP key the access token is bound to (the request's proof).
    access_jkt: Option<String>,
}

/// What a new refresh token is bound to (RFC 9449 §5): a public client's
/// to the key of its proof; a confidential client's to its credentials only.
fn refresh_binding(client: &Client, dpop: Option<&str>) -> Option<String> {
    dpop.filter(|_| client.is_public()).map(str::to_string)
}

/// Checks the grant is live, signs the ID token, then spends `kind`/`id`
/// and stores the new tokens in one transaction.
async fn commit(
    state: &AppState,
    client: &Client,
    kind: &'static str,
    id: &str,
    grant: &Grant,
    new: NewTokens,
) -> Result<Result<Issued, Spent>, OAuthErr> {
    let NewTokens {
        access,
        refresh,
        access_scope,
        access_jkt,
    } = new;
    let access_grant = Grant {
        scope: access_scope.unwrap_or_else(|| grant.scope.clone()),
        jkt: access_jkt,
        ..grant.clone()
    };
    let dpop = access_grant.jkt.is_some();
    if !grant_is_live(state, grant).await? {
        records::revoke_family(state, &grant.family).await?;
        return Err(OAuthErr::invalid_grant(
            "the grant ended: the user signed out or the Authentiq ID was revoked",
        ));
    }
    let id_token = tokens::id_token(state, client, grant, Some(&access), None)?;
    let issue: Vec<Record> = vec![
        tokens::access_record(state, &access_grant, &access)?,
        tokens::refresh_record(state, grant, &refresh)?,
    ];
    let (owned, now) = (id.to_string(), state.now());
    match state
        .db
        .call(move |s| s.exchange(kind, &owned, now, false, &issue))
        .await
    {
        Ok(_) => Ok(Ok(Issued {
            access,
            refresh,
            id_token,
            scope: access_grant.scope,
            dpop,
        })),
        Err(StoreError::Conflict(_)) => Ok(Err(Spent)),
        Err(StoreError::NotFound) => Err(OAuthErr::invalid_grant(
            "the grant is unknown, expired or revoked",
        )),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// A spent refresh token again: within the grace period, from the same
/// client, before its successor was used, the same new tokens; otherwise a
/// reuse.
async fn replayed(
    state: &AppState,
    client: &Client,
    token: &str,
    spent: &Record,
    dpop: Option<&str>,
) -> Result<Issued, OAuthErr> {
    let grace = i64::try_from(state.config.oidc.refresh_reuse_grace_secs).unwrap_or(i64::MAX);
    let within = spent
        .used_at
        .is_some_and(|t| t.saturating_add(grace) >= state.now());
    if grace > 0 && within {
        let refresh = successor(state, token, "refresh");
        let next = records::get_raw(state, REFRESH, &records::token_id(&refresh)).await?;
        if let Some(next) = next.filter(|n| !n.used) {
            let grant: Grant = records::parse(&next)?;
            if grant.client_id == client.client_id && grant_is_live(state, &grant).await? {
                let access = successor(state, token, "access");
                // The access token as first issued: bound to a key or not.
                let bound =
                    match records::get_raw(state, ACCESS, &records::token_id(&access)).await? {
                        Some(r) => records::parse::<Grant>(&r)?.jkt,
                        None => None,
                    };
                if bound.is_some() && bound.as_deref() != dpop {
                    return Err(OAuthErr::new(
                        OAuthErrorCode::InvalidDpopProof,
                        "these tokens are bound to a DPoP key: send a proof made with it",
                    ));
                }
                let id_token = tokens::id_token(state, client, &grant, Some(&access), None)?;
                tracing::info!(client = %client.client_id, "refresh token replayed within the grace period");
                return Ok(Issued {
                    access,
                    refresh,
                    id_token,
                    dpop: bound.is_some(),
                    scope: grant.scope,
                });
            }
        }
    }
    Err(reused(state, client, spent, "refresh token").await)
}

/// A spent code or refresh token came back: revoke everything it issued.
async fn reused(state: &AppState, client: &Client, spent: &Record, what: &str) -> OAuthErr {
    if let Err(e) = records::revoke_family(state, &spent.family).await {
        return e.into();
    }
    let event = security::record(
        state,
        Kind::TokenReused,
        Subject {
            pk: spent.pk.as_deref(),
            client_id: Some(&client.client_id),
            ..Subject::default()
        },
        Some(what.to_string()),
    )
    .await;
    if let Err(e) = event {
        return e.into();
    }
    OAuthErr::invalid_grant(format!(
        "the {what} was already used; everything issued with it is revoked"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(challenge, verifier));
        assert!(!pkce_ok(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"
        ));
        assert!(!pkce_ok(challenge, "short"));
    }
}
