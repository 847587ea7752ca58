//! PostgreSQL, for several instances on one database (`database_url =
//! "postgres://…"`): a pool of blocking clients (the [`Store`] trait is
//! synchronous and runs on tokio's blocking pool), numbered migrations
//! applied at start under an advisory lock.
//!
//! Every write is one transaction at READ COMMITTED. Concurrent requests
//! are kept apart by conditional `UPDATE`s (a row being updated is locked
//! and the condition checked again on its newest version), unique
//! constraints, `SELECT … FOR UPDATE`, and transaction-scoped advisory
//! locks where a decision spans rows ([`Lock`]).
//!
//! This file holds the pool, the error mapping and the dispatch of the
//! trait; the SQL lives in one module per area.

mod accounts;
#[cfg(any(test, feature = "test-cluster"))]
pub mod cluster;
mod devices;
mod events;
mod key_material;
mod keys;
mod migrate;
mod records;
#[cfg(test)]
mod tests;

use std::time::Duration;

use postgres::{Client, NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;

use super::{
    Account, ClientSession, EventCount, EventFilter, GrantRecord, Job, KeyRecord, Outgoing,
    RateDecision, Record, RevokeCode, SecurityEvent, Store, StoreError, StoreResult, StoredEvent,
};

/// Connections per instance at most.
const POOL_SIZE: u32 = 16;
/// How long a call waits for a free connection before it fails.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// `Backend` with the server's message when it sent one (`postgres::Error`
/// displays as "db error" alone), else the client's error with its cause.
/// But a string PostgreSQL cannot hold (one with a NUL character, which
/// SQLite takes) is `NotFound`: nothing stored can match it, and input
/// like that is an answer, not a failure.
fn backend(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    if e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    }) {
        RETRYABLE.with(|r| r.set(true));
    }
    if e.code() == Some(&SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
        return StoreError::NotFound;
    }
    StoreError::Backend(match (e.as_db_error(), std::error::Error::source(&e)) {
        (Some(db), _) => db.to_string(),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    })
}

/// A constraint violation (SQLSTATE class 23: unique, foreign key, check,
/// not null), which SQLite reports as `Conflict` too.
fn is_constraint(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| c.code().starts_with("23"))
}

/// `Conflict(what)` for a constraint violation, `Backend` otherwise.
fn conflict_or_backend(what: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |e| {
        if is_constraint(&e) {
            StoreError::Conflict(what)
        } else {
            backend(e)
        }
    }
}

/// A count kept as BIGINT, read back as the trait's `u32`.
fn count(v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::Backend(format!("count out of range: {v}")))
}

/// Transaction-scoped advisory locks (`pg_advisory_xact_lock(class, key)`;
/// the two-key space does not meet the migrations' one-key lock).
#[derive(Debug, Clone, Copy)]
enum Lock {
    /// Inserting a key's device events: ids are then committed in order.
    Events = 1,
    /// Changing or deleting an account: the last-admin check holds.
    Accounts = 2,
    /// Changing an identity's devices (or revoking it): the last-device
    /// check holds.
    Identity = 3,
    /// A key about to become an ID or a device: it becomes one of them.
    NewKey = 4,
}

fn lock(t: &mut Transaction<'_>, class: Lock, key: &str) -> StoreResult<()> {
    t.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&(class as i32), &key],
    )
    .map_err(backend)?;
    Ok(())
}

/// Runs `f` on a thread of its own. The blocking client drives a runtime
/// of its own, which panics on a thread that already drives one (an async
/// task): the store's methods run on tokio's blocking pool ([`super::Db`]),
/// but opening and closing may happen on an async thread.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// How often a transaction runs at most when the server chose it as the
/// victim of a deadlock (or a serialization failure).
const TX_TRIES: u32 = 3;

