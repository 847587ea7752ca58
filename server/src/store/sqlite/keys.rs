//! Keys, their grants and bindings, claim-verification jobs, revocation
//! codes and spent JWT IDs.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Cached, backend, conflict_or_backend};
use crate::store::{GrantRecord, Job, JobStatus, KeyRecord, RevokeCode, StoreError, StoreResult};

const KEY_COLUMNS: &str =
    "pk, secret_hash, devtoken, registered_at, revoked_at, email_hash, phone_hash";

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        pk: r.get(0)?,
        secret_hash: r.get(1)?,
        devtoken: r.get(2)?,
        registered_at: r.get(3)?,
        revoked_at: r.get(4)?,
        email_hash: r.get(5)?,
        phone_hash: r.get(6)?,
    })
}

const JOB_COLUMNS: &str = "id, pk, scope, value, value_hash, code_hash, attempts, status, test,
                           created_at, expires_at, grant_jwt";

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Job, String)> {
    let status: String = r.get(7)?;
    Ok((
        Job {
            id: r.get(0)?,
            pk: r.get(1)?,
            scope: r.get(2)?,
            value: r.get(3)?,
            value_hash: r.get(4)?,
            code_hash: r.get(5)?,
            attempts: r.get(6)?,
            status: JobStatus::Waiting,
            test: r.get(8)?,
            created_at: r.get(9)?,
            expires_at: r.get(10)?,
            grant_jwt: r.get(11)?,
        },
        status,
    ))
}

fn job_with_status(row: (Job, String)) -> StoreResult<Job> {
    let (mut job, status) = row;
    job.status = JobStatus::parse(&status)?;
    Ok(job)
}

fn revoke_code_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RevokeCode> {
    Ok(RevokeCode {
        pk: r.get(0)?,
        code_hash: r.get(1)?,
        attempts: r.get(2)?,
        expires_at: r.get(3)?,
    })
}

pub(super) fn insert_key(c: &Connection, key: &KeyRecord) -> StoreResult<()> {
    c.exec(
        &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            key.pk,
            key.secret_hash,
            key.devtoken,
            key.registered_at,
            key.revoked_at,
            key.email_hash,
            key.phone_hash
        ],
    )
    .map_err(conflict_or_backend("duplicate-key"))?;
    super::devices::insert_first(c, key)
}

pub(super) fn get_key(c: &Connection, pk: &str) -> StoreResult<KeyRecord> {
    c.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE pk = ?1"))
        .and_then(|mut s| s.query_row([pk], key_from_row).optional())
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}

pub(super) fn revoke_key(c: &Connection, pk: &str, at: i64) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE pk = ?1",
            params![pk, at],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    c.exec("DELETE FROM jobs WHERE pk = ?1", [pk])
        .map_err(backend)?;
    c.exec("DELETE FROM revoke_codes WHERE pk = ?1", [pk])
        .map_err(backend)?;
    super::devices::revoke_all(c, pk, at)?;
    Ok(())
}

pub(super) fn bind_key(
    c: &Connection,
    pk: &str,
    email_hash: Option<&[u8]>,
    phone_hash: Option<&[u8]>,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE keys SET email_hash = COALESCE(?2, email_hash),
                             phone_hash = COALESCE(?3, phone_hash)
             WHERE pk = ?1 AND revoked_at IS NULL",
            params![pk, email_hash, phone_hash],
        )
        .map_err(conflict_or_backend("duplicate-hash"))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn find_key_by_email(c: &Connection, email_hash: &[u8]) -> StoreResult<KeyRecord> {
    c.row(
        &format!("SELECT {KEY_COLUMNS} FROM keys WHERE email_hash = ?1 AND revoked_at IS NULL"),
        params![email_hash],
        key_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound)
}

pub(super) fn find_key_by_binding(
    c: &Connection,
    email_hash: &[u8],
    phone_hash: &[u8],
) -> StoreResult<KeyRecord> {
    c.row(
        &format!(
            "SELECT {KEY_COLUMNS} FROM keys
             WHERE email_hash = ?1 AND phone_hash = ?2 AND revoked_at IS NULL"
        ),
        params![email_hash, phone_hash],
        key_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound)
}

