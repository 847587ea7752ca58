//! Storage behind a trait. The trait is synchronous — SQLite (rusqlite) and
//! PostgreSQL (the blocking `postgres` client) both fit — and the server
//! calls it through [`Db`] (in [`db`]), which keeps every wait on disk or
//! on the network off the async threads.

mod db;
pub mod devices;
mod postgres;
mod sqlite;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use db::{Db, Reads};
pub use devices::{DeviceRecord, DeviceStore};
pub use postgres::PostgresStore;
#[cfg(any(test, feature = "test-cluster"))]
pub use postgres::cluster as pg_cluster;
pub use sqlite::SqliteStore;

/// The store the configuration names: PostgreSQL when `database_url` is
/// set (`postgres://…` or `postgresql://…`), else the SQLite file in the
/// data directory. Errors never include the URL.
pub fn open(config: &crate::config::Config) -> StoreResult<Arc<dyn Store>> {
    match config.database_url.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::open(url)?))
        }
        Some(_) => Err(StoreError::Backend(
            "database_url must start with postgres:// or postgresql://".into(),
        )),
        None => Ok(Arc::new(SqliteStore::open(
            &config.data_dir.join(crate::state::DB_FILE),
        )?)),
    }
}

/// Why a storage call failed. `NotFound` and `Conflict` are answers, not
/// failures; everything else is `Backend`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub pk: String,
    pub secret_hash: Vec<u8>,
    pub devtoken: Option<String>,
    pub registered_at: i64,
    pub revoked_at: Option<i64>,
    pub email_hash: Option<Vec<u8>>,
    pub phone_hash: Option<Vec<u8>>,
}

impl KeyRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub pk: String,
    pub scope: String,
    pub value_hash: Vec<u8>,
    pub issuer: String,
    pub jti: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Code sent, waiting for the user to confirm it.
    Waiting,
    /// Code confirmed; waiting for an external authority to sign.
    Confirmed,
    /// Grant issued.
    Signed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Confirmed => "confirmed",
            JobStatus::Signed => "signed",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "waiting" => Ok(JobStatus::Waiting),
            "confirmed" => Ok(JobStatus::Confirmed),
            "signed" => Ok(JobStatus::Signed),
            other => Err(StoreError::Backend(format!("unknown job status {other:?}"))),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub pk: String,
    pub scope: String,
    /// The address or number being verified (needed to sign the grant).
    pub value: String,
    pub value_hash: Vec<u8>,
    pub code_hash: Vec<u8>,
    pub attempts: u32,
    pub status: JobStatus,
    pub test: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub grant_jwt: Option<String>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("pk", &self.pk)
            .field("scope", &self.scope)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeCode {
    pub pk: String,
    pub code_hash: Vec<u8>,
    pub attempts: u32,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub pk: String,
    pub kind: String,
    pub data: String,
    pub expires_at: i64,
}

/// The outcome of counting one hit against a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit; try again in this many seconds.
    Limited {
        retry_after: u64,
    },
}

/// A short-lived OIDC record (see the `records` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub id: String,
    pub family: String,
    /// The Authentiq ID it belongs to, when it belongs to one: revoking the
    /// key revokes the record's family.
    pub pk: Option<String>,
    /// JSON.
    pub data: String,
    pub used: bool,
    /// When it was spent.
    pub used_at: Option<i64>,
    pub expires_at: i64,
    /// For a grant's records: the client it was issued to and the SSO
    /// session (`sid`) it was issued in; an SSO session has its own id.
    pub client_id: Option<String>,
    pub sid: Option<String>,
    /// Goes up with every change of the stored record (0 when first
    /// stored; ignored when storing): what [`Store::replace_record`]
    /// compares.
    pub version: i64,
}

impl Record {
    /// Marks the record as part of a grant to `client_id` in the SSO
    /// session `sid`.
    pub fn granted(mut self, client_id: &str, sid: &str) -> Self {
        self.client_id = Some(client_id.to_string());
        self.sid = Some(sid.to_string());
        self
    }
}

/// An HTTP request the server owes another server, queued until delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Assigned by the store (0 when enqueueing).
    pub id: i64,
    /// What it is, e.g. `backchannel-logout` (for logs and tests).
    pub kind: String,
    pub url: String,
    pub content_type: String,
    pub body: String,
    /// Sent as the `Authorization` header, when set.
    pub authorization: Option<String>,
    pub attempts: u32,
    /// Not before this time.
    pub next_at: i64,
    /// Given up after this time.
    pub expires_at: i64,
    pub last_error: Option<String>,
}

