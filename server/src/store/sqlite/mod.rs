//! The embedded default: one SQLite file in WAL mode with
//! `synchronous = FULL`, so an acknowledged write survives a crash (and a
//! power loss); concurrent writes share a commit ([`writer`]).
//!
//! This file holds the connections, the migrations and the dispatch of the
//! [`Store`] trait; the SQL lives in one module per area.

mod accounts;
mod devices;
mod events;
mod key_material;
mod keys;
mod records;
#[cfg(test)]
mod tests;
mod writer;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::{
    Account, ClientSession, EventCount, EventFilter, GrantRecord, Job, KeyRecord, Outgoing,
    RateDecision, Record, RevokeCode, SecurityEvent, Store, StoreError, StoreResult, StoredEvent,
    Write,
};

/// Numbered migrations, embedded; `PRAGMA user_version` records the last applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_oidc.sql")),
    (3, include_str!("migrations/0003_hardening.sql")),
    (4, include_str!("migrations/0004_sessions.sql")),
    (5, include_str!("migrations/0005_accounts.sql")),
    (6, include_str!("migrations/0006_sdk.sql")),
    (7, include_str!("migrations/0007_backchannel.sql")),
    (8, include_str!("migrations/0008_key_material.sql")),
    (9, include_str!("migrations/0009_devices.sql")),
    (10, include_str!("migrations/0010_record_versions.sql")),
];

const READERS: usize = 4;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// `Conflict(what)` for a constraint violation, `Backend` otherwise.
fn conflict_or_backend(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| {
        if is_constraint(&e) {
            StoreError::Conflict(what)
        } else {
            backend(e)
        }
    }
}

/// One writer connection and a few readers (WAL lets them read while it writes).
#[derive(Debug)]
pub struct SqliteStore {
    writer: writer::Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Readers in use now (see [`Store::quick_reads`]).
    busy_readers: AtomicUsize,
    /// Whether the database is in WAL mode, where readers wait for no writer.
    wal: bool,
}

/// `execute` and `query_row` through the connection's statement cache: each
/// SQL text is parsed once per connection, not on every call.
trait Cached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Room for every statement of the store (about 100), so none is parsed
/// again after it fell out of the cache (rusqlite keeps 16 by default).
const STATEMENT_CACHE: usize = 192;

fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch("PRAGMA busy_timeout = 5000;")
        .map_err(backend)?;
    switch_to_wal(&conn)?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(backend)?;
    Ok(conn)
}

/// `PRAGMA journal_mode = WAL`, waiting for a process that opens the file
/// at the same moment: switching a new file needs an exclusive lock, and
/// SQLite answers "database is locked" at once there, without its busy
/// timeout.
fn switch_to_wal(conn: &Connection) -> StoreResult<()> {
    const WAIT: std::time::Duration = std::time::Duration::from_millis(5);
    let mut tries = 0;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) => {
                // SQLite keeps the old mode where WAL cannot work (no shared
                // memory on the file system): durable still, but readers
                // then wait for the writer.
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(%mode, "SQLite cannot use WAL for this database");
                }
                return Ok(());
            }
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && tries < 1000 =>
            {
                tries += 1;
                std::thread::sleep(WAIT);
            }
            Err(e) => return Err(backend(e)),
        }
    }
}

/// Applies the pending migrations in one exclusive transaction, reading
/// the schema version inside it: two processes starting at once on one
/// file apply each migration once (the second waits, then finds nothing
/// to do).
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(backend)?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Backend(format!("migration {version}: {e}")))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(backend)?;
        applied.push(*version);
    }
    tx.commit().map_err(backend)?;
    for version in applied {
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
        let mode: String = writer
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(backend)?;
        Ok(Self {
            writer: writer::Writer::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            busy_readers: AtomicUsize::new(0),
            wal: mode.eq_ignore_ascii_case("wal"),
        })
    }

    /// Runs `f` as one write (all of it or nothing), answered once committed.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.writer.write(f)
    }

    /// [`Self::write`]: every write is its own transaction (a savepoint in
    /// a group commit); the name says the reads in `f` matter.
    fn in_tx<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.writer.write(f)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.busy_readers.fetch_add(1, Ordering::SeqCst);
        let out = self.read_on_a_reader(f);
        self.busy_readers.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn read_on_a_reader<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
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

