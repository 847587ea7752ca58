//! The tables of the local state ([`SCHEMA`]) and the changes made to
//! them since, applied when a profile is opened ([`MIGRATIONS`]).

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{Local, LocalError, db};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS requests (
    id          TEXT PRIMARY KEY,
    session     TEXT NOT NULL UNIQUE,
    event       TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    client_name TEXT NOT NULL,
    client_uri  TEXT,
    scope       TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT,
    numbers     TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    state       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS requests_by_expiry ON requests (expires_at);
CREATE TABLE IF NOT EXISTS history (
    id          INTEGER PRIMARY KEY,
    request_id  TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    client_name TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT,
    decided_at  INTEGER NOT NULL,
    result      TEXT NOT NULL,
    detail      TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS grants (
    scope TEXT NOT NULL,
    value TEXT NOT NULL,
    jwt   TEXT NOT NULL,
    exp   INTEGER NOT NULL,
    PRIMARY KEY (scope, value)
) STRICT;
";

/// The changes to [`SCHEMA`] since, in order: a database at
/// `PRAGMA user_version` *n* gets `MIGRATIONS[n..]`, each in the one
/// transaction that also sets the version (so a profile is never half
/// migrated, and two processes opening it at once migrate it once). A
/// profile from before the migrations is at version 0, as is a new one
/// after [`SCHEMA`]. Only additions: an older `aq` or app on a migrated
/// profile keeps working (it names the columns it writes).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: what a request is for (`sign-in`, `verification`,
    // `reauthentication`), in the inbox and in the history; the rows from
    // before were all sign-ins.
    "ALTER TABLE requests ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign-in';
     ALTER TABLE history ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign-in';",
    // 2: whether the client's backend started the request (CIBA: no number
    // to match) and the binding message it sent, in the inbox and in the
    // history; the rows from before were all matched by number.
    "ALTER TABLE requests ADD COLUMN backchannel INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE requests ADD COLUMN binding_message TEXT;
     ALTER TABLE history ADD COLUMN backchannel INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE history ADD COLUMN binding_message TEXT;",
];

impl Local {
    /// Brings the schema up to date ([`MIGRATIONS`]). A profile a newer
    /// version migrated further is left as it is.
    pub(super) fn migrate(conn: &Connection) -> Result<(), LocalError> {
        let version = |c: &Connection| -> Result<usize, LocalError> {
            let v: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(db)?;
            Ok(usize::try_from(v).unwrap_or(0))
        };
        if version(conn)? >= MIGRATIONS.len() {
            return Ok(());
        }
        // IMMEDIATE, and the version read again inside: another process
        // may have migrated it in between.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(db)?;
        let from = version(&tx)?;
        for step in MIGRATIONS.iter().skip(from) {
            tx.execute_batch(step).map_err(db)?;
        }
        if from < MIGRATIONS.len() {
            tx.execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }
}