/// A client that has live grants of a key, and the SSO session of each.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClientSession {
    pub client_id: String,
    pub sid: Option<String>,
}

/// An account of someone who owns clients or runs the server (seed 004).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    /// Normalized (trimmed, lowercase).
    pub email: String,
    /// PHC string (Argon2id with its parameters).
    pub password_hash: String,
    /// `admin`, `user` or `guest`.
    pub role: String,
    pub deactivated_at: Option<i64>,
    /// A linked Authentiq ID (passwordless dashboard sign-in).
    pub authentiq_pk: Option<String>,
    pub created_at: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("deactivated_at", &self.deactivated_at)
            .finish_non_exhaustive()
    }
}

/// One entry of the security event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// Assigned by the store (0 when inserting).
    pub id: i64,
    pub at: i64,
    /// e.g. `sign-in-reported`, `wrong-number`, `key-revoked`.
    pub kind: String,
    pub pk: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// One of the writes [`Store::write_all`] makes together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// As [`Store::replace_record`].
    ReplaceRecord {
        kind: String,
        id: String,
        version: i64,
        data: String,
    },
    /// As [`Store::insert_security_event`].
    SecurityEvent(SecurityEvent),
    /// As [`Store::insert_event`].
    DeviceEvent(NewEvent),
}

/// A device event to store ([`Store::insert_event`]'s arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub pk: String,
    pub kind: String,
    /// The signed event.
    pub data: String,
    pub now: i64,
    pub expires_at: i64,
}

/// Which security events to list; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub pk: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub ip: Option<String>,
    /// Only events at or after this time.
    pub since: Option<i64>,
}

/// What [`Store::count_security_events`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCount {
    pub count: u32,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// How long a revoked family is remembered: longer than anything in it lives.
pub const FAMILY_REVOCATION_TTL: i64 = 90 * 24 * 3600;

/// How long the security event log keeps an entry.
pub const SECURITY_EVENT_RETENTION: i64 = 90 * 24 * 3600;