impl Store for SqliteStore {
    /// In WAL mode, while a reader is free: readers have connections of
    /// their own and wait for no writer then. Without WAL a read may wait
    /// for a commit, and with every reader busy (a long scan on the blocking
    /// pool) for that reader: not on an async thread.
    fn quick_reads(&self) -> bool {
        self.wal && self.busy_readers.load(Ordering::SeqCst) < self.readers.len()
    }

    fn get_key_material(&self, name: &str) -> StoreResult<(i64, String)> {
        self.read(|c| key_material::get(c, name))
    }

    fn put_key_material(
        &self,
        name: &str,
        expected: i64,
        value: &str,
        now: i64,
    ) -> StoreResult<i64> {
        self.in_tx(|c| key_material::put(c, name, expected, value, now))
    }

    fn key_material_versions(&self) -> StoreResult<Vec<(String, i64)>> {
        self.read(key_material::versions)
    }

    fn insert_key(&self, key: &KeyRecord, jti: Option<(&str, i64)>) -> StoreResult<()> {
        self.in_tx(|c| {
            if let Some((id, until)) = jti {
                keys::use_jti(c, id, until)?;
            }
            keys::insert_key(c, key)
        })
    }
    fn get_key(&self, pk: &str) -> StoreResult<KeyRecord> {
        self.read(|c| keys::get_key(c, pk))
    }
    fn revoke_key(&self, pk: &str, at: i64) -> StoreResult<()> {
        self.in_tx(|c| {
            keys::revoke_key(c, pk, at)?;
            records::revoke_families_of_key(c, pk, at + super::FAMILY_REVOCATION_TTL)
        })
    }
    fn revoke_families_of_key(&self, pk: &str, until: i64) -> StoreResult<()> {
        self.in_tx(|c| records::revoke_families_of_key(c, pk, until))
    }
    fn bind_key(&self, pk: &str, email: Option<&[u8]>, phone: Option<&[u8]>) -> StoreResult<()> {
        self.write(|c| keys::bind_key(c, pk, email, phone))
    }
    fn find_key_by_email(&self, email_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.read(|c| keys::find_key_by_email(c, email_hash))
    }
    fn find_key_by_binding(&self, email_hash: &[u8], phone_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.read(|c| keys::find_key_by_binding(c, email_hash, phone_hash))
    }
    fn insert_grant(&self, grant: &GrantRecord) -> StoreResult<()> {
        self.write(|c| keys::insert_grant(c, grant))
    }
    fn has_grant(&self, pk: &str, scope: &str, value_hash: &[u8], now: i64) -> StoreResult<bool> {
        self.read(|c| keys::has_grant(c, pk, scope, value_hash, now))
    }
    fn insert_job(&self, job: &Job) -> StoreResult<()> {
        self.write(|c| keys::insert_job(c, job))
    }
    fn get_job(&self, id: &str, now: i64) -> StoreResult<Job> {
        self.read(|c| keys::get_job(c, id, now))
    }
    fn attempt_job(&self, id: &str, max: u32, now: i64) -> StoreResult<Job> {
        self.in_tx(|c| keys::attempt_job(c, id, max, now))
    }
    fn update_job(&self, job: &Job) -> StoreResult<()> {
        self.write(|c| keys::update_job(c, job))
    }
    fn delete_job(&self, id: &str) -> StoreResult<()> {
        self.write(|c| keys::delete_job(c, id))
    }
    fn put_revoke_code(&self, code: &RevokeCode) -> StoreResult<()> {
        self.write(|c| keys::put_revoke_code(c, code))
    }
    fn attempt_revoke_code(&self, pk: &str, max: u32, now: i64) -> StoreResult<RevokeCode> {
        self.in_tx(|c| keys::attempt_revoke_code(c, pk, max, now))
    }
    fn delete_revoke_code(&self, pk: &str) -> StoreResult<()> {
        self.write(|c| keys::delete_revoke_code(c, pk))
    }
    fn use_jti(&self, id: &str, expires_at: i64) -> StoreResult<()> {
        self.write(|c| keys::use_jti(c, id, expires_at))
    }
    fn rate_hit(
        &self,
        bucket: &str,
        limit: u32,
        window: u64,
        now: i64,
    ) -> StoreResult<RateDecision> {
        self.in_tx(|c| events::rate_hit(c, bucket, limit, window, now))
    }
    fn insert_event(
        &self,
        pk: &str,
        kind: &str,
        data: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<i64> {
        self.write(|c| events::insert_event(c, pk, kind, data, now, expires_at))
    }
    fn events_after(&self, pk: &str, after: i64, now: i64) -> StoreResult<Vec<StoredEvent>> {
        self.read(|c| events::events_after(c, pk, after, now))
    }
    fn insert_client(
        &self,
        client_id: &str,
        data: &str,
        owner: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        self.write(|c| records::insert_client(c, client_id, data, owner, now))
    }
    fn update_client(&self, client_id: &str, data: &str) -> StoreResult<()> {
        self.write(|c| records::update_client(c, client_id, data))
    }
    fn list_clients_of(&self, owner: &str) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| records::list_clients_of(c, owner))
    }
    fn insert_account(&self, account: &Account) -> StoreResult<()> {
        self.write(|c| accounts::insert(c, account))
    }
    fn get_account(&self, id: &str) -> StoreResult<Account> {
        self.read(|c| accounts::get(c, id))
    }
    fn find_account_by_email(&self, email: &str) -> StoreResult<Account> {
        self.read(|c| accounts::by_email(c, email))
    }
    fn find_account_by_pk(&self, pk: &str) -> StoreResult<Account> {
        self.read(|c| accounts::by_pk(c, pk))
    }
    fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.read(accounts::list)
    }
    fn update_account(&self, account: &Account) -> StoreResult<()> {
        self.in_tx(|c| accounts::update(c, account))
    }
    fn delete_account(&self, id: &str) -> StoreResult<()> {
        self.in_tx(|c| accounts::delete(c, id))
    }
    fn insert_account_session(
        &self,
        id: &str,
        account_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.write(|c| accounts::insert_session(c, id, account_id, now, expires_at))
    }
    fn account_session(&self, id: &str, now: i64) -> StoreResult<String> {
        self.read(|c| accounts::session(c, id, now))
    }
    fn delete_account_session(&self, id: &str) -> StoreResult<()> {
        self.write(|c| accounts::delete_session(c, id))
    }
    fn delete_account_sessions(&self, account_id: &str, except: Option<&str>) -> StoreResult<()> {
        self.write(|c| accounts::delete_sessions(c, account_id, except))
    }
    fn remember_subject(&self, client_id: &str, sub: &str, pk: &str, now: i64) -> StoreResult<()> {
        self.write(|c| records::remember_subject(c, client_id, sub, pk, now))
    }
    fn find_subject(&self, client_id: &str, sub: &str) -> StoreResult<String> {
        self.read(|c| records::find_subject(c, client_id, sub))
    }
    fn insert_initial_access_token(
        &self,
        id: &str,
        uses: u32,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.write(|c| accounts::insert_initial_access_token(c, id, uses, now, expires_at))
    }
    fn use_initial_access_token(&self, id: &str, now: i64) -> StoreResult<()> {
        self.write(|c| accounts::use_initial_access_token(c, id, now))
    }
    fn rate_refund(&self, bucket: &str) -> StoreResult<()> {
        self.write(|c| events::rate_refund(c, bucket))
    }
    fn get_client(&self, client_id: &str) -> StoreResult<String> {
        self.read(|c| records::get_client(c, client_id))
    }
    fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        self.write(|c| records::delete_client(c, client_id))
    }
    fn list_clients(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(records::list_clients)
    }
    fn put_record(&self, r: &Record) -> StoreResult<()> {
        self.write(|c| records::put_record(c, r))
    }
    fn write_all(&self, writes: &[Write]) -> StoreResult<()> {
        self.in_tx(|c| {
            writes.iter().try_for_each(|w| match w {
                Write::ReplaceRecord {
                    kind,
                    id,
                    version,
                    data,
                } => records::replace_record(c, kind, id, *version, data),
                Write::SecurityEvent(e) => events::insert_security_event(c, e).map(|_| ()),
                Write::DeviceEvent(e) => {
                    events::insert_event(c, &e.pk, &e.kind, &e.data, e.now, e.expires_at)
                        .map(|_| ())
                }
            })
        })
    }
    fn get_record(&self, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
        self.read(|c| records::get_record(c, kind, id, now))
    }
    fn use_record(&self, kind: &str, id: &str, now: i64, keep_data: bool) -> StoreResult<Record> {
        self.in_tx(|c| records::use_record(c, kind, id, now, keep_data))
    }
    fn exchange(
        &self,
        kind: &str,
        id: &str,
        now: i64,
        keep_data: bool,
        issue: &[Record],
    ) -> StoreResult<Record> {
        self.in_tx(|c| {
            let spent = records::use_record(c, kind, id, now, keep_data)?;
            issue.iter().try_for_each(|r| records::put_record(c, r))?;
            Ok(spent)
        })
    }
    fn record_family(&self, kind: &str, id: &str) -> StoreResult<String> {
        self.read(|c| records::record_family(c, kind, id))
    }
    fn revoke_family(&self, family: &str, until: i64) -> StoreResult<()> {
        self.write(|c| records::revoke_family(c, family, until))
    }
    fn session_clients(&self, sid: &str, now: i64) -> StoreResult<Vec<String>> {
        self.read(|c| records::session_clients(c, sid, now))
    }
    fn key_sessions(&self, pk: &str, now: i64) -> StoreResult<Vec<ClientSession>> {
        self.read(|c| records::key_sessions(c, pk, now))
    }
    fn enqueue_outgoing(&self, item: &Outgoing) -> StoreResult<i64> {
        self.write(|c| events::enqueue_outgoing(c, item))
    }
    fn take_due_outgoing(&self, now: i64, lease: i64, limit: u32) -> StoreResult<Vec<Outgoing>> {
        self.in_tx(|c| events::take_due_outgoing(c, now, lease, limit))
    }
    fn outgoing_done(&self, id: i64) -> StoreResult<()> {
        self.write(|c| events::outgoing_done(c, id))
    }
    fn outgoing_failed(&self, id: i64, next_at: i64, error: &str) -> StoreResult<()> {
        self.write(|c| events::outgoing_failed(c, id, next_at, error))
    }
    fn list_outgoing(&self) -> StoreResult<Vec<Outgoing>> {
        self.read(events::list_outgoing)
    }
    fn insert_security_event(&self, event: &SecurityEvent) -> StoreResult<i64> {
        self.write(|c| events::insert_security_event(c, event))
    }
    fn count_security_events(&self, filter: &EventFilter) -> StoreResult<EventCount> {
        self.read(|c| events::count_security_events(c, filter))
    }
    fn list_security_events(
        &self,
        filter: &EventFilter,
        limit: u32,
    ) -> StoreResult<Vec<SecurityEvent>> {
        self.read(|c| events::list_security_events(c, filter, limit))
    }
    fn purge_expired(&self, now: i64) -> StoreResult<()> {
        let old_events = now - super::SECURITY_EVENT_RETENTION;
        self.in_tx(|c| {
            // A sign-in session still pending when it expires is an
            // expired sign-in: logged for its client's usage.
            c.execute_batch(&format!(
                "INSERT INTO security_events (at, kind, pk, client_id, ip)
                   SELECT expires_at, '{expired}',
                          CASE WHEN json_valid(data) THEN json_extract(data, '$.expected_pk') END,
                          CASE WHEN json_valid(data) THEN json_extract(data, '$.request.client_id') END,
                          CASE WHEN json_valid(data) THEN json_extract(data, '$.ip') END
                   FROM records
                   WHERE kind = 'session' AND expires_at <= {now}
                     AND CASE WHEN json_valid(data) THEN json_extract(data, '$.status') END = 'pending';
                 DELETE FROM records WHERE expires_at <= {now};
                 DELETE FROM revoked_families WHERE expires_at <= {now};
                 DELETE FROM jobs WHERE expires_at <= {now};
                 DELETE FROM revoke_codes WHERE expires_at <= {now};
                 DELETE FROM used_jtis WHERE expires_at <= {now};
                 DELETE FROM events WHERE expires_at <= {now};
                 DELETE FROM grants WHERE expires_at <= {now};
                 DELETE FROM rate_buckets WHERE expires_at <= {now};
                 DELETE FROM outgoing WHERE expires_at <= {now};
                 DELETE FROM account_sessions WHERE expires_at <= {now};
                 DELETE FROM initial_access_tokens WHERE expires_at <= {now};
                 DELETE FROM security_events WHERE at <= {old_events};",
                expired = crate::security::events::Kind::SignInExpired.as_str(),
            ))
            .map_err(backend)
        })
    }
}
