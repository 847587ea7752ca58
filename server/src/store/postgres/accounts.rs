//! Accounts, their sessions, and initial access tokens for client
//! registration.

use postgres::Row;

use super::conn::Sql;

use super::{backend, conflict_or_backend};
use crate::store::{Account, StoreError, StoreResult};

const COLUMNS: &str = "id, email, password_hash, role, deactivated_at, authentiq_pk, created_at";

fn from_row(r: &Row) -> StoreResult<Account> {
    let account = || -> Result<Account, postgres::Error> {
        Ok(Account {
            id: r.try_get(0)?,
            email: r.try_get(1)?,
            password_hash: r.try_get(2)?,
            role: r.try_get(3)?,
            deactivated_at: r.try_get(4)?,
            authentiq_pk: r.try_get(5)?,
            created_at: r.try_get(6)?,
        })
    };
    account().map_err(backend)
}

pub(super) fn insert(c: &mut impl Sql, a: &Account) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[
            &a.id,
            &a.email,
            &a.password_hash,
            &a.role,
            &a.deactivated_at,
            &a.authentiq_pk,
            &a.created_at,
        ],
    )
    .map_err(conflict_or_backend("duplicate-email"))?;
    Ok(())
}

/// `column` is one of ours, never input.
fn find(c: &mut impl Sql, column: &str, value: &str) -> StoreResult<Account> {
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM accounts WHERE {column} = $1"),
            &[&value],
        )
        .map_err(backend)?
        .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

pub(super) fn get(c: &mut impl Sql, id: &str) -> StoreResult<Account> {
    find(c, "id", id)
}

pub(super) fn by_email(c: &mut impl Sql, email: &str) -> StoreResult<Account> {
    find(c, "email", email)
}

pub(super) fn by_pk(c: &mut impl Sql, pk: &str) -> StoreResult<Account> {
    find(c, "authentiq_pk", pk)
}

pub(super) fn list(c: &mut impl Sql) -> StoreResult<Vec<Account>> {
    c.query(
        &format!("SELECT {COLUMNS} FROM accounts ORDER BY created_at, email"),
        &[],
    )
    .map_err(backend)?
    .iter()
    .map(from_row)
    .collect()
}

fn is_active_admin(a: &Account) -> bool {
    a.role == "admin" && a.deactivated_at.is_none()
}

/// Refuses to leave no active admin: `before` becomes `after` (or goes).
/// The caller holds the accounts lock, so no other change of an account
/// runs between this count and the write.
fn keep_an_admin(c: &mut impl Sql, before: &Account, after: Option<&Account>) -> StoreResult<()> {
    if !is_active_admin(before) || after.is_some_and(is_active_admin) {
        return Ok(());
    }
    let others: i64 = c
        .query_one(
            "SELECT count(*) FROM accounts
             WHERE role = 'admin' AND deactivated_at IS NULL AND id != $1",
            &[&before.id],
        )
        .and_then(|r| r.try_get(0))
        .map_err(backend)?;
    if others == 0 {
        return Err(StoreError::Conflict("last-admin"));
    }
    Ok(())
}

/// Inside the caller's transaction, which holds the accounts lock.
pub(super) fn update(c: &mut impl Sql, a: &Account) -> StoreResult<()> {
    let before = get(c, &a.id)?;
    keep_an_admin(c, &before, Some(a))?;
    c.execute(
        "UPDATE accounts SET role = $2, deactivated_at = $3, password_hash = $4, authentiq_pk = $5
         WHERE id = $1",
        &[
            &a.id,
            &a.role,
            &a.deactivated_at,
            &a.password_hash,
            &a.authentiq_pk,
        ],
    )
    .map_err(conflict_or_backend("duplicate-pk"))?;
    Ok(())
}

/// Inside the caller's transaction, which holds the accounts lock.
pub(super) fn delete(c: &mut impl Sql, id: &str) -> StoreResult<()> {
    let before = get(c, id)?;
    keep_an_admin(c, &before, None)?;
    c.execute("DELETE FROM clients WHERE owner = $1", &[&id])
        .map_err(backend)?;
    c.execute("DELETE FROM account_sessions WHERE account_id = $1", &[&id])
        .map_err(backend)?;
    c.execute("DELETE FROM accounts WHERE id = $1", &[&id])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn insert_session(
    c: &mut impl Sql,
    id: &str,
    account_id: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO account_sessions (id, account_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
        &[&id, &account_id, &now, &expires_at],
    )
    .map_err(conflict_or_backend("duplicate-session"))?;
    Ok(())
}

pub(super) fn session(c: &mut impl Sql, id: &str, now: i64) -> StoreResult<String> {
    c.query_opt(
        "SELECT account_id FROM account_sessions WHERE id = $1 AND expires_at > $2",
        &[&id, &now],
    )
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?
    .try_get(0)
    .map_err(backend)
}

pub(super) fn delete_session(c: &mut impl Sql, id: &str) -> StoreResult<()> {
    c.execute("DELETE FROM account_sessions WHERE id = $1", &[&id])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn delete_sessions(
    c: &mut impl Sql,
    account_id: &str,
    except: Option<&str>,
) -> StoreResult<()> {
    c.execute(
        "DELETE FROM account_sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2",
        &[&account_id, &except],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn insert_initial_access_token(
    c: &mut impl Sql,
    id: &str,
    uses: u32,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO initial_access_tokens (id, uses_left, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
        &[&id, &i64::from(uses), &now, &expires_at],
    )
    .map_err(backend)?;
    Ok(())
}

/// One conditional `UPDATE`: concurrent uses queue on the row and each
/// checks `uses_left > 0` again, so no more than `uses` succeed.
pub(super) fn use_initial_access_token(c: &mut impl Sql, id: &str, now: i64) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE initial_access_tokens SET uses_left = uses_left - 1
             WHERE id = $1 AND uses_left > 0 AND expires_at > $2",
            &[&id, &now],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
