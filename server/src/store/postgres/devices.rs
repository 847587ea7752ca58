//! The devices of an identity (see [`crate::store::devices`]).
//!
//! What spans rows runs under advisory locks: [`Lock::Identity`] on the
//! identity while its devices change (the last-device check holds), and
//! [`Lock::NewKey`] on a key about to become an ID or a device (no key
//! becomes both at once).

use postgres::Row;

use super::conn::{Sql, Tx};

use super::{Lock, PostgresStore, backend, conflict_or_backend, lock};
use crate::store::devices::{DeviceRecord, DeviceStore, FIRST_DEVICE, TOUCH_INTERVAL};
use crate::store::{KeyRecord, StoreError, StoreResult};

const COLUMNS: &str = "pk, id_pk, name, added_at, last_used_at, revoked_at";

fn from_row(r: &Row) -> StoreResult<DeviceRecord> {
    let device = || -> Result<DeviceRecord, postgres::Error> {
        Ok(DeviceRecord {
            pk: r.try_get(0)?,
            id_pk: r.try_get(1)?,
            name: r.try_get(2)?,
            added_at: r.try_get(3)?,
            last_used_at: r.try_get(4)?,
            revoked_at: r.try_get(5)?,
        })
    };
    device().map_err(backend)
}

fn exists(
    c: &mut impl Sql,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> StoreResult<bool> {
    c.query_one(sql, params)
        .and_then(|r| r.try_get(0))
        .map_err(backend)
}

/// A key is free to become a device when it is neither a device nor an ID.
fn key_is_free(t: &mut Tx<'_>, pk: &str) -> StoreResult<()> {
    lock(t, Lock::NewKey, pk)?;
    let taken = exists(
        t,
        "SELECT EXISTS (SELECT 1 FROM keys WHERE pk = $1)
             OR EXISTS (SELECT 1 FROM devices WHERE pk = $1)",
        &[&pk],
    )?;
    if taken {
        return Err(StoreError::Conflict("duplicate-key"));
    }
    Ok(())
}

fn insert(c: &mut impl Sql, d: &DeviceRecord) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO devices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &d.pk,
            &d.id_pk,
            &d.name,
            &d.added_at,
            &d.last_used_at,
            &d.revoked_at,
        ],
    )
    .map_err(conflict_or_backend("duplicate-key"))?;
    Ok(())
}

/// Locks the identity, then checks it is live.
fn lock_live_identity(t: &mut Tx<'_>, id_pk: &str) -> StoreResult<()> {
    lock(t, Lock::Identity, id_pk)?;
    let live = exists(
        t,
        "SELECT EXISTS (SELECT 1 FROM keys WHERE pk = $1 AND revoked_at IS NULL)",
        &[&id_pk],
    )?;
    if !live {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The first device of a newly registered key: the key itself (in the
/// registration's transaction, which holds the key's [`Lock::NewKey`]).
pub(super) fn insert_first(c: &mut impl Sql, key: &KeyRecord) -> StoreResult<()> {
    insert(
        c,
        &DeviceRecord {
            pk: key.pk.clone(),
            id_pk: key.pk.clone(),
            name: FIRST_DEVICE.into(),
            added_at: key.registered_at,
            last_used_at: None,
            revoked_at: key.revoked_at,
        },
    )
}

/// Every device of a revoked identity goes with it (in its transaction,
/// which holds the identity's lock).
pub(super) fn revoke_all(c: &mut impl Sql, id_pk: &str, at: i64) -> StoreResult<Vec<String>> {
    c.query(
        "UPDATE devices SET revoked_at = $2 WHERE id_pk = $1 AND revoked_at IS NULL RETURNING pk",
        &[&id_pk, &at],
    )
    .map_err(backend)?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()
    .map_err(backend)
}

impl DeviceStore for PostgresStore {
    fn get_device(&self, pk: &str) -> StoreResult<DeviceRecord> {
        self.auto(|c| {
            let row = c
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM devices WHERE pk = $1"),
                    &[&pk],
                )
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
            from_row(&row)
        })
    }

    fn list_devices(&self, id_pk: &str) -> StoreResult<Vec<DeviceRecord>> {
        self.auto(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM devices WHERE id_pk = $1 AND revoked_at IS NULL
                     ORDER BY added_at, pk"
                ),
                &[&id_pk],
            )
            .map_err(backend)?
            .iter()
            .map(from_row)
            .collect()
        })
    }

    fn add_device(&self, device: &DeviceRecord) -> StoreResult<()> {
        self.tx(|t| {
            lock_live_identity(t, &device.id_pk)?;
            key_is_free(t, &device.pk)?;
            insert(t, device)
        })
    }

    fn rename_device(&self, pk: &str, name: &str) -> StoreResult<()> {
        self.auto(|c| {
            let n = c
                .execute(
                    "UPDATE devices SET name = $2 WHERE pk = $1 AND revoked_at IS NULL",
                    &[&pk, &name],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn remove_device(&self, pk: &str, at: i64) -> StoreResult<()> {
        self.tx(|t| {
            let id_pk: String = t
                .query_opt(
                    "SELECT id_pk FROM devices WHERE pk = $1 AND revoked_at IS NULL",
                    &[&pk],
                )
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?
                .try_get(0)
                .map_err(backend)?;
            lock(t, Lock::Identity, &id_pk)?;
            // Read again under the lock: a concurrent removal may have won.
            let active: Vec<String> = t
                .query(
                    "SELECT pk FROM devices WHERE id_pk = $1 AND revoked_at IS NULL",
                    &[&id_pk],
                )
                .map_err(backend)?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            if !active.iter().any(|d| d == pk) {
                return Err(StoreError::NotFound);
            }
            if active.len() == 1 {
                return Err(StoreError::Conflict("last-device"));
            }
            t.execute(
                "UPDATE devices SET revoked_at = $2 WHERE pk = $1 AND revoked_at IS NULL",
                &[&pk, &at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn touch_device(&self, pk: &str, now: i64) -> StoreResult<()> {
        self.auto(|c| {
            c.execute(
                "UPDATE devices SET last_used_at = $2
                 WHERE pk = $1 AND (last_used_at IS NULL OR last_used_at < $2::BIGINT - $3::BIGINT)",
                &[&pk, &now, &TOUCH_INTERVAL],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn recover_identity(
        &self,
        device: &DeviceRecord,
        secret_hash: &[u8],
        at: i64,
    ) -> StoreResult<Vec<String>> {
        self.tx(|t| {
            lock_live_identity(t, &device.id_pk)?;
            key_is_free(t, &device.pk)?;
            let removed = revoke_all(t, &device.id_pk, at)?;
            insert(t, device)?;
            t.execute(
                "UPDATE keys SET secret_hash = $2 WHERE pk = $1",
                &[&device.id_pk, &secret_hash],
            )
            .map_err(backend)?;
            Ok(removed)
        })
    }
}
