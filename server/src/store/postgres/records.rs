//! OIDC clients and the short-lived OIDC records (sign-in sessions, codes,
//! tokens, SSO sessions) with their revocable families.

use postgres::Row;

use super::conn::Sql;

use super::{backend, conflict_or_backend};
use crate::store::{ClientSession, Record, StoreError, StoreResult};

const RECORD_COLUMNS: &str =
    "kind, id, family, pk, data, used, used_at, expires_at, client_id, sid";

fn record_from_row(r: &Row) -> StoreResult<Record> {
    let record = || -> Result<Record, postgres::Error> {
        Ok(Record {
            kind: r.try_get(0)?,
            id: r.try_get(1)?,
            family: r.try_get(2)?,
            pk: r.try_get(3)?,
            data: r.try_get(4)?,
            used: r.try_get(5)?,
            used_at: r.try_get(6)?,
            expires_at: r.try_get(7)?,
            client_id: r.try_get(8)?,
            sid: r.try_get(9)?,
            version: r.try_get(10)?,
        })
    };
    record().map_err(backend)
}

fn pairs(rows: Vec<Row>) -> StoreResult<Vec<(String, String)>> {
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()
        .map_err(backend)
}

pub(super) fn insert_client(
    c: &mut impl Sql,
    client_id: &str,
    data: &str,
    owner: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO clients (client_id, data, created_at, owner) VALUES ($1, $2, $3, $4)",
        &[&client_id, &data, &now, &owner],
    )
    .map_err(conflict_or_backend("duplicate-client"))?;
    Ok(())
}

pub(super) fn get_client(c: &mut impl Sql, client_id: &str) -> StoreResult<String> {
    c.query_opt(
        "SELECT data FROM clients WHERE client_id = $1",
        &[&client_id],
    )
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?
    .try_get(0)
    .map_err(backend)
}

pub(super) fn update_client(c: &mut impl Sql, client_id: &str, data: &str) -> StoreResult<()> {
    match c
        .execute(
            "UPDATE clients SET data = $2 WHERE client_id = $1",
            &[&client_id, &data],
        )
        .map_err(backend)?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub(super) fn delete_client(c: &mut impl Sql, client_id: &str) -> StoreResult<()> {
    match c
        .execute("DELETE FROM clients WHERE client_id = $1", &[&client_id])
        .map_err(backend)?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Every client, or those of `owner`, oldest first.
pub(super) fn list_clients(
    c: &mut impl Sql,
    owner: Option<&str>,
) -> StoreResult<Vec<(String, String)>> {
    let rows = c
        .query(
            "SELECT client_id, data FROM clients
             WHERE $1::text IS NULL OR owner = $1 ORDER BY created_at, client_id",
            &[&owner],
        )
        .map_err(backend)?;
    pairs(rows)
}

pub(super) fn put_record(c: &mut impl Sql, r: &Record) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO records ({RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (kind, id) DO UPDATE
             SET family = $3, pk = $4, data = $5, used = $6, used_at = $7, expires_at = $8,
                 client_id = $9, sid = $10, version = records.version + 1"
        ),
        &[
            &r.kind,
            &r.id,
            &r.family,
            &r.pk,
            &r.data,
            &r.used,
            &r.used_at,
            &r.expires_at,
            &r.client_id,
            &r.sid,
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn replace_record(
    c: &mut impl Sql,
    kind: &str,
    id: &str,
    version: i64,
    new_data: &str,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE records SET data = $4, version = version + 1
             WHERE kind = $1 AND id = $2 AND version = $3 AND NOT used",
            &[&kind, &id, &version, &new_data],
        )
        .map_err(backend)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict("changed"))
    }
}

fn find_record(
    c: &mut impl Sql,
    kind: &str,
    id: &str,
    now: i64,
    suffix: &str,
) -> StoreResult<Record> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {RECORD_COLUMNS}, version FROM records
                 WHERE kind = $1 AND id = $2 AND expires_at > $3
                   AND NOT EXISTS (SELECT 1 FROM revoked_families f
                                   WHERE f.family = records.family)
                 {suffix}"
            ),
            &[&kind, &id, &now],
        )
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    record_from_row(&row)
}

