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
//! This file holds the pool and the error mapping; `dispatch` maps the
//! trait's methods onto the SQL, which lives in one module per area.

mod accounts;
#[cfg(any(test, feature = "test-cluster"))]
pub mod cluster;
mod conn;
mod devices;
mod dispatch;
mod events;
mod key_material;
mod keys;
mod migrate;
mod records;
#[cfg(test)]
mod tests;

use std::time::Duration;

use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use conn::{Conn, Manager, Sql, Tx};

use super::{
    Account, ClientSession, EventCount, EventFilter, GrantRecord, Job, KeyRecord, Outgoing,
    RateDecision, Record, RevokeCode, SecurityEvent, Store, StoreError, StoreResult, StoredEvent,
    Write,
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

fn lock(t: &mut Tx<'_>, class: Lock, key: &str) -> StoreResult<()> {
    t.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&(class as i32), &key],
    )
    .map_err(backend)?;
    Ok(())
}

/// Runs `f` on a thread of its own. The blocking client drives a runtime
/// of its own, which panics on a thread that already drives one (an async
/// task): a PostgreSQL store's methods run on tokio's blocking pool
/// ([`super::Db`], reads too),
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

type Pool = r2d2::Pool<Manager>;

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
            .build(Manager(PostgresConnectionManager::new(config, NoTls)))
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
        let store = Self { pool: Some(pool) };
        off_runtime(|| migrate::run(&mut store.conn()?.client))?;
        Ok(store)
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<Manager>> {
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
    fn auto<T: Send>(&self, f: impl FnOnce(&mut Conn) -> StoreResult<T> + Send) -> StoreResult<T> {
        where_blocking_is_fine(|| f(&mut *self.conn()?))
    }

    /// Runs `f` as one transaction: committed when it returns `Ok`, rolled
    /// back otherwise, and run again (up to [`TX_TRIES`] times) when it was
    /// rolled back to break a deadlock.
    fn tx<T: Send>(&self, f: impl Fn(&mut Tx<'_>) -> StoreResult<T> + Sync) -> StoreResult<T> {
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