pub(super) fn insert_grant(c: &Connection, g: &GrantRecord) -> StoreResult<()> {
    c.exec(
        "INSERT INTO grants (pk, scope, value_hash, issuer, jti, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            g.pk,
            g.scope,
            g.value_hash,
            g.issuer,
            g.jti,
            g.issued_at,
            g.expires_at
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn has_grant(
    c: &Connection,
    pk: &str,
    scope: &str,
    value_hash: &[u8],
    now: i64,
) -> StoreResult<bool> {
    c.row(
        "SELECT EXISTS (SELECT 1 FROM grants
         WHERE pk = ?1 AND scope = ?2 AND value_hash = ?3 AND expires_at > ?4)",
        params![pk, scope, value_hash, now],
        |r| r.get(0),
    )
    .map_err(backend)
}

pub(super) fn insert_job(c: &Connection, j: &Job) -> StoreResult<()> {
    c.exec(
        &format!(
            "INSERT INTO jobs ({JOB_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            j.id,
            j.pk,
            j.scope,
            j.value,
            j.value_hash,
            j.code_hash,
            j.attempts,
            j.status.as_str(),
            j.test,
            j.created_at,
            j.expires_at,
            j.grant_jwt
        ],
    )
    .map_err(conflict_or_backend("duplicate-job"))?;
    Ok(())
}

pub(super) fn get_job(c: &Connection, id: &str, now: i64) -> StoreResult<Job> {
    let row = c
        .query_row(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND expires_at > ?2"),
            params![id, now],
            job_from_row,
        )
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    job_with_status(row)
}

/// One conditional `UPDATE … RETURNING`: the count goes up only while it is
/// under `max`, so no number of concurrent requests gets past it.
pub(super) fn attempt_job(c: &Connection, id: &str, max: u32, now: i64) -> StoreResult<Job> {
    let row = c
        .query_row(
            &format!(
                "UPDATE jobs SET attempts = attempts + 1
                 WHERE id = ?1 AND expires_at > ?2 AND attempts < ?3
                 RETURNING {JOB_COLUMNS}"
            ),
            params![id, now, max],
            job_from_row,
        )
        .optional()
        .map_err(backend)?;
    match row {
        Some(row) => job_with_status(row),
        None => {
            get_job(c, id, now)?;
            Err(StoreError::Conflict("attempts"))
        }
    }
}

pub(super) fn update_job(c: &Connection, j: &Job) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE jobs SET status = ?2, expires_at = ?3, grant_jwt = ?4 WHERE id = ?1",
            params![j.id, j.status.as_str(), j.expires_at, j.grant_jwt],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn delete_job(c: &Connection, id: &str) -> StoreResult<()> {
    let n = c
        .execute("DELETE FROM jobs WHERE id = ?1", [id])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn put_revoke_code(c: &Connection, code: &RevokeCode) -> StoreResult<()> {
    c.exec(
        "INSERT INTO revoke_codes (pk, code_hash, attempts, expires_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (pk) DO UPDATE SET code_hash = ?2, attempts = ?3, expires_at = ?4",
        params![code.pk, code.code_hash, code.attempts, code.expires_at],
    )
    .map_err(backend)?;
    Ok(())
}

/// As [`attempt_job`], for the key's revocation code.
pub(super) fn attempt_revoke_code(
    c: &Connection,
    pk: &str,
    max: u32,
    now: i64,
) -> StoreResult<RevokeCode> {
    let row = c
        .query_row(
            "UPDATE revoke_codes SET attempts = attempts + 1
             WHERE pk = ?1 AND expires_at > ?2 AND attempts < ?3
             RETURNING pk, code_hash, attempts, expires_at",
            params![pk, now, max],
            revoke_code_from_row,
        )
        .optional()
        .map_err(backend)?;
    if let Some(code) = row {
        return Ok(code);
    }
    let exists: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM revoke_codes WHERE pk = ?1 AND expires_at > ?2)",
            params![pk, now],
            |r| r.get(0),
        )
        .map_err(backend)?;
    Err(if exists {
        StoreError::Conflict("attempts")
    } else {
        StoreError::NotFound
    })
}

pub(super) fn delete_revoke_code(c: &Connection, pk: &str) -> StoreResult<()> {
    c.exec("DELETE FROM revoke_codes WHERE pk = ?1", [pk])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn use_jti(c: &Connection, id: &str, expires_at: i64) -> StoreResult<()> {
    c.prepare_cached("INSERT INTO used_jtis (id, expires_at) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![id, expires_at]))
        .map_err(conflict_or_backend("replayed"))?;
    Ok(())
}