pub(super) fn get_record(c: &mut impl Sql, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
    find_record(c, kind, id, now, "")
}

/// Marks a record used (inside the caller's transaction) and returns it as
/// it was; `Conflict` when it already was used. The row is locked first:
/// a concurrent taker waits, then sees it used.
pub(super) fn use_record(
    c: &mut impl Sql,
    kind: &str,
    id: &str,
    now: i64,
    keep_data: bool,
) -> StoreResult<Record> {
    let rec = find_record(c, kind, id, now, "FOR UPDATE")?;
    if rec.used {
        return Err(StoreError::Conflict("already-used"));
    }
    c.execute(
        "UPDATE records SET used = true, used_at = $3,
                data = CASE WHEN $4 THEN data ELSE '' END, version = version + 1
         WHERE kind = $1 AND id = $2",
        &[&kind, &id, &now, &keep_data],
    )
    .map_err(backend)?;
    Ok(rec)
}

pub(super) fn record_family(c: &mut impl Sql, kind: &str, id: &str) -> StoreResult<String> {
    c.query_opt(
        "SELECT family FROM records WHERE kind = $1 AND id = $2",
        &[&kind, &id],
    )
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?
    .try_get(0)
    .map_err(backend)
}

pub(super) fn revoke_family(c: &mut impl Sql, family: &str, until: i64) -> StoreResult<()> {
    c.execute(
        "INSERT INTO revoked_families (family, expires_at) VALUES ($1, $2)
         ON CONFLICT (family) DO UPDATE
         SET expires_at = GREATEST(revoked_families.expires_at, $2)",
        &[&family, &until],
    )
    .map_err(backend)?;
    Ok(())
}

/// In family order, so two of these at once lock rows in the same order.
pub(super) fn revoke_families_of_key(c: &mut impl Sql, pk: &str, until: i64) -> StoreResult<()> {
    c.execute(
        "INSERT INTO revoked_families (family, expires_at)
         SELECT DISTINCT family, $2::bigint FROM records WHERE pk = $1 ORDER BY family
         ON CONFLICT (family) DO UPDATE
         SET expires_at = GREATEST(revoked_families.expires_at, $2)",
        &[&pk, &until],
    )
    .map_err(backend)?;
    Ok(())
}

/// Live: unexpired, and its family not revoked.
const LIVE: &str = "expires_at > $2
    AND NOT EXISTS (SELECT 1 FROM revoked_families f WHERE f.family = records.family)";

pub(super) fn session_clients(c: &mut impl Sql, sid: &str, now: i64) -> StoreResult<Vec<String>> {
    c.query(
        &format!(
            "SELECT DISTINCT client_id FROM records
             WHERE sid = $1 AND client_id IS NOT NULL AND {LIVE} ORDER BY client_id"
        ),
        &[&sid, &now],
    )
    .map_err(backend)?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()
    .map_err(backend)
}

pub(super) fn key_sessions(
    c: &mut impl Sql,
    pk: &str,
    now: i64,
) -> StoreResult<Vec<ClientSession>> {
    c.query(
        &format!(
            "SELECT DISTINCT client_id, sid FROM records
             WHERE pk = $1 AND client_id IS NOT NULL AND {LIVE} ORDER BY client_id, sid"
        ),
        &[&pk, &now],
    )
    .map_err(backend)?
    .iter()
    .map(|r| {
        Ok(ClientSession {
            client_id: r.try_get(0)?,
            sid: r.try_get(1)?,
        })
    })
    .collect::<Result<_, postgres::Error>>()
    .map_err(backend)
}

pub(super) fn remember_subject(
    c: &mut impl Sql,
    client_id: &str,
    sub: &str,
    pk: &str,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO client_subjects (client_id, sub, pk, seen_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id, sub) DO UPDATE SET seen_at = $4",
        &[&client_id, &sub, &pk, &now],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn find_subject(c: &mut impl Sql, client_id: &str, sub: &str) -> StoreResult<String> {
    c.query_opt(
        "SELECT pk FROM client_subjects WHERE client_id = $1 AND sub = $2",
        &[&client_id, &sub],
    )
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?
    .try_get(0)
    .map_err(backend)
}
