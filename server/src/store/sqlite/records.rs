//! OIDC clients and the short-lived OIDC records (sign-in sessions, codes,
//! tokens, SSO sessions) with their revocable families.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Cached, backend, conflict_or_backend};
use crate::store::{ClientSession, Record, StoreError, StoreResult};

/// A record's columns, as a literal: the statements below are built at
/// compile time, not formatted on every call (they run on every request).
macro_rules! record_columns {
    () => {
        "kind, id, family, pk, data, used, used_at, expires_at, client_id, sid"
    };
}

const PUT_RECORD: &str = concat!(
    "INSERT INTO records (",
    record_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
     ON CONFLICT (kind, id) DO UPDATE
     SET family = ?3, pk = ?4, data = ?5, used = ?6, used_at = ?7, expires_at = ?8,
         client_id = ?9, sid = ?10, version = version + 1"
);

const GET_RECORD: &str = concat!(
    "SELECT ",
    record_columns!(),
    ", version FROM records
     WHERE kind = ?1 AND id = ?2 AND expires_at > ?3
       AND family NOT IN (SELECT family FROM revoked_families)"
);

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        kind: r.get(0)?,
        id: r.get(1)?,
        family: r.get(2)?,
        pk: r.get(3)?,
        data: r.get(4)?,
        used: r.get(5)?,
        used_at: r.get(6)?,
        expires_at: r.get(7)?,
        client_id: r.get(8)?,
        sid: r.get(9)?,
        version: r.get(10)?,
    })
}

pub(super) fn insert_client(
    c: &Connection,
    client_id: &str,
    data: &str,
    owner: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO clients (client_id, data, created_at, owner) VALUES (?1, ?2, ?3, ?4)",
        params![client_id, data, now, owner],
    )
    .map_err(conflict_or_backend("duplicate-client"))?;
    Ok(())
}

pub(super) fn get_client(c: &Connection, client_id: &str) -> StoreResult<String> {
    c.prepare_cached("SELECT data FROM clients WHERE client_id = ?1")
        .and_then(|mut s| s.query_row([client_id], |r| r.get(0)).optional())
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}

pub(super) fn update_client(c: &Connection, client_id: &str, data: &str) -> StoreResult<()> {
    match c
        .execute(
            "UPDATE clients SET data = ?2 WHERE client_id = ?1",
            params![client_id, data],
        )
        .map_err(backend)?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub(super) fn list_clients_of(c: &Connection, owner: &str) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = c
        .prepare("SELECT client_id, data FROM clients WHERE owner = ?1 ORDER BY created_at")
        .map_err(backend)?;
    let rows = stmt
        .query_map([owner], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(super) fn delete_client(c: &Connection, client_id: &str) -> StoreResult<()> {
    match c
        .execute("DELETE FROM clients WHERE client_id = ?1", [client_id])
        .map_err(backend)?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub(super) fn list_clients(c: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = c
        .prepare("SELECT client_id, data FROM clients ORDER BY created_at")
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(super) fn put_record(c: &Connection, r: &Record) -> StoreResult<()> {
    c.prepare_cached(PUT_RECORD)
        .and_then(|mut s| {
            s.execute(params![
                r.kind,
                r.id,
                r.family,
                r.pk,
                r.data,
                r.used,
                r.used_at,
                r.expires_at,
                r.client_id,
                r.sid
            ])
        })
        .map_err(backend)?;
    Ok(())
}

pub(super) fn replace_record(
    c: &Connection,
    kind: &str,
    id: &str,
    version: i64,
    new_data: &str,
) -> StoreResult<()> {
    let n = c
        .prepare_cached(
            "UPDATE records SET data = ?4, version = version + 1
             WHERE kind = ?1 AND id = ?2 AND version = ?3 AND used = 0",
        )
        .and_then(|mut s| s.execute(params![kind, id, version, new_data]))
        .map_err(backend)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("changed"))
    }
}

pub(super) fn get_record(c: &Connection, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
    c.prepare_cached(GET_RECORD)
        .and_then(|mut s| {
            s.query_row(params![kind, id, now], record_from_row)
                .optional()
        })
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}

/// Marks a record used (inside the caller's write transaction) and returns
/// it as it was; `Conflict` when it already was used.
pub(super) fn use_record(
    c: &Connection,
    kind: &str,
    id: &str,
    now: i64,
    keep_data: bool,
) -> StoreResult<Record> {
    let rec = get_record(c, kind, id, now)?;
    if rec.used {
        return Err(StoreError::Conflict("already-used"));
    }
    c.prepare_cached(
        "UPDATE records SET used = 1, used_at = ?3, data = CASE WHEN ?4 THEN data ELSE '' END,
                            version = version + 1
         WHERE kind = ?1 AND id = ?2",
    )
    .and_then(|mut s| s.execute(params![kind, id, now, keep_data]))
    .map_err(backend)?;
    Ok(rec)
}

pub(super) fn record_family(c: &Connection, kind: &str, id: &str) -> StoreResult<String> {
    c.row(
        "SELECT family FROM records WHERE kind = ?1 AND id = ?2",
        params![kind, id],
        |r| r.get(0),
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound)
}

pub(super) fn revoke_family(c: &Connection, family: &str, until: i64) -> StoreResult<()> {
    c.exec(
        "INSERT INTO revoked_families (family, expires_at) VALUES (?1, ?2)
         ON CONFLICT (family) DO UPDATE SET expires_at = MAX(expires_at, ?2)",
        params![family, until],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn revoke_families_of_key(c: &Connection, pk: &str, until: i64) -> StoreResult<()> {
    c.exec(
        "INSERT INTO revoked_families (family, expires_at)
         SELECT DISTINCT family, ?2 FROM records WHERE pk = ?1 AND true
         ON CONFLICT (family) DO UPDATE SET expires_at = MAX(expires_at, ?2)",
        params![pk, until],
    )
    .map_err(backend)?;
    Ok(())
}

/// Live: unexpired, and its family not revoked.
const LIVE: &str = "expires_at > ?2 AND family NOT IN (SELECT family FROM revoked_families)";

pub(super) fn session_clients(c: &Connection, sid: &str, now: i64) -> StoreResult<Vec<String>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT DISTINCT client_id FROM records
             WHERE sid = ?1 AND client_id IS NOT NULL AND {LIVE} ORDER BY client_id"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![sid, now], |r| r.get(0))
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(super) fn key_sessions(c: &Connection, pk: &str, now: i64) -> StoreResult<Vec<ClientSession>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT DISTINCT client_id, sid FROM records
             WHERE pk = ?1 AND client_id IS NOT NULL AND {LIVE} ORDER BY client_id, sid"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![pk, now], |r| {
            Ok(ClientSession {
                client_id: r.get(0)?,
                sid: r.get(1)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub(super) fn remember_subject(
    c: &Connection,
    client_id: &str,
    sub: &str,
    pk: &str,
    now: i64,
) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO client_subjects (client_id, sub, pk, seen_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (client_id, sub) DO UPDATE SET seen_at = ?4",
    )
    .and_then(|mut s| s.execute(params![client_id, sub, pk, now]))
    .map_err(backend)?;
    Ok(())
}

pub(super) fn find_subject(c: &Connection, client_id: &str, sub: &str) -> StoreResult<String> {
    c.prepare_cached("SELECT pk FROM client_subjects WHERE client_id = ?1 AND sub = ?2")
        .and_then(|mut s| {
            s.query_row(params![client_id, sub], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}
