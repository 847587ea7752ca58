//! Keys, their grants and bindings, claim-verification jobs, revocation
//! codes and spent JWT IDs.

use postgres::Row;

use super::conn::Sql;

use super::{backend, conflict_or_backend, count};
use crate::store::{GrantRecord, Job, JobStatus, KeyRecord, RevokeCode, StoreError, StoreResult};

const KEY_COLUMNS: &str =
    "pk, secret_hash, devtoken, registered_at, revoked_at, email_hash, phone_hash";

fn key_from_row(r: &Row) -> StoreResult<KeyRecord> {
    let key = || -> Result<KeyRecord, postgres::Error> {
        Ok(KeyRecord {
            pk: r.try_get(0)?,
            secret_hash: r.try_get(1)?,
            devtoken: r.try_get(2)?,
            registered_at: r.try_get(3)?,
            revoked_at: r.try_get(4)?,
            email_hash: r.try_get(5)?,
            phone_hash: r.try_get(6)?,
        })
    };
    key().map_err(backend)
}

const JOB_COLUMNS: &str = "id, pk, scope, value, value_hash, code_hash, attempts, status, test,
                           created_at, expires_at, grant_jwt";

fn job_from_row(r: &Row) -> StoreResult<Job> {
    let status: String = r.try_get(7).map_err(backend)?;
    let attempts: i64 = r.try_get(6).map_err(backend)?;
    let job = || -> Result<Job, postgres::Error> {
        Ok(Job {
            id: r.try_get(0)?,
            pk: r.try_get(1)?,
            scope: r.try_get(2)?,
            value: r.try_get(3)?,
            value_hash: r.try_get(4)?,
            code_hash: r.try_get(5)?,
            attempts: 0,
            status: JobStatus::Waiting,
            test: r.try_get(8)?,
            created_at: r.try_get(9)?,
            expires_at: r.try_get(10)?,
            grant_jwt: r.try_get(11)?,
        })
    };
    let mut job = job().map_err(backend)?;
    job.attempts = count(attempts)?;
    job.status = JobStatus::parse(&status)?;
    Ok(job)
}

fn revoke_code_from_row(r: &Row) -> StoreResult<RevokeCode> {
    let attempts: i64 = r.try_get(2).map_err(backend)?;
    Ok(RevokeCode {
        pk: r.try_get(0).map_err(backend)?,
        code_hash: r.try_get(1).map_err(backend)?,
        attempts: count(attempts)?,
        expires_at: r.try_get(3).map_err(backend)?,
    })
}

pub(super) fn insert_key(c: &mut impl Sql, key: &KeyRecord) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[
            &key.pk,
            &key.secret_hash,
            &key.devtoken,
            &key.registered_at,
            &key.revoked_at,
            &key.email_hash,
            &key.phone_hash,
        ],
    )
    .map_err(conflict_or_backend("duplicate-key"))?;
    Ok(())
}

