//! What `authentiq-server account …` does, against the store directly (the
//! server may be running: no data directory lock is taken).

use crate::secrets::normalize_email;
use crate::store::{Account, Store, StoreError};

use super::{Role, password};

fn now() -> i64 {
    crate::clock::Clock::default().now()
}

/// Adds an account; the password comes from the caller (stdin), never an argument.
pub async fn add(
    store: &dyn Store,
    email: &str,
    role: Role,
    password: String,
) -> anyhow::Result<Account> {
    let email =
        normalize_email(email).ok_or_else(|| anyhow::anyhow!("not a valid email: {email}"))?;
    password::check(&password).map_err(|e| anyhow::anyhow!(e.detail))?;
    let hash = password::hash(password)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail))?;
    let account = Account {
        id: crate::secrets::new_job_id(),
        email,
        password_hash: hash,
        role: role.as_str().into(),
        deactivated_at: None,
        authentiq_pk: None,
        created_at: now(),
    };
    match store.insert_account(&account) {
        Ok(()) => Ok(account),
        Err(StoreError::Conflict(_)) => anyhow::bail!("an account with this email exists"),
        Err(e) => anyhow::bail!("cannot add the account: {e}"),
    }
}

fn find(store: &dyn Store, email: &str) -> anyhow::Result<Account> {
    let email =
        normalize_email(email).ok_or_else(|| anyhow::anyhow!("not a valid email: {email}"))?;
    match store.find_account_by_email(&email) {
        Ok(a) => Ok(a),
        Err(StoreError::NotFound) => anyhow::bail!("no account has the email {email}"),
        Err(e) => anyhow::bail!("{e}"),
    }
}

fn save(store: &dyn Store, account: &Account) -> anyhow::Result<()> {
    match store.update_account(account) {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict("last-admin")) => {
            anyhow::bail!("this is the last active admin: make another admin first")
        }
        Err(e) => anyhow::bail!("{e}"),
    }
}

pub fn set_role(store: &dyn Store, email: &str, role: Role) -> anyhow::Result<Account> {
    let mut a = find(store, email)?;
    a.role = role.as_str().into();
    save(store, &a)?;
    Ok(a)
}

/// Deactivates (or, with `active`, reactivates) an account; its sessions end.
pub fn set_active(store: &dyn Store, email: &str, active: bool) -> anyhow::Result<Account> {
    let mut a = find(store, email)?;
    a.deactivated_at = if active { None } else { Some(now()) };
    save(store, &a)?;
    if !active {
        store
            .delete_account_sessions(&a.id, None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(a)
}
