//! The authenticator's local state: one SQLite file per profile holding the
//! inbox of sign-in requests, the history of decisions, the verified
//! grants and the device channel's resume point. No secrets: the key is in
//! the OS keyring.
//!
//! This module opens the file and keeps the `meta` key-value pairs; each
//! table has a file: `inbox.rs` the requests ([`Request`]), `history.rs`
//! the decisions ([`Decision`]), `grants.rs` the grants ([`StoredGrant`]),
//! and `schema.rs` the tables and their migrations.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

mod grants;
mod history;
mod inbox;
mod schema;
#[cfg(test)]
mod tests;

pub use grants::StoredGrant;
pub use history::Decision;
pub use inbox::{KEEP_AFTER_EXPIRY, Request};

/// The `meta` key of the request counter (kept by [`Local::reset_identity`]).
const REQUEST_SEQ: &str = "request_seq";

#[derive(Debug, thiserror::Error)]
#[error("local database: {0}")]
pub struct LocalError(String);

fn db(e: rusqlite::Error) -> LocalError {
    LocalError(e.to_string())
}

#[derive(Debug)]
pub struct Local {
    conn: Connection,
}

impl Local {
    pub fn open(path: &Path) -> Result<Self, LocalError> {
        let conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(db)?;
        conn.execute_batch(schema::SCHEMA).map_err(db)?;
        Self::migrate(&conn)?;
        Ok(Self { conn })
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>, LocalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(db)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), LocalError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
                params![key, value],
            )
            .map(|_| ())
            .map_err(db)
    }

    /// Forgets everything tied to an identity (grants, inbox, resume point),
    /// keeping the history of decisions and the request counter (so that
    /// the history never shows two requests with one id).
    pub fn reset_identity(&self) -> Result<(), LocalError> {
        let tx =
            Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(db)?;
        tx.execute_batch("DELETE FROM grants; DELETE FROM requests;")
            .map_err(db)?;
        tx.execute("DELETE FROM meta WHERE key <> ?1", [REQUEST_SEQ])
            .map_err(db)?;
        tx.commit().map_err(db)
    }
}
