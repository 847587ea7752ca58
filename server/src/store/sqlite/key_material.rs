//! Named, versioned documents of key material (sealed by the caller).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Cached, backend, conflict_or_backend};
use crate::store::{StoreError, StoreResult};

pub(super) fn get(c: &Connection, name: &str) -> StoreResult<(i64, String)> {
    c.prepare_cached("SELECT version, value FROM key_material WHERE name = ?1")
        .and_then(|mut s| {
            s.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}

pub(super) fn put(
    c: &Connection,
    name: &str,
    expected: i64,
    value: &str,
    now: i64,
) -> StoreResult<i64> {
    if expected == 0 {
        c.exec(
            "INSERT INTO key_material (name, version, value, updated_at) VALUES (?1, 1, ?2, ?3)",
            params![name, value, now],
        )
        .map_err(conflict_or_backend("exists"))?;
        return Ok(1);
    }
    let n = c
        .execute(
            "UPDATE key_material SET version = version + 1, value = ?3, updated_at = ?4
             WHERE name = ?1 AND version = ?2",
            params![name, expected, value, now],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::Conflict("changed"));
    }
    Ok(expected + 1)
}

pub(super) fn versions(c: &Connection) -> StoreResult<Vec<(String, i64)>> {
    let mut s = c
        .prepare_cached("SELECT name, version FROM key_material ORDER BY name")
        .map_err(backend)?;
    let rows = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}
