//! Named, versioned documents of key material (sealed by the caller).

use super::conn::Sql;

use super::{backend, conflict_or_backend};
use crate::store::{StoreError, StoreResult};

pub(super) fn get(c: &mut impl Sql, name: &str) -> StoreResult<(i64, String)> {
    let row = c
        .query_opt(
            "SELECT version, value FROM key_material WHERE name = $1",
            &[&name],
        )
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    Ok((
        row.try_get(0).map_err(backend)?,
        row.try_get(1).map_err(backend)?,
    ))
}

/// A compare-and-swap: creating races on the primary key, replacing on
/// the version the `UPDATE` re-checks after waiting for a concurrent one.
pub(super) fn put(
    c: &mut impl Sql,
    name: &str,
    expected: i64,
    value: &str,
    now: i64,
) -> StoreResult<i64> {
    if expected == 0 {
        c.execute(
            "INSERT INTO key_material (name, version, value, updated_at) VALUES ($1, 1, $2, $3)",
            &[&name, &value, &now],
        )
        .map_err(conflict_or_backend("exists"))?;
        return Ok(1);
    }
    let n = c
        .execute(
            "UPDATE key_material SET version = version + 1, value = $3, updated_at = $4
             WHERE name = $1 AND version = $2",
            &[&name, &expected, &value, &now],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::Conflict("changed"));
    }
    Ok(expected + 1)
}

pub(super) fn versions(c: &mut impl Sql) -> StoreResult<Vec<(String, i64)>> {
    c.query("SELECT name, version FROM key_material ORDER BY name", &[])
        .map_err(backend)?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()
        .map_err(backend)
}
