//! The embedded default: one SQLite file in WAL mode with
//! `synchronous = FULL`, so an acknowledged write survives a crash.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::{
    GrantRecord, Job, JobStatus, KeyRecord, RateDecision, Record, RevokeCode, Store, StoreError,
    StoreResult, StoredEvent,
};

/// Numbered migrations, embedded; `PRAGMA user_version` records the last applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_oidc.sql")),
];

const READERS: usize = 4;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// One writer connection and a few readers (WAL lets them read while it writes).
#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(backend)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Backend(format!("migration {version}: {e}")))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = open(path)?;
        migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open(path).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Backend("writer lock poisoned".into()))?;
        f(&mut conn)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        // Take an idle reader if one is free, else wait on the next in turn.
        for r in &self.readers {
            if let Ok(conn) = r.try_lock() {
                return f(&conn);
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i]
            .lock()
            .map_err(|_| StoreError::Backend("reader lock poisoned".into()))?;
        f(&conn)
    }
}

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

const KEY_COLUMNS: &str =
    "pk, secret_hash, devtoken, registered_at, revoked_at, email_hash, phone_hash";

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        kind: r.get(0)?,
        id: r.get(1)?,
        family: r.get(2)?,
        data: r.get(3)?,
        used: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

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

impl Store for SqliteStore {
    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
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
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::Conflict("duplicate-key")
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
    }

    fn get_key(&self, pk: &str) -> StoreResult<KeyRecord> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE pk = ?1"),
                [pk],
                key_from_row,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn revoke_key(&self, pk: &str, at: i64) -> StoreResult<()> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .execute(
                    "UPDATE keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE pk = ?1",
                    params![pk, at],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            tx.execute("DELETE FROM jobs WHERE pk = ?1", [pk])
                .map_err(backend)?;
            tx.execute("DELETE FROM revoke_codes WHERE pk = ?1", [pk])
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    fn bind_key(
        &self,
        pk: &str,
        email_hash: Option<&[u8]>,
        phone_hash: Option<&[u8]>,
    ) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .execute(
                    "UPDATE keys SET email_hash = COALESCE(?2, email_hash),
                                     phone_hash = COALESCE(?3, phone_hash)
                     WHERE pk = ?1 AND revoked_at IS NULL",
                    params![pk, email_hash, phone_hash],
                )
                .map_err(|e| {
                    if is_constraint(&e) {
                        StoreError::Conflict("duplicate-hash")
                    } else {
                        backend(e)
                    }
                })?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn find_key_by_email(&self, email_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM keys WHERE email_hash = ?1 AND revoked_at IS NULL"
                ),
                params![email_hash],
                key_from_row,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn find_key_by_binding(&self, email_hash: &[u8], phone_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.read(|c| {
            c.query_row(
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
        })
    }

    fn insert_grant(&self, g: &GrantRecord) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
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
        })
    }

    fn has_grant(&self, pk: &str, scope: &str, value_hash: &[u8], now: i64) -> StoreResult<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM grants
                 WHERE pk = ?1 AND scope = ?2 AND value_hash = ?3 AND expires_at > ?4)",
                params![pk, scope, value_hash, now],
                |r| r.get(0),
            )
            .map_err(backend)
        })
    }

    fn insert_job(&self, j: &Job) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO jobs (id, pk, scope, value, value_hash, code_hash, attempts, status,
                                   test, created_at, expires_at, grant_jwt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::Conflict("duplicate-job")
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
    }

    fn get_job(&self, id: &str, now: i64) -> StoreResult<Job> {
        let (mut job, status) = self.read(|c| {
            c.query_row(
                "SELECT id, pk, scope, value, value_hash, code_hash, attempts, status, test,
                        created_at, expires_at, grant_jwt
                 FROM jobs WHERE id = ?1 AND expires_at > ?2",
                params![id, now],
                job_from_row,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })?;
        job.status = JobStatus::parse(&status)?;
        Ok(job)
    }

    fn update_job(&self, j: &Job) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .execute(
                    "UPDATE jobs SET attempts = ?2, status = ?3, expires_at = ?4, grant_jwt = ?5
                     WHERE id = ?1",
                    params![
                        j.id,
                        j.attempts,
                        j.status.as_str(),
                        j.expires_at,
                        j.grant_jwt
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn delete_job(&self, id: &str) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .execute("DELETE FROM jobs WHERE id = ?1", [id])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn put_revoke_code(&self, code: &RevokeCode) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO revoke_codes (pk, code_hash, attempts, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (pk) DO UPDATE SET code_hash = ?2, attempts = ?3, expires_at = ?4",
                params![code.pk, code.code_hash, code.attempts, code.expires_at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn get_revoke_code(&self, pk: &str, now: i64) -> StoreResult<RevokeCode> {
        self.read(|c| {
            c.query_row(
                "SELECT pk, code_hash, attempts, expires_at FROM revoke_codes
                 WHERE pk = ?1 AND expires_at > ?2",
                params![pk, now],
                |r| {
                    Ok(RevokeCode {
                        pk: r.get(0)?,
                        code_hash: r.get(1)?,
                        attempts: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn update_revoke_code(&self, code: &RevokeCode) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "UPDATE revoke_codes SET attempts = ?2 WHERE pk = ?1",
                params![code.pk, code.attempts],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn delete_revoke_code(&self, pk: &str) -> StoreResult<()> {
        self.write(|c| {
            c.execute("DELETE FROM revoke_codes WHERE pk = ?1", [pk])
                .map_err(backend)?;
            Ok(())
        })
    }

    fn use_jti(&self, id: &str, expires_at: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO used_jtis (id, expires_at) VALUES (?1, ?2)",
                params![id, expires_at],
            )
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::Conflict("replayed")
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
    }

    fn rate_hit(
        &self,
        bucket: &str,
        limit: u32,
        window: u64,
        now: i64,
    ) -> StoreResult<RateDecision> {
        let window = i64::try_from(window).unwrap_or(i64::MAX);
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let row: Option<(i64, u32)> = tx
                .query_row(
                    "SELECT window_start, count FROM rate_buckets WHERE bucket = ?1",
                    [bucket],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            let decision = match row {
                Some((start, count)) if start.saturating_add(window) > now => {
                    if count >= limit {
                        let wait = start.saturating_add(window).saturating_sub(now);
                        RateDecision::Limited {
                            retry_after: u64::try_from(wait).unwrap_or(1).max(1),
                        }
                    } else {
                        tx.execute(
                            "UPDATE rate_buckets SET count = count + 1 WHERE bucket = ?1",
                            [bucket],
                        )
                        .map_err(backend)?;
                        RateDecision::Allowed
                    }
                }
                _ if limit == 0 => RateDecision::Limited {
                    retry_after: u64::try_from(window).unwrap_or(1).max(1),
                },
                _ => {
                    tx.execute(
                        "INSERT INTO rate_buckets (bucket, window_start, count) VALUES (?1, ?2, 1)
                         ON CONFLICT (bucket) DO UPDATE SET window_start = ?2, count = 1",
                        params![bucket, now],
                    )
                    .map_err(backend)?;
                    RateDecision::Allowed
                }
            };
            tx.commit().map_err(backend)?;
            Ok(decision)
        })
    }

    fn insert_event(
        &self,
        pk: &str,
        kind: &str,
        data: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO events (pk, kind, data, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![pk, kind, data, now, expires_at],
            )
            .map_err(backend)?;
            Ok(c.last_insert_rowid())
        })
    }

    fn events_after(&self, pk: &str, after: i64, now: i64) -> StoreResult<Vec<StoredEvent>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, pk, kind, data, expires_at FROM events
                     WHERE pk = ?1 AND id > ?2 AND expires_at > ?3 ORDER BY id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![pk, after, now], |r| {
                    Ok(StoredEvent {
                        id: r.get(0)?,
                        pk: r.get(1)?,
                        kind: r.get(2)?,
                        data: r.get(3)?,
                        expires_at: r.get(4)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    fn insert_client(&self, client_id: &str, data: &str, now: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO clients (client_id, data, created_at) VALUES (?1, ?2, ?3)",
                params![client_id, data, now],
            )
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::Conflict("duplicate-client")
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
    }

    fn get_client(&self, client_id: &str) -> StoreResult<String> {
        self.read(|c| {
            c.query_row(
                "SELECT data FROM clients WHERE client_id = ?1",
                [client_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        self.write(|c| {
            match c
                .execute("DELETE FROM clients WHERE client_id = ?1", [client_id])
                .map_err(backend)?
            {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
    }

    fn list_clients(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT client_id, data FROM clients ORDER BY created_at")
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
    }

    fn put_record(&self, r: &Record) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO records (kind, id, family, data, used, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (kind, id) DO UPDATE
                 SET family = ?3, data = ?4, used = ?5, expires_at = ?6",
                params![r.kind, r.id, r.family, r.data, r.used, r.expires_at],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn replace_record(
        &self,
        kind: &str,
        id: &str,
        old_data: &str,
        new_data: &str,
    ) -> StoreResult<()> {
        self.write(|c| {
            let n = c
                .execute(
                    "UPDATE records SET data = ?4 WHERE kind = ?1 AND id = ?2 AND data = ?3 AND used = 0",
                    params![kind, id, old_data, new_data],
                )
                .map_err(backend)?;
            if n == 1 { Ok(()) } else { Err(StoreError::Conflict("changed")) }
        })
    }

    fn get_record(&self, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
        self.read(|c| {
            c.query_row(
                "SELECT kind, id, family, data, used, expires_at FROM records
                 WHERE kind = ?1 AND id = ?2 AND expires_at > ?3
                   AND family NOT IN (SELECT family FROM revoked_families)",
                params![kind, id, now],
                record_from_row,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn use_record(&self, kind: &str, id: &str, now: i64, keep_data: bool) -> StoreResult<Record> {
        self.write(|c| {
            let tx = c.transaction().map_err(backend)?;
            let rec = tx
                .query_row(
                    "SELECT kind, id, family, data, used, expires_at FROM records
                     WHERE kind = ?1 AND id = ?2 AND expires_at > ?3
                       AND family NOT IN (SELECT family FROM revoked_families)",
                    params![kind, id, now],
                    record_from_row,
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound)?;
            if rec.used {
                return Err(StoreError::Conflict("already-used"));
            }
            tx.execute(
                "UPDATE records SET used = 1, data = CASE WHEN ?3 THEN data ELSE '' END
                 WHERE kind = ?1 AND id = ?2",
                params![kind, id, keep_data],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(rec)
        })
    }

    fn record_family(&self, kind: &str, id: &str) -> StoreResult<String> {
        self.read(|c| {
            c.query_row(
                "SELECT family FROM records WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn revoke_family(&self, family: &str, until: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO revoked_families (family, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (family) DO UPDATE SET expires_at = MAX(expires_at, ?2)",
                params![family, until],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    fn purge_expired(&self, now: i64) -> StoreResult<()> {
        self.write(|c| {
            c.execute_batch(&format!(
                "DELETE FROM records WHERE expires_at <= {now};
                 DELETE FROM revoked_families WHERE expires_at <= {now};
                 DELETE FROM jobs WHERE expires_at <= {now};
                 DELETE FROM revoke_codes WHERE expires_at <= {now};
                 DELETE FROM used_jtis WHERE expires_at <= {now};
                 DELETE FROM events WHERE expires_at <= {now};
                 DELETE FROM grants WHERE expires_at <= {now};"
            ))
            .map_err(backend)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        (dir, s)
    }

    fn key(pk: &str) -> KeyRecord {
        KeyRecord {
            pk: pk.into(),
            secret_hash: vec![1; 32],
            devtoken: None,
            registered_at: 100,
            revoked_at: None,
            email_hash: None,
            phone_hash: None,
        }
    }

    #[test]
    fn keys_insert_get_conflict_revoke() {
        let (_d, s) = store();
        s.insert_key(&key("a")).unwrap();
        assert!(matches!(
            s.insert_key(&key("a")),
            Err(StoreError::Conflict("duplicate-key"))
        ));
        assert_eq!(s.get_key("a").unwrap(), key("a"));
        assert!(matches!(s.get_key("b"), Err(StoreError::NotFound)));
        s.revoke_key("a", 200).unwrap();
        s.revoke_key("a", 300).unwrap();
        assert_eq!(s.get_key("a").unwrap().revoked_at, Some(200));
        assert!(matches!(s.revoke_key("b", 1), Err(StoreError::NotFound)));
    }

    #[test]
    fn a_binding_belongs_to_one_active_key() {
        let (_d, s) = store();
        s.insert_key(&key("a")).unwrap();
        s.insert_key(&key("b")).unwrap();
        s.bind_key("a", Some(b"e"), Some(b"p")).unwrap();
        s.bind_key("a", Some(b"e"), None).unwrap();
        assert!(matches!(
            s.bind_key("b", Some(b"e"), None),
            Err(StoreError::Conflict("duplicate-hash"))
        ));
        assert_eq!(s.find_key_by_binding(b"e", b"p").unwrap().pk, "a");
        s.revoke_key("a", 5).unwrap();
        assert!(matches!(
            s.find_key_by_binding(b"e", b"p"),
            Err(StoreError::NotFound)
        ));
        s.bind_key("b", Some(b"e"), None).unwrap();
    }

    #[test]
    fn jtis_are_single_use() {
        let (_d, s) = store();
        s.use_jti("k:1", 100).unwrap();
        assert!(matches!(
            s.use_jti("k:1", 100),
            Err(StoreError::Conflict("replayed"))
        ));
        s.purge_expired(101).unwrap();
        s.use_jti("k:1", 200).unwrap();
    }

    #[test]
    fn rate_limit_window() {
        let (_d, s) = store();
        assert_eq!(s.rate_hit("x", 2, 60, 1000).unwrap(), RateDecision::Allowed);
        assert_eq!(s.rate_hit("x", 2, 60, 1010).unwrap(), RateDecision::Allowed);
        assert_eq!(
            s.rate_hit("x", 2, 60, 1020).unwrap(),
            RateDecision::Limited { retry_after: 40 }
        );
        assert_eq!(s.rate_hit("y", 2, 60, 1020).unwrap(), RateDecision::Allowed);
        assert_eq!(s.rate_hit("x", 2, 60, 1060).unwrap(), RateDecision::Allowed);
    }

    #[test]
    fn events_replay_after_an_id_until_expiry() {
        let (_d, s) = store();
        let a = s.insert_event("k", "sign-in", "jwt1", 10, 100).unwrap();
        let b = s.insert_event("k", "scope", "jwt2", 10, 50).unwrap();
        s.insert_event("other", "scope", "jwt3", 10, 100).unwrap();
        assert!(b > a);
        let all: Vec<_> = s
            .events_after("k", 0, 20)
            .unwrap()
            .into_iter()
            .map(|e| e.data)
            .collect();
        assert_eq!(all, ["jwt1", "jwt2"]);
        let later: Vec<_> = s
            .events_after("k", a, 20)
            .unwrap()
            .into_iter()
            .map(|e| e.data)
            .collect();
        assert_eq!(later, ["jwt2"]);
        let after_expiry: Vec<_> = s
            .events_after("k", 0, 60)
            .unwrap()
            .into_iter()
            .map(|e| e.data)
            .collect();
        assert_eq!(after_expiry, ["jwt1"]);
    }

    fn rec(id: &str, family: &str) -> Record {
        Record {
            kind: "code".into(),
            id: id.into(),
            family: family.into(),
            data: "{}".into(),
            used: false,
            expires_at: 100,
        }
    }

    #[test]
    fn records_are_single_use_and_families_revoke_together() {
        let (_d, s) = store();
        s.put_record(&rec("c1", "f1")).unwrap();
        s.put_record(&Record {
            kind: "refresh".into(),
            ..rec("r1", "f1")
        })
        .unwrap();
        s.put_record(&rec("c2", "f2")).unwrap();
        let used = s.use_record("code", "c1", 10, false).unwrap();
        assert_eq!((used.family.as_str(), used.data.as_str()), ("f1", "{}"));
        // Spent: only the family is left, for reuse detection.
        let spent = s.get_record("code", "c1", 10).unwrap();
        assert!(spent.used && spent.data.is_empty(), "{spent:?}");
        assert_eq!(s.record_family("code", "c1").unwrap(), "f1");
        assert!(matches!(
            s.use_record("code", "c1", 10, false),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.use_record("code", "c1", 200, false),
            Err(StoreError::NotFound)
        ));
        // Compare-and-swap: only from the data it was read with.
        s.replace_record("code", "c2", "{}", "{\"a\":1}").unwrap();
        assert!(matches!(
            s.replace_record("code", "c2", "{}", "{\"a\":2}"),
            Err(StoreError::Conflict(_))
        ));
        assert!(
            matches!(
                s.replace_record("code", "c1", "{}", "{}"),
                Err(StoreError::Conflict(_))
            ),
            "used"
        );
        s.revoke_family("f1", 500).unwrap();
        assert!(matches!(
            s.get_record("refresh", "r1", 10),
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.record_family("refresh", "r1").unwrap(), "f1");
        assert!(s.get_record("code", "c2", 10).is_ok());
    }

    #[test]
    fn reopening_keeps_data_and_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        SqliteStore::open(&path)
            .unwrap()
            .insert_key(&key("a"))
            .unwrap();
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.get_key("a").unwrap().pk, "a");
    }
}
