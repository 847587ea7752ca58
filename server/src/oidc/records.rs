//! Typed access to the short-lived OIDC records (sessions, codes, tokens).
//! Tokens and codes are never stored: a record's id is the SHA-256 of the
//! token it stands for.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::hub::Topic;
use crate::store::{Record, StoreError, Write};
use crate::{ApiError, AppState};

pub const SESSION: &str = "session";
pub const CODE: &str = "code";
pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";
pub const SSO: &str = "sso";

/// A new random token (256 bits, base64url).
pub fn new_token() -> String {
    crate::secrets::new_secret()
}

/// The record id of a token.
pub fn token_id(token: &str) -> String {
    crate::secrets::hash_secret_b64(token)
}

/// A new record, not stored yet; `pk` is the key it belongs to, if any
/// (revoking the key revokes the record's family).
pub fn new<T: Serialize>(
    kind: &'static str,
    id: &str,
    family: &str,
    pk: Option<&str>,
    data: &T,
    expires_at: i64,
) -> Result<Record, ApiError> {
    Ok(Record {
        kind: kind.into(),
        id: id.into(),
        family: family.into(),
        pk: pk.map(str::to_string),
        data: serde_json::to_string(data).map_err(|e| ApiError::internal(e.to_string()))?,
        used: false,
        used_at: None,
        expires_at,
        client_id: None,
        sid: None,
        version: 0,
    })
}

/// Stores a new record.
pub async fn put(state: &AppState, record: Record) -> Result<(), ApiError> {
    state.db.call(move |s| s.put_record(&record)).await?;
    Ok(())
}

/// Changes a record's data with `change`, atomically: if another request
/// changed the record in between, it is read again and `change` applied to
/// the fresh data. `change` may refuse by returning `Err`.
pub async fn modify<T, R>(
    state: &AppState,
    kind: &'static str,
    id: &str,
    change: impl FnMut(&mut T) -> Result<R, ApiError>,
) -> Result<R, ApiError>
where
    T: Serialize + DeserializeOwned,
{
    modify_with(state, kind, id, change, &[]).await
}

/// [`modify`], and `also` in the same transaction as the change (a
/// security event about it, say): stored with it or not at all.
pub async fn modify_with<T, R>(
    state: &AppState,
    kind: &'static str,
    id: &str,
    mut change: impl FnMut(&mut T) -> Result<R, ApiError>,
    also: &[Write],
) -> Result<R, ApiError>
where
    T: Serialize + DeserializeOwned,
{
    for _ in 0..8 {
        let Some((mut data, record)) = get::<T>(state, kind, id).await? else {
            return Err(ApiError::not_found("no such record, or it expired"));
        };
        let out = change(&mut data)?;
        let new = serde_json::to_string(&data).map_err(|e| ApiError::internal(e.to_string()))?;
        let mut writes = vec![Write::ReplaceRecord {
            kind: record.kind,
            id: record.id,
            version: record.version,
            data: new,
        }];
        writes.extend_from_slice(also);
        match state.db.call(move |s| s.write_all(&writes)).await {
            Ok(()) => {
                if kind == SESSION {
                    state.hub.signal(&Topic::Session(id.to_string()));
                }
                return Ok(out);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict("the record keeps changing; try again"))
}

pub fn parse<T: DeserializeOwned>(r: &Record) -> Result<T, ApiError> {
    serde_json::from_str(&r.data).map_err(|e| {
        tracing::error!(kind = %r.kind, error = %e, "a stored record does not parse");
        ApiError::internal("corrupt record")
    })
}

/// Remembers that `client_id` knows `pk` as `sub` (its backend may later
/// name the user by it): a write only the first time, as a `sub` names one
/// key for good.
pub async fn remember_subject(
    state: &AppState,
    client_id: &str,
    sub: String,
    pk: &str,
) -> Result<(), ApiError> {
    let (cid, pk, now) = (client_id.to_string(), pk.to_string(), state.now());
    let known = {
        let (cid, sub) = (cid.clone(), sub.clone());
        state.db.read(move |s| s.find_subject(&cid, &sub)).await
    };
    match known {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Ok(state
            .db
            .call(move |s| s.remember_subject(&cid, &sub, &pk, now))
            .await?),
        Err(e) => Err(e.into()),
    }
}

/// An unexpired, unrevoked record.
pub async fn get<T: DeserializeOwned>(
    state: &AppState,
    kind: &'static str,
    id: &str,
) -> Result<Option<(T, Record)>, ApiError> {
    match get_raw(state, kind, id).await? {
        Some(r) => Ok(Some((parse(&r)?, r))),
        None => Ok(None),
    }
}

/// An unexpired, unrevoked record as stored: used or not (a spent one
/// keeps only its family), its data unparsed.
pub async fn get_raw(
    state: &AppState,
    kind: &'static str,
    id: &str,
) -> Result<Option<Record>, ApiError> {
    let (id, now) = (id.to_string(), state.now());
    match state.db.read(move |s| s.get_record(kind, &id, now)).await {
        Ok(r) => Ok(Some(r)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What [`take`] found.
#[derive(Debug)]
pub enum Taken<T> {
    /// First use.
    Fresh(T, Record),
    /// Used before: the family it belongs to should be revoked.
    Reused { family: String },
    /// Unknown, expired or revoked.
    Missing,
}

/// Uses a single-use record.
pub async fn take<T: DeserializeOwned>(
    state: &AppState,
    kind: &'static str,
    id: &str,
) -> Result<Taken<T>, ApiError> {
    let (owned, now) = (id.to_string(), state.now());
    // A spent sign-in session is still read (its page shows how it ended).
    // (Codes, refresh tokens, and sign-in sessions at /continue, are spent
    // by `Store::exchange`, with what they are exchanged for.)
    match state
        .db
        .call(move |s| s.use_record(kind, &owned, now, true))
        .await
    {
        Ok(r) => Ok(Taken::Fresh(parse(&r)?, r)),
        Err(StoreError::Conflict(_)) => {
            let owned = id.to_string();
            let family = state
                .db
                .read(move |s| s.record_family(kind, &owned))
                .await?;
            Ok(Taken::Reused { family })
        }
        Err(StoreError::NotFound) => Ok(Taken::Missing),
        Err(e) => Err(e.into()),
    }
}

/// Revokes everything issued in `family` (for as long as any of it could live).
pub async fn revoke_family(state: &AppState, family: &str) -> Result<(), ApiError> {
    let (family, until) = (
        family.to_string(),
        state.now() + crate::store::FAMILY_REVOCATION_TTL,
    );
    state
        .db
        .call(move |s| s.revoke_family(&family, until))
        .await?;
    Ok(())
}
