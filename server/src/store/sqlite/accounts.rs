//! Accounts, their sessions, and initial access tokens for client
//! registration.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Cached, backend, conflict_or_backend};
use crate::store::{Account, StoreError, StoreResult};

const COLUMNS: &str = "id, email, password_hash, role, deactivated_at, authentiq_pk, created_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
        role: r.get(3)?,
        deactivated_at: r.get(4)?,
        authentiq_pk: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub(super) fn insert(c: &Connection, a: &Account) -> StoreResult<()> {
    c.exec(
        &format!("INSERT INTO accounts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            a.id,
            a.email,
            a.password_hash,
            a.role,
            a.deactivated_at,
            a.authentiq_pk,
            a.created_at
        ],
    )
    .map_err(conflict_or_backend("duplicate-email"))?;
    Ok(())
}

fn find(c: &Connection, column: &str, value: &str) -> StoreResult<Account> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM accounts WHERE {column} = ?1"
    ))
    .and_then(|mut s| s.query_row([value], from_row).optional())
    .map_err(backend)?
    .ok_or(StoreError::NotFound)
}

pub(super) fn get(c: &Connection, id: &str) -> StoreResult<Account> {
    find(c, "id", id)
}

pub(super) fn by_email(c: &Connection, email: &str) -> StoreResult<Account> {
    find(c, "email", email)
}

pub(super) fn by_pk(c: &Connection, pk: &str) -> StoreResult<Account> {
    find(c, "authentiq_pk", pk)
}

pub(super) fn list(c: &Connection) -> StoreResult<Vec<Account>> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY created_at, email"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([], from_row).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

fn is_active_admin(a: &Account) -> bool {
    a.role == "admin" && a.deactivated_at.is_none()
}

/// Refuses to leave no active admin: `before` becomes `after` (or goes).
fn keep_an_admin(c: &Connection, before: &Account, after: Option<&Account>) -> StoreResult<()> {
    if !is_active_admin(before) || after.is_some_and(is_active_admin) {
        return Ok(());
    }
    let others: i64 = c
        .query_row(
            "SELECT count(*) FROM accounts WHERE role = 'admin' AND deactivated_at IS NULL AND id != ?1",
            [&before.id],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if others == 0 {
        return Err(StoreError::Conflict("last-admin"));
    }
    Ok(())
}

/// Inside the caller's write transaction.
pub(super) fn update(c: &Connection, a: &Account) -> StoreResult<()> {
    let before = get(c, &a.id)?;
    keep_an_admin(c, &before, Some(a))?;
    c.exec(
        "UPDATE accounts SET role = ?2, deactivated_at = ?3, password_hash = ?4, authentiq_pk = ?5
         WHERE id = ?1",
        params![
            a.id,
            a.role,
            a.deactivated_at,
            a.password_hash,
            a.authentiq_pk
        ],
    )
    .map_err(conflict_or_backend("duplicate-pk"))?;
    Ok(())
}

/// Inside the caller's write transaction.
pub(super) fn delete(c: &Connection, id: &str) -> StoreResult<()> {
    let before = get(c, id)?;
    keep_an_admin(c, &before, None)?;
    c.exec("DELETE FROM clients WHERE owner = ?1", [id])
        .map_err(backend)?;
    c.exec("DELETE FROM account_sessions WHERE account_id = ?1", [id])
        .map_err(backend)?;
    c.exec("DELETE FROM accounts WHERE id = ?1", [id])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn insert_session(
    c: &Connection,
    id: &str,
    account_id: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO account_sessions (id, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, account_id, now, expires_at],
    )
    .map_err(conflict_or_backend("duplicate-session"))?;
    Ok(())
}

pub(super) fn session(c: &Connection, id: &str, now: i64) -> StoreResult<String> {
    c.prepare_cached("SELECT account_id FROM account_sessions WHERE id = ?1 AND expires_at > ?2")
        .and_then(|mut s| s.query_row(params![id, now], |r| r.get(0)).optional())
        .map_err(backend)?
        .ok_or(StoreError::NotFound)
}

pub(super) fn delete_session(c: &Connection, id: &str) -> StoreResult<()> {
    c.exec("DELETE FROM account_sessions WHERE id = ?1", [id])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn delete_sessions(
    c: &Connection,
    account_id: &str,
    except: Option<&str>,
) -> StoreResult<()> {
    c.exec(
        "DELETE FROM account_sessions WHERE account_id = ?1 AND id IS NOT ?2",
        params![account_id, except],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn insert_initial_access_token(
    c: &Connection,
    id: &str,
    uses: u32,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO initial_access_tokens (id, uses_left, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, uses, now, expires_at],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn use_initial_access_token(c: &Connection, id: &str, now: i64) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE initial_access_tokens SET uses_left = uses_left - 1
             WHERE id = ?1 AND uses_left > 0 AND expires_at > ?2",
            params![id, now],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