/// Everything the server keeps. Writes return only once durable.
pub trait Store: DeviceStore + Send + Sync + std::fmt::Debug + 'static {
    /// Whether a read is short enough to run on an async thread: it waits
    /// on no network and on no writer (SQLite's WAL readers). [`Db::read`]
    /// then skips the hop to the blocking pool and back.
    fn quick_reads(&self) -> bool {
        false
    }

    /// A named document of key material shared by every instance (sealed
    /// by the caller) with its version (1, 2, …); `NotFound` if none.
    fn get_key_material(&self, name: &str) -> StoreResult<(i64, String)>;
    /// Stores `value` as the next version of `name`, as a compare-and-swap:
    /// with `expected` 0 it creates version 1 (`Conflict("exists")` when
    /// another writer created it first); otherwise it replaces version
    /// `expected` (`Conflict("changed")` when that is no longer the stored
    /// one). Returns the new version.
    fn put_key_material(
        &self,
        name: &str,
        expected: i64,
        value: &str,
        now: i64,
    ) -> StoreResult<i64>;
    /// `(name, version)` of every document: a cheap way to notice that
    /// another instance rotated a key.
    fn key_material_versions(&self) -> StoreResult<Vec<(String, i64)>>;

    /// `Conflict` when the key exists (revoked or not). With `jti` (a JWT
    /// ID and how long to remember it), spends it in the same transaction:
    /// `Conflict("replayed")` when it was used before, and nothing stored.
    fn insert_key(&self, key: &KeyRecord, jti: Option<(&str, i64)>) -> StoreResult<()>;
    fn get_key(&self, pk: &str) -> StoreResult<KeyRecord>;
    /// Marks the key revoked, drops its pending work (jobs, revocation
    /// codes) and revokes every family of records that belongs to it (SSO
    /// sessions, codes, tokens), all in one transaction; `NotFound` if
    /// unknown. Revoking twice keeps the first time.
    fn revoke_key(&self, pk: &str, at: i64) -> StoreResult<()>;
    /// Revokes every family of records that belongs to `pk` until `until`.
    fn revoke_families_of_key(&self, pk: &str, until: i64) -> StoreResult<()>;
    /// Sets the given hashes; `Conflict` when another active key holds one.
    fn bind_key(
        &self,
        pk: &str,
        email_hash: Option<&[u8]>,
        phone_hash: Option<&[u8]>,
    ) -> StoreResult<()>;
    /// The active key bound to this email hash.
    fn find_key_by_email(&self, email_hash: &[u8]) -> StoreResult<KeyRecord>;
    /// The active key bound to both hashes.
    fn find_key_by_binding(&self, email_hash: &[u8], phone_hash: &[u8]) -> StoreResult<KeyRecord>;

    fn insert_grant(&self, grant: &GrantRecord) -> StoreResult<()>;
    /// Whether an unexpired grant for this key, scope and value exists.
    fn has_grant(&self, pk: &str, scope: &str, value_hash: &[u8], now: i64) -> StoreResult<bool>;

    fn insert_job(&self, job: &Job) -> StoreResult<()>;
    /// `NotFound` for unknown or expired jobs.
    fn get_job(&self, id: &str, now: i64) -> StoreResult<Job>;
    /// Counts one attempt at the job's code, atomically, before the code is
    /// compared: the job as it is after counting; `Conflict("attempts")`
    /// once `max` attempts were counted, however many arrive at once;
    /// `NotFound` for unknown or expired jobs.
    fn attempt_job(&self, id: &str, max: u32, now: i64) -> StoreResult<Job>;
    /// Writes the job's status, expiry and grant (never its attempt count).
    fn update_job(&self, job: &Job) -> StoreResult<()>;
    fn delete_job(&self, id: &str) -> StoreResult<()>;

    /// Replaces any pending revocation code of the key.
    fn put_revoke_code(&self, code: &RevokeCode) -> StoreResult<()>;
    /// As [`Store::attempt_job`], for the key's pending revocation code.
    fn attempt_revoke_code(&self, pk: &str, max: u32, now: i64) -> StoreResult<RevokeCode>;
    fn delete_revoke_code(&self, pk: &str) -> StoreResult<()>;

    /// Records a JWT ID; `Conflict` when it was already used.
    fn use_jti(&self, id: &str, expires_at: i64) -> StoreResult<()>;

    /// Takes back one hit counted by [`Store::rate_hit`] (the attempt it
    /// counted turned out fine).
    fn rate_refund(&self, bucket: &str) -> StoreResult<()>;
    /// Counts a hit in a fixed window of `window` seconds, atomically.
    fn rate_hit(
        &self,
        bucket: &str,
        limit: u32,
        window: u64,
        now: i64,
    ) -> StoreResult<RateDecision>;

    /// Stores an event and returns its id (increasing).
    fn insert_event(
        &self,
        pk: &str,
        kind: &str,
        data: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<i64>;
    /// Unexpired events of a key with an id above `after`, oldest first.
    fn events_after(&self, pk: &str, after: i64, now: i64) -> StoreResult<Vec<StoredEvent>>;

    /// `Conflict` if a client with this id exists. `owner`: the account
    /// it belongs to.
    fn insert_client(
        &self,
        client_id: &str,
        data: &str,
        owner: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
    fn get_client(&self, client_id: &str) -> StoreResult<String>;
    /// Replaces a client's data; `NotFound` if there is no such client.
    fn update_client(&self, client_id: &str, data: &str) -> StoreResult<()>;
    fn delete_client(&self, client_id: &str) -> StoreResult<()>;
    fn list_clients(&self) -> StoreResult<Vec<(String, String)>>;
    /// The clients `owner` registered.
    fn list_clients_of(&self, owner: &str) -> StoreResult<Vec<(String, String)>>;

    /// `Conflict("duplicate-email")` when the email has an account.
    fn insert_account(&self, account: &Account) -> StoreResult<()>;
    fn get_account(&self, id: &str) -> StoreResult<Account>;
    fn find_account_by_email(&self, email: &str) -> StoreResult<Account>;
    fn find_account_by_pk(&self, pk: &str) -> StoreResult<Account>;
    fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    /// Writes an account's role, deactivation, password hash and linked ID,
    /// in one transaction that refuses (`Conflict("last-admin")`) to leave
    /// the server without an active admin; `Conflict("duplicate-pk")` when
    /// the Authentiq ID is linked to another account.
    fn update_account(&self, account: &Account) -> StoreResult<()>;
    /// Deletes an account with its sessions and clients (`Conflict("last-admin")`
    /// for the last active admin).
    fn delete_account(&self, id: &str) -> StoreResult<()>;
    fn insert_account_session(
        &self,
        id: &str,
        account_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The account of a live session; `NotFound` if it ended.
    fn account_session(&self, id: &str, now: i64) -> StoreResult<String>;
    fn delete_account_session(&self, id: &str) -> StoreResult<()>;
    /// Ends every session of the account, but `except`.
    fn delete_account_sessions(&self, account_id: &str, except: Option<&str>) -> StoreResult<()>;

    /// Remembers that `client_id` knows `pk` as `sub` (a `sub` stays bound
    /// to the key it first named; a repeat only moves `seen_at`).
    fn remember_subject(&self, client_id: &str, sub: &str, pk: &str, now: i64) -> StoreResult<()>;
    /// The key `client_id` knows as `sub`.
    fn find_subject(&self, client_id: &str, sub: &str) -> StoreResult<String>;

    fn insert_initial_access_token(
        &self,
        id: &str,
        uses: u32,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// Spends one use, atomically; `NotFound` when none is left or it expired.
    fn use_initial_access_token(&self, id: &str, now: i64) -> StoreResult<()>;

    /// Inserts or replaces a record (a replaced one's version goes up).
    fn put_record(&self, r: &Record) -> StoreResult<()>;
    /// Replaces a record's data only if it is still at `version` (as it
    /// was read) and unused: `Conflict("changed")` when someone changed it
    /// first. One [`Write::ReplaceRecord`].
    fn replace_record(
        &self,
        kind: &str,
        id: &str,
        version: i64,
        new_data: &str,
    ) -> StoreResult<()> {
        self.write_all(&[Write::ReplaceRecord {
            kind: kind.into(),
            id: id.into(),
            version,
            data: new_data.into(),
        }])
    }
    /// `writes` in one transaction, in order: all of them durable, or none
    /// (the answer is then the first one's error).
    fn write_all(&self, writes: &[Write]) -> StoreResult<()>;
    /// An unexpired record whose family is not revoked.
    fn get_record(&self, kind: &str, id: &str, now: i64) -> StoreResult<Record>;
    /// Marks a record used, atomically, and returns it as it was:
    /// `Conflict` when it already was used. Unless `keep_data`, the stored
    /// record keeps only its family (what reuse detection needs), not its
    /// data.
    fn use_record(&self, kind: &str, id: &str, now: i64, keep_data: bool) -> StoreResult<Record>;
    /// One grant in one transaction: spends the single-use record
    /// `kind`/`id` exactly as [`Store::use_record`] does (with its data if
    /// `keep_data`) and stores `issue`. Either all of it is durable or none
    /// of it.
    fn exchange(
        &self,
        kind: &str,
        id: &str,
        now: i64,
        keep_data: bool,
        issue: &[Record],
    ) -> StoreResult<Record>;
    /// The family of a record, used or not, expired or not.
    fn record_family(&self, kind: &str, id: &str) -> StoreResult<String>;
    /// Revokes everything in a family.
    fn revoke_family(&self, family: &str, until: i64) -> StoreResult<()>;

    /// The clients holding live (unexpired, unrevoked) grants issued in the
    /// SSO session `sid`.
    fn session_clients(&self, sid: &str, now: i64) -> StoreResult<Vec<String>>;
    /// The clients holding live grants of `pk`, with the session of each.
    fn key_sessions(&self, pk: &str, now: i64) -> StoreResult<Vec<ClientSession>>;

    fn enqueue_outgoing(&self, item: &Outgoing) -> StoreResult<i64>;
    /// Up to `limit` items due at `now`, leased for `lease` seconds (their
    /// `next_at` moves on, so another worker does not take them meanwhile).
    fn take_due_outgoing(&self, now: i64, lease: i64, limit: u32) -> StoreResult<Vec<Outgoing>>;
    /// Delivered: forget it.
    fn outgoing_done(&self, id: i64) -> StoreResult<()>;
    /// Not delivered: try again at `next_at`.
    fn outgoing_failed(&self, id: i64, next_at: i64, error: &str) -> StoreResult<()>;
    /// Everything queued (for operators and tests), oldest first.
    fn list_outgoing(&self) -> StoreResult<Vec<Outgoing>>;

    fn insert_security_event(&self, event: &SecurityEvent) -> StoreResult<i64>;
    /// How many events match `filter`, and when the first and last happened.
    fn count_security_events(&self, filter: &EventFilter) -> StoreResult<EventCount>;
    /// The newest `limit` events matching `filter`, newest first.
    fn list_security_events(
        &self,
        filter: &EventFilter,
        limit: u32,
    ) -> StoreResult<Vec<SecurityEvent>>;

    /// Deletes whatever expired before `now` (and security events older
    /// than [`SECURITY_EVENT_RETENTION`]).
    fn purge_expired(&self, now: i64) -> StoreResult<()>;
}
