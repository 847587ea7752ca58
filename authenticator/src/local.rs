//! The authenticator's local state: one SQLite file per profile holding the
//! inbox of sign-in requests, the history of decisions, the verified
//! grants and the device channel's resume point. No secrets: the key is in
//! the OS keyring.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("local database: {0}")]
pub struct LocalError(String);

fn db(e: rusqlite::Error) -> LocalError {
    LocalError(e.to_string())
}

const SCHEMA: &str = "
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

/// A sign-in request as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Short id for the CLI and the UI.
    pub id: String,
    pub session: String,
    /// The issuer-signed event it came in (kept to prove its origin).
    #[serde(skip)]
    pub event: String,
    pub client_id: String,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub scope: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub numbers: [u16; 3],
    #[serde(skip)]
    pub nonce: String,
    pub received_at: i64,
    pub expires_at: i64,
    pub state: String,
}

/// One decision, for `aq history` and the app's history screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub request_id: String,
    pub client_id: String,
    pub client_name: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub decided_at: i64,
    /// `approved`, `denied`, `reported`, or `refused` (the server said no).
    pub result: String,
    pub detail: Option<String>,
}

/// A verified claim with the issuer's grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGrant {
    pub scope: String,
    pub value: String,
    #[serde(skip)]
    pub jwt: String,
    pub exp: i64,
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
        conn.execute_batch(SCHEMA).map_err(db)?;
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

    /// Adds a request unless its session is already known; `true` if new.
    pub fn add_request(&self, r: &Request) -> Result<bool, LocalError> {
        let numbers = serde_json::to_string(&r.numbers).map_err(|e| LocalError(e.to_string()))?;
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO requests (id, session, event, client_id, client_name, client_uri,
                    scope, ip, user_agent, numbers, nonce, received_at, expires_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    r.id, r.session, r.event, r.client_id, r.client_name, r.client_uri, r.scope, r.ip,
                    r.user_agent, numbers, r.nonce, r.received_at, r.expires_at, r.state
                ],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
        let numbers: String = r.get(9)?;
        Ok(Request {
            id: r.get(0)?,
            session: r.get(1)?,
            event: r.get(2)?,
            client_id: r.get(3)?,
            client_name: r.get(4)?,
            client_uri: r.get(5)?,
            scope: r.get(6)?,
            ip: r.get(7)?,
            user_agent: r.get(8)?,
            numbers: serde_json::from_str(&numbers).unwrap_or([0; 3]),
            nonce: r.get(10)?,
            received_at: r.get(11)?,
            expires_at: r.get(12)?,
            state: r.get(13)?,
        })
    }

    const REQUEST_COLUMNS: &'static str =
        "id, session, event, client_id, client_name, client_uri, scope, ip,
        user_agent, numbers, nonce, received_at, expires_at, state";

    /// Pending, unexpired requests, oldest first. Expired ones are never offered.
    pub fn pending(&self, now: i64) -> Result<Vec<Request>, LocalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM requests WHERE state = 'pending' AND expires_at > ?1 ORDER BY received_at",
                Self::REQUEST_COLUMNS
            ))
            .map_err(db)?;
        let rows = stmt.query_map([now], Self::request_from_row).map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }

    pub fn request(&self, id: &str) -> Result<Option<Request>, LocalError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {} FROM requests WHERE id = ?1",
                    Self::REQUEST_COLUMNS
                ),
                [id],
                Self::request_from_row,
            )
            .optional()
            .map_err(db)
    }

    pub fn set_request_state(&self, id: &str, state: &str) -> Result<(), LocalError> {
        self.conn
            .execute(
                "UPDATE requests SET state = ?2 WHERE id = ?1",
                params![id, state],
            )
            .map(|_| ())
            .map_err(db)
    }

    pub fn record(&self, d: &Decision) -> Result<(), LocalError> {
        self.conn
            .execute(
                "INSERT INTO history (request_id, client_id, client_name, ip, user_agent, decided_at, result, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![d.request_id, d.client_id, d.client_name, d.ip, d.user_agent, d.decided_at, d.result, d.detail],
            )
            .map(|_| ())
            .map_err(db)
    }

    /// Newest first.
    pub fn history(&self, limit: u32) -> Result<Vec<Decision>, LocalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT request_id, client_id, client_name, ip, user_agent, decided_at, result, detail
                 FROM history ORDER BY id DESC LIMIT ?1",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(Decision {
                    request_id: r.get(0)?,
                    client_id: r.get(1)?,
                    client_name: r.get(2)?,
                    ip: r.get(3)?,
                    user_agent: r.get(4)?,
                    decided_at: r.get(5)?,
                    result: r.get(6)?,
                    detail: r.get(7)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }

    /// Forgets everything tied to an identity (grants, inbox, resume point),
    /// keeping the history of decisions.
    pub fn reset_identity(&self) -> Result<(), LocalError> {
        self.conn
            .execute_batch("DELETE FROM grants; DELETE FROM requests; DELETE FROM meta;")
            .map_err(db)
    }

    pub fn put_grant(&self, g: &StoredGrant) -> Result<(), LocalError> {
        self.conn
            .execute(
                "INSERT INTO grants (scope, value, jwt, exp) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, value) DO UPDATE SET jwt = ?3, exp = ?4",
                params![g.scope, g.value, g.jwt, g.exp],
            )
            .map(|_| ())
            .map_err(db)
    }

    /// Unexpired grants.
    pub fn grants(&self, now: i64) -> Result<Vec<StoredGrant>, LocalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT scope, value, jwt, exp FROM grants WHERE exp > ?1 ORDER BY scope")
            .map_err(db)?;
        let rows = stmt
            .query_map([now], |r| {
                Ok(StoredGrant {
                    scope: r.get(0)?,
                    value: r.get(1)?,
                    jwt: r.get(2)?,
                    exp: r.get(3)?,
                })
            })
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: &str, session: &str, expires_at: i64) -> Request {
        Request {
            id: id.into(),
            session: session.into(),
            event: "jwt".into(),
            client_id: "c".into(),
            client_name: "C".into(),
            client_uri: None,
            scope: "openid".into(),
            ip: "127.0.0.1".into(),
            user_agent: None,
            numbers: [11, 22, 33],
            nonce: "n".into(),
            received_at: 1,
            expires_at,
            state: "pending".into(),
        }
    }

    #[test]
    fn inbox_dedupes_and_never_offers_expired_requests() {
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
        assert!(l.add_request(&req("a", "s1", 100)).unwrap());
        assert!(
            !l.add_request(&req("a2", "s1", 100)).unwrap(),
            "same session twice"
        );
        l.add_request(&req("b", "s2", 50)).unwrap();
        let ids: Vec<_> = l.pending(60).unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["a"]);
        l.set_request_state("a", "approved").unwrap();
        assert!(l.pending(60).unwrap().is_empty());
        assert_eq!(l.request("a").unwrap().unwrap().numbers, [11, 22, 33]);
    }

    #[test]
    fn reset_identity_keeps_only_history() {
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
        l.add_request(&req("a", "s1", 100)).unwrap();
        l.set_meta("last_event_id", "9").unwrap();
        l.put_grant(&StoredGrant {
            scope: "email".into(),
            value: "a@b.c".into(),
            jwt: "j".into(),
            exp: 100,
        })
        .unwrap();
        l.record(&Decision {
            request_id: "a".into(),
            client_id: "c".into(),
            client_name: "C".into(),
            ip: "1.2.3.4".into(),
            user_agent: None,
            decided_at: 1,
            result: "approved".into(),
            detail: None,
        })
        .unwrap();
        l.reset_identity().unwrap();
        assert!(l.grants(0).unwrap().is_empty());
        assert!(l.pending(0).unwrap().is_empty());
        assert_eq!(l.get_meta("last_event_id").unwrap(), None);
        assert_eq!(l.history(10).unwrap().len(), 1);
    }

    #[test]
    fn history_newest_first_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
        for (i, result) in ["approved", "denied"].iter().enumerate() {
            l.record(&Decision {
                request_id: format!("r{i}"),
                client_id: "c".into(),
                client_name: "C".into(),
                ip: "1.2.3.4".into(),
                user_agent: None,
                decided_at: i as i64,
                result: (*result).into(),
                detail: None,
            })
            .unwrap();
        }
        let h = l.history(10).unwrap();
        assert_eq!(h[0].result, "denied");
        assert_eq!(h[1].result, "approved");
        assert_eq!(l.get_meta("x").unwrap(), None);
        l.set_meta("x", "1").unwrap();
        l.set_meta("x", "2").unwrap();
        assert_eq!(l.get_meta("x").unwrap().as_deref(), Some("2"));
    }
}
