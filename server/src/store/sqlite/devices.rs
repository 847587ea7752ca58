//! The devices of an identity (see [`crate::store::devices`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Cached, SqliteStore, backend, conflict_or_backend};
use crate::store::devices::{DeviceRecord, DeviceStore, FIRST_DEVICE, TOUCH_INTERVAL};
use crate::store::{KeyRecord, StoreError, StoreResult};

const COLUMNS: &str = "pk, id_pk, name, added_at, last_used_at, revoked_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        pk: r.get(0)?,
        id_pk: r.get(1)?,
        name: r.get(2)?,
        added_at: r.get(3)?,
        last_used_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

/// A key is free to become a device when it is neither a device nor an ID.
fn key_is_free(c: &Connection, pk: &str) -> StoreResult<()> {
    let taken: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM keys WHERE pk = ?1)
                 OR EXISTS (SELECT 1 FROM devices WHERE pk = ?1)",
            [pk],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if taken {
        return Err(StoreError::Conflict("duplicate-key"));
    }
    Ok(())
}

fn insert(c: &Connection, d: &DeviceRecord) -> StoreResult<()> {
    c.exec(
        &format!("INSERT INTO devices ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            d.pk,
            d.id_pk,
            d.name,
            d.added_at,
            d.last_used_at,
            d.revoked_at
        ],
    )
    .map_err(conflict_or_backend("duplicate-key"))?;
    Ok(())
}

fn identity_is_live(c: &Connection, id_pk: &str) -> StoreResult<()> {
    let live: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM keys WHERE pk = ?1 AND revoked_at IS NULL)",
            [id_pk],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if !live {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The first device of a newly registered key: the key itself (in the
/// registration's transaction).
pub(super) fn insert_first(c: &Connection, key: &KeyRecord) -> StoreResult<()> {
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

/// Every device of a revoked identity goes with it (in its transaction).
pub(super) fn revoke_all(c: &Connection, id_pk: &str, at: i64) -> StoreResult<Vec<String>> {
    let removed = c
        .prepare_cached("SELECT pk FROM devices WHERE id_pk = ?1 AND revoked_at IS NULL")
        .and_then(|mut s| {
            s.query_map([id_pk], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    c.exec(
        "UPDATE devices SET revoked_at = ?2 WHERE id_pk = ?1 AND revoked_at IS NULL",
        params![id_pk, at],
    )
    .map_err(backend)?;
    Ok(removed)
}

impl DeviceStore for SqliteStore {
    fn get_device(&self, pk: &str) -> StoreResult<DeviceRecord> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM devices WHERE pk = ?1"))
                .and_then(|mut s| s.query_row([pk], from_row).optional())
                .map_err(backend)?
                .ok_or(StoreError::NotFound)
        })
    }

    fn list_devices(&self, id_pk: &str) -> StoreResult<Vec<DeviceRecord>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM devices WHERE id_pk = ?1 AND revoked_at IS NULL
                 ORDER BY added_at, rowid"
            ))
            .and_then(|mut s| {
                s.query_map([id_pk], from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(backend)
        })
    }

    fn add_device(&self, device: &DeviceRecord) -> StoreResult<()> {
        self.in_tx(|c| {
            identity_is_live(c, &device.id_pk)?;
            key_is_free(c, &device.pk)?;
            insert(c, device)
        })
    }

    fn rename_device(&self, pk: &str, name: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .execute(
                    "UPDATE devices SET name = ?2 WHERE pk = ?1 AND revoked_at IS NULL",
                    params![pk, name],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn remove_device(&self, pk: &str, at: i64) -> StoreResult<()> {
        self.in_tx(|c| {
            let others: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM devices o JOIN devices d ON o.id_pk = d.id_pk
                     WHERE d.pk = ?1 AND d.revoked_at IS NULL
                       AND o.pk <> ?1 AND o.revoked_at IS NULL",
                    [pk],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let active: bool = c
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM devices WHERE pk = ?1 AND revoked_at IS NULL)",
                    [pk],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if !active {
                return Err(StoreError::NotFound);
            }
            if others == 0 {
                return Err(StoreError::Conflict("last-device"));
            }
            c.exec(
                "UPDATE devices SET revoked_at = ?2 WHERE pk = ?1 AND revoked_at IS NULL",
                params![pk, at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn touch_device(&self, pk: &str, now: i64) -> StoreResult<()> {
        self.write(|c| {
            c.exec(
                "UPDATE devices SET last_used_at = ?2
                 WHERE pk = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - ?3)",
                params![pk, now, TOUCH_INTERVAL],
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
        self.in_tx(|c| {
            identity_is_live(c, &device.id_pk)?;
            key_is_free(c, &device.pk)?;
            let removed = revoke_all(c, &device.id_pk, at)?;
            insert(c, device)?;
            c.exec(
                "UPDATE keys SET secret_hash = ?2 WHERE pk = ?1",
                params![device.id_pk, secret_hash],
            )
            .map_err(backend)?;
            Ok(removed)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code

    use super::super::{MIGRATIONS, SqliteStore, open};
    use crate::store::DeviceStore;

    #[test]
    fn every_existing_key_becomes_an_identity_with_one_device() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            // A database as it was before devices, with a live and a revoked key.
            let c = open(&path).unwrap();
            for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v < 9) {
                c.execute_batch(sql).unwrap();
                c.pragma_update(None, "user_version", v).unwrap();
            }
            c.execute_batch(
                "INSERT INTO keys (pk, secret_hash, registered_at, revoked_at)
                 VALUES ('a', x'00', 10, NULL), ('b', x'00', 20, 30);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let a = s.get_device("a").unwrap();
        assert_eq!(
            (a.id_pk.as_str(), a.added_at, a.revoked_at),
            ("a", 10, None)
        );
        let b = s.get_device("b").unwrap();
        assert_eq!((b.id_pk.as_str(), b.revoked_at), ("b", Some(30)));
        assert_eq!(s.list_devices("a").unwrap(), vec![a]);
        assert!(s.list_devices("b").unwrap().is_empty());
    }
}