thread_local! {
    /// Set by [`backend`] for a deadlock or a serialization failure: the
    /// transaction failed as a whole and may run again.
    static RETRYABLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set on tokio's blocking pool while a [`super::Db`] call runs.
    static ON_BLOCKING_POOL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a [`super::Db`] call's `f`, marking the thread as one where the
/// client may block.
pub(super) fn blocking_call<T>(f: impl FnOnce() -> T) -> T {
    ON_BLOCKING_POOL.with(|b| b.set(true));
    let out = f();
    ON_BLOCKING_POOL.with(|b| b.set(false));
    out
}

/// Runs `f` where the client may block: here, unless this thread drives
/// async tasks (a store method called directly from async code, as at
/// start-up), then on a thread of its own.
fn where_blocking_is_fine<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if ON_BLOCKING_POOL.with(std::cell::Cell::get) || tokio::runtime::Handle::try_current().is_err()
    {
        f()
    } else {
        off_runtime(f)
    }
}

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// A pool of connections to one database.
pub struct PostgresStore {
    /// Taken only when dropped.
    pool: Option<Pool>,
}

/// Closes the connections on a thread of their own ([`off_runtime`]).
impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(pool));
        }
    }
}

/// Never shows the URL (it may hold the password).
impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("PostgresStore");
        if let Some(state) = self.pool.as_ref().map(Pool::state) {
            d.field("connections", &state.connections)
                .field("idle", &state.idle_connections);
        }
        d.finish()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host/db`, or with a
    /// socket directory, `postgres:///db?host=/run/postgresql`) and brings
    /// the schema up to date. Errors never include the URL.
    pub fn open(url: &str) -> StoreResult<Self> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("invalid database_url: {e}")))?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(POOL_WAIT)
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        let store = Self { pool: Some(pool) };
        off_runtime(|| migrate::run(&mut *store.conn()?))?;
        Ok(store)
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| StoreError::Backend("the store is closed".into()))?;
        let conn = pool
            .get()
            .map_err(|e| StoreError::Backend(format!("no database connection: {e}")))?;
        // What /metrics shows as authentiq_db_pool_connections.
        let state = pool.state();
        crate::metrics::db_pool(
            state.connections.saturating_sub(state.idle_connections),
            state.idle_connections,
        );
        Ok(conn)
    }

    /// Runs `f` on a connection in autocommit: for reads, and for writes of
    /// one statement (each its own transaction).
    fn auto<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        where_blocking_is_fine(|| f(&mut *self.conn()?))
    }

    /// Runs `f` as one transaction: committed when it returns `Ok`, rolled
    /// back otherwise, and run again (up to [`TX_TRIES`] times) when it was
    /// rolled back to break a deadlock.
    fn tx<T: Send>(
        &self,
        f: impl Fn(&mut Transaction<'_>) -> StoreResult<T> + Sync,
    ) -> StoreResult<T> {
        where_blocking_is_fine(|| {
            let mut conn = self.conn()?;
            let mut tries = 0;
            loop {
                RETRYABLE.with(|r| r.set(false));
                let mut once = || {
                    let mut t = conn.transaction().map_err(backend)?;
                    let out = f(&mut t)?;
                    t.commit().map_err(backend)?;
                    Ok(out)
                };
                tries += 1;
                match once() {
                    Err(_) if tries < TX_TRIES && RETRYABLE.with(std::cell::Cell::get) => {}
                    done => return done,
                }
            }
        })
    }
}