fn find_key(
    c: &mut impl Sql,
    condition: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> StoreResult<KeyRecord> {
    let row = c
        .query_opt(
            &format!("SELECT {KEY_COLUMNS} FROM keys WHERE {condition}"),
            params,
        )
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    key_from_row(&row)
}

pub(super) fn get_key(c: &mut impl Sql, pk: &str) -> StoreResult<KeyRecord> {
    find_key(c, "pk = $1", &[&pk])
}

pub(super) fn revoke_key(c: &mut impl Sql, pk: &str, at: i64) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE keys SET revoked_at = COALESCE(revoked_at, $2) WHERE pk = $1",
            &[&pk, &at],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    c.execute("DELETE FROM jobs WHERE pk = $1", &[&pk])
        .map_err(backend)?;
    c.execute("DELETE FROM revoke_codes WHERE pk = $1", &[&pk])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn bind_key(
    c: &mut impl Sql,
    pk: &str,
    email_hash: Option<&[u8]>,
    phone_hash: Option<&[u8]>,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE keys SET email_hash = COALESCE($2, email_hash),
                             phone_hash = COALESCE($3, phone_hash)
             WHERE pk = $1 AND revoked_at IS NULL",
            &[&pk, &email_hash, &phone_hash],
        )
        .map_err(conflict_or_backend("duplicate-hash"))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn find_key_by_email(c: &mut impl Sql, email_hash: &[u8]) -> StoreResult<KeyRecord> {
    find_key(c, "email_hash = $1 AND revoked_at IS NULL", &[&email_hash])
}

pub(super) fn find_key_by_binding(
    c: &mut impl Sql,
    email_hash: &[u8],
    phone_hash: &[u8],
) -> StoreResult<KeyRecord> {
    find_key(
        c,
        "email_hash = $1 AND phone_hash = $2 AND revoked_at IS NULL",
        &[&email_hash, &phone_hash],
    )
}

pub(super) fn insert_grant(c: &mut impl Sql, g: &GrantRecord) -> StoreResult<()> {
    c.execute(
        "INSERT INTO grants (pk, scope, value_hash, issuer, jti, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &g.pk,
            &g.scope,
            &g.value_hash,
            &g.issuer,
            &g.jti,
            &g.issued_at,
            &g.expires_at,
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn has_grant(
    c: &mut impl Sql,
    pk: &str,
    scope: &str,
    value_hash: &[u8],
    now: i64,
) -> StoreResult<bool> {
    c.query_one(
        "SELECT EXISTS (SELECT 1 FROM grants
         WHERE pk = $1 AND scope = $2 AND value_hash = $3 AND expires_at > $4)",
        &[&pk, &scope, &value_hash, &now],
    )
    .and_then(|r| r.try_get(0))
    .map_err(backend)
}

pub(super) fn insert_job(c: &mut impl Sql, j: &Job) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO jobs ({JOB_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        &[
            &j.id,
            &j.pk,
            &j.scope,
            &j.value,
            &j.value_hash,
            &j.code_hash,
            &i64::from(j.attempts),
            &j.status.as_str(),
            &j.test,
            &j.created_at,
            &j.expires_at,
            &j.grant_jwt,
        ],
    )
    .map_err(conflict_or_backend("duplicate-job"))?;
    Ok(())
}

pub(super) fn get_job(c: &mut impl Sql, id: &str, now: i64) -> StoreResult<Job> {
    let row = c
        .query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND expires_at > $2"),
            &[&id, &now],
        )
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    job_from_row(&row)
}

/// One conditional `UPDATE … RETURNING`: a concurrent update of the row
/// makes this one wait and check `attempts < max` again on its result, so
/// no number of concurrent requests gets past `max`.
pub(super) fn attempt_job(c: &mut impl Sql, id: &str, max: u32, now: i64) -> StoreResult<Job> {
    let row = c
        .query_opt(
            &format!(
                "UPDATE jobs SET attempts = attempts + 1
                 WHERE id = $1 AND expires_at > $2 AND attempts < $3
                 RETURNING {JOB_COLUMNS}"
            ),
            &[&id, &now, &i64::from(max)],
        )
        .map_err(backend)?;
    match row {
        Some(row) => job_from_row(&row),
        None => {
            get_job(c, id, now)?;
            Err(StoreError::Conflict("attempts"))
        }
    }
}

pub(super) fn update_job(c: &mut impl Sql, j: &Job) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE jobs SET status = $2, expires_at = $3, grant_jwt = $4 WHERE id = $1",
            &[&j.id, &j.status.as_str(), &j.expires_at, &j.grant_jwt],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn delete_job(c: &mut impl Sql, id: &str) -> StoreResult<()> {
    let n = c
        .execute("DELETE FROM jobs WHERE id = $1", &[&id])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn put_revoke_code(c: &mut impl Sql, code: &RevokeCode) -> StoreResult<()> {
    c.execute(
        "INSERT INTO revoke_codes (pk, code_hash, attempts, expires_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (pk) DO UPDATE SET code_hash = $2, attempts = $3, expires_at = $4",
        &[
            &code.pk,
            &code.code_hash,
            &i64::from(code.attempts),
            &code.expires_at,
        ],
    )
    .map_err(backend)?;
    Ok(())
}

/// As [`attempt_job`], for the key's revocation code.
pub(super) fn attempt_revoke_code(
    c: &mut impl Sql,
    pk: &str,
    max: u32,
    now: i64,
) -> StoreResult<RevokeCode> {
    let row = c
        .query_opt(
            "UPDATE revoke_codes SET attempts = attempts + 1
             WHERE pk = $1 AND expires_at > $2 AND attempts < $3
             RETURNING pk, code_hash, attempts, expires_at",
            &[&pk, &now, &i64::from(max)],
        )
        .map_err(backend)?;
    if let Some(row) = row {
        return revoke_code_from_row(&row);
    }
    let exists: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM revoke_codes WHERE pk = $1 AND expires_at > $2)",
            &[&pk, &now],
        )
        .and_then(|r| r.try_get(0))
        .map_err(backend)?;
    Err(if exists {
        StoreError::Conflict("attempts")
    } else {
        StoreError::NotFound
    })
}

pub(super) fn delete_revoke_code(c: &mut impl Sql, pk: &str) -> StoreResult<()> {
    c.execute("DELETE FROM revoke_codes WHERE pk = $1", &[&pk])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn use_jti(c: &mut impl Sql, id: &str, expires_at: i64) -> StoreResult<()> {
    c.execute(
        "INSERT INTO used_jtis (id, expires_at) VALUES ($1, $2)",
        &[&id, &expires_at],
    )
    .map_err(conflict_or_backend("replayed"))?;
    Ok(())
}