impl Store for PostgresStore {
    fn get_key_material(&self, name: &str) -> StoreResult<(i64, String)> {
        self.auto(|c| key_material::get(c, name))
    }
    fn put_key_material(
        &self,
        name: &str,
        expected: i64,
        value: &str,
        now: i64,
    ) -> StoreResult<i64> {
        self.tx(|t| key_material::put(t, name, expected, value, now))
    }
    fn key_material_versions(&self) -> StoreResult<Vec<(String, i64)>> {
        self.auto(key_material::versions)
    }
    fn insert_key(&self, key: &KeyRecord, jti: Option<(&str, i64)>) -> StoreResult<()> {
        self.tx(|t| {
            if let Some((id, until)) = jti {
                keys::use_jti(t, id, until)?;
            }
            lock(t, Lock::NewKey, &key.pk)?;
            keys::insert_key(t, key)?;
            devices::insert_first(t, key)
        })
    }
    fn get_key(&self, pk: &str) -> StoreResult<KeyRecord> {
        self.auto(|c| keys::get_key(c, pk))
    }
    fn revoke_key(&self, pk: &str, at: i64) -> StoreResult<()> {
        self.tx(|t| {
            lock(t, Lock::Identity, pk)?;
            keys::revoke_key(t, pk, at)?;
            devices::revoke_all(t, pk, at)?;
            records::revoke_families_of_key(t, pk, at + super::FAMILY_REVOCATION_TTL)
        })
    }
    fn revoke_families_of_key(&self, pk: &str, until: i64) -> StoreResult<()> {
        self.tx(|t| records::revoke_families_of_key(t, pk, until))
    }
    fn bind_key(&self, pk: &str, email: Option<&[u8]>, phone: Option<&[u8]>) -> StoreResult<()> {
        self.auto(|c| keys::bind_key(c, pk, email, phone))
    }
    fn find_key_by_email(&self, email_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.auto(|c| keys::find_key_by_email(c, email_hash))
    }
    fn find_key_by_binding(&self, email_hash: &[u8], phone_hash: &[u8]) -> StoreResult<KeyRecord> {
        self.auto(|c| keys::find_key_by_binding(c, email_hash, phone_hash))
    }
    fn insert_grant(&self, grant: &GrantRecord) -> StoreResult<()> {
        self.auto(|c| keys::insert_grant(c, grant))
    }
    fn has_grant(&self, pk: &str, scope: &str, value_hash: &[u8], now: i64) -> StoreResult<bool> {
        self.auto(|c| keys::has_grant(c, pk, scope, value_hash, now))
    }
    fn insert_job(&self, job: &Job) -> StoreResult<()> {
        self.auto(|c| keys::insert_job(c, job))
    }
    fn get_job(&self, id: &str, now: i64) -> StoreResult<Job> {
        self.auto(|c| keys::get_job(c, id, now))
    }
    fn attempt_job(&self, id: &str, max: u32, now: i64) -> StoreResult<Job> {
        self.auto(|c| keys::attempt_job(c, id, max, now))
    }
    fn update_job(&self, job: &Job) -> StoreResult<()> {
        self.auto(|c| keys::update_job(c, job))
    }
    fn delete_job(&self, id: &str) -> StoreResult<()> {
        self.auto(|c| keys::delete_job(c, id))
    }
    fn put_revoke_code(&self, code: &RevokeCode) -> StoreResult<()> {
        self.auto(|c| keys::put_revoke_code(c, code))
    }
    fn attempt_revoke_code(&self, pk: &str, max: u32, now: i64) -> StoreResult<RevokeCode> {
        self.auto(|c| keys::attempt_revoke_code(c, pk, max, now))
    }
    fn delete_revoke_code(&self, pk: &str) -> StoreResult<()> {
        self.auto(|c| keys::delete_revoke_code(c, pk))
    }
    fn use_jti(&self, id: &str, expires_at: i64) -> StoreResult<()> {
        self.auto(|c| keys::use_jti(c, id, expires_at))
    }
    fn rate_refund(&self, bucket: &str) -> StoreResult<()> {
        self.auto(|c| events::rate_refund(c, bucket))
    }
    fn rate_hit(
        &self,
        bucket: &str,
        limit: u32,
        window: u64,
        now: i64,
    ) -> StoreResult<RateDecision> {
        self.auto(|c| events::rate_hit(c, bucket, limit, window, now))
    }
    fn insert_event(
        &self,
        pk: &str,
        kind: &str,
        data: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<i64> {
        self.tx(|t| {
            lock(t, Lock::Events, pk)?;
            events::insert_event(t, pk, kind, data, now, expires_at)
        })
    }
    fn events_after(&self, pk: &str, after: i64, now: i64) -> StoreResult<Vec<StoredEvent>> {
        self.auto(|c| events::events_after(c, pk, after, now))
    }
    fn insert_client(
        &self,
        client_id: &str,
        data: &str,
        owner: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        self.auto(|c| records::insert_client(c, client_id, data, owner, now))
    }
    fn get_client(&self, client_id: &str) -> StoreResult<String> {
        self.auto(|c| records::get_client(c, client_id))
    }
    fn update_client(&self, client_id: &str, data: &str) -> StoreResult<()> {
        self.auto(|c| records::update_client(c, client_id, data))
    }
    fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        self.auto(|c| records::delete_client(c, client_id))
    }
    fn list_clients(&self) -> StoreResult<Vec<(String, String)>> {
        self.auto(|c| records::list_clients(c, None))
    }
    fn list_clients_of(&self, owner: &str) -> StoreResult<Vec<(String, String)>> {
        self.auto(|c| records::list_clients(c, Some(owner)))
    }
    fn insert_account(&self, account: &Account) -> StoreResult<()> {
        self.auto(|c| accounts::insert(c, account))
    }
    fn get_account(&self, id: &str) -> StoreResult<Account> {
        self.auto(|c| accounts::get(c, id))
    }
    fn find_account_by_email(&self, email: &str) -> StoreResult<Account> {
        self.auto(|c| accounts::by_email(c, email))
    }
    fn find_account_by_pk(&self, pk: &str) -> StoreResult<Account> {
        self.auto(|c| accounts::by_pk(c, pk))
    }
    fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.auto(accounts::list)
    }
    fn update_account(&self, account: &Account) -> StoreResult<()> {
        self.tx(|t| {
            lock(t, Lock::Accounts, "")?;
            accounts::update(t, account)
        })
    }
    fn delete_account(&self, id: &str) -> StoreResult<()> {
        self.tx(|t| {
            lock(t, Lock::Accounts, "")?;
            accounts::delete(t, id)
        })
    }
    fn insert_account_session(
        &self,
        id: &str,
        account_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.auto(|c| accounts::insert_session(c, id, account_id, now, expires_at))
    }
    fn account_session(&self, id: &str, now: i64) -> StoreResult<String> {
        self.auto(|c| accounts::session(c, id, now))
    }
    fn delete_account_session(&self, id: &str) -> StoreResult<()> {
        self.auto(|c| accounts::delete_session(c, id))
    }
    fn delete_account_sessions(&self, account_id: &str, except: Option<&str>) -> StoreResult<()> {
        self.auto(|c| accounts::delete_sessions(c, account_id, except))
    }
    fn remember_subject(&self, client_id: &str, sub: &str, pk: &str, now: i64) -> StoreResult<()> {
        self.auto(|c| records::remember_subject(c, client_id, sub, pk, now))
    }
    fn find_subject(&self, client_id: &str, sub: &str) -> StoreResult<String> {
        self.auto(|c| records::find_subject(c, client_id, sub))
    }
    fn insert_initial_access_token(
        &self,
        id: &str,
        uses: u32,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.auto(|c| accounts::insert_initial_access_token(c, id, uses, now, expires_at))
    }
    fn use_initial_access_token(&self, id: &str, now: i64) -> StoreResult<()> {
        self.auto(|c| accounts::use_initial_access_token(c, id, now))
    }
    fn put_record(&self, r: &Record) -> StoreResult<()> {
        self.auto(|c| records::put_record(c, r))
    }
    fn replace_record(&self, kind: &str, id: &str, version: i64, new: &str) -> StoreResult<()> {
        self.auto(|c| records::replace_record(c, kind, id, version, new))
    }
    fn get_record(&self, kind: &str, id: &str, now: i64) -> StoreResult<Record> {
        self.auto(|c| records::get_record(c, kind, id, now))
    }
    fn use_record(&self, kind: &str, id: &str, now: i64, keep_data: bool) -> StoreResult<Record> {
        self.tx(|t| records::use_record(t, kind, id, now, keep_data))
    }
    fn exchange(&self, kind: &str, id: &str, now: i64, issue: &[Record]) -> StoreResult<Record> {
        self.tx(|t| {
            let spent = records::use_record(t, kind, id, now, false)?;
            issue.iter().try_for_each(|r| records::put_record(t, r))?;
            Ok(spent)
        })
    }
    fn record_family(&self, kind: &str, id: &str) -> StoreResult<String> {
        self.auto(|c| records::record_family(c, kind, id))
    }
    fn revoke_family(&self, family: &str, until: i64) -> StoreResult<()> {
        self.auto(|c| records::revoke_family(c, family, until))
    }
    fn session_clients(&self, sid: &str, now: i64) -> StoreResult<Vec<String>> {
        self.auto(|c| records::session_clients(c, sid, now))
    }
    fn key_sessions(&self, pk: &str, now: i64) -> StoreResult<Vec<ClientSession>> {
        self.auto(|c| records::key_sessions(c, pk, now))
    }
    fn enqueue_outgoing(&self, item: &Outgoing) -> StoreResult<i64> {
        self.auto(|c| events::enqueue_outgoing(c, item))
    }
    fn take_due_outgoing(&self, now: i64, lease: i64, limit: u32) -> StoreResult<Vec<Outgoing>> {
        self.tx(|t| events::take_due_outgoing(t, now, lease, limit))
    }
    fn outgoing_done(&self, id: i64) -> StoreResult<()> {
        self.auto(|c| events::outgoing_done(c, id))
    }
    fn outgoing_failed(&self, id: i64, next_at: i64, error: &str) -> StoreResult<()> {
        self.auto(|c| events::outgoing_failed(c, id, next_at, error))
    }
    fn list_outgoing(&self) -> StoreResult<Vec<Outgoing>> {
        self.auto(events::list_outgoing)
    }
    fn insert_security_event(&self, event: &SecurityEvent) -> StoreResult<i64> {
        self.auto(|c| events::insert_security_event(c, event))
    }
    fn count_security_events(&self, filter: &EventFilter) -> StoreResult<EventCount> {
        self.auto(|c| events::count_security_events(c, filter))
    }
    fn list_security_events(
        &self,
        filter: &EventFilter,
        limit: u32,
    ) -> StoreResult<Vec<SecurityEvent>> {
        self.auto(|c| events::list_security_events(c, filter, limit))
    }
    fn purge_expired(&self, now: i64) -> StoreResult<()> {
        let old_events = now - super::SECURITY_EVENT_RETENTION;
        self.tx(|t| {
            // A sign-in session still pending when it expires is an expired
            // sign-in, logged for its client's usage. Deleted and logged in
            // one statement: instances purging at once log each one once.
            t.execute(
                "WITH gone AS (
                    DELETE FROM records WHERE expires_at <= $1 RETURNING kind, data, expires_at
                 )
                 INSERT INTO security_events (at, kind, pk, client_id, ip)
                 SELECT expires_at, $2, d->>'expected_pk', d->'request'->>'client_id', d->>'ip'
                 FROM (
                    SELECT expires_at,
                           CASE WHEN left(data, 1) = '{' THEN data::jsonb END AS d
                    FROM gone WHERE kind = 'session'
                 ) s
                 WHERE d->>'status' = 'pending'",
                &[&now, &crate::security::events::Kind::SignInExpired.as_str()],
            )
            .map_err(backend)?;
            for table in [
                "records",
                "revoked_families",
                "jobs",
                "revoke_codes",
                "used_jtis",
                "events",
                "grants",
                "rate_buckets",
                "outgoing",
                "account_sessions",
                "initial_access_tokens",
            ] {
                t.execute(
                    &format!("DELETE FROM {table} WHERE expires_at <= $1"),
                    &[&now],
                )
                .map_err(backend)?;
            }
            t.execute("DELETE FROM security_events WHERE at <= $1", &[&old_events])
                .map_err(backend)?;
            Ok(())
        })
    }
}
