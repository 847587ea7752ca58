//! The authenticator's local state: one SQLite file per profile holding the
//! inbox of sign-in requests, the history of decisions, the verified
//! grants and the device channel's resume point. No secrets: the key is in
//! the OS keyring.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::purpose::{self, Purpose};

/// How long a request stays in the inbox after it expires, answered or
/// not: longer than the clock skew ([`authentiq_protocol::Validation`]'s
/// leeway, 60 s) with which an event still verifies after its expiry, so
/// that no replay of an event can outlive the record of its request.
pub const KEEP_AFTER_EXPIRY: i64 = 10 * 60;

/// The `meta` key of the request counter (kept by [`Local::reset_identity`]).
const REQUEST_SEQ: &str = "request_seq";

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
const MIGRATIONS: &[&str] = &[
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

/// A sign-in request as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Short id for the CLI and the UI, given by the inbox
    /// ([`Local::add_request`]): a number, never reused in a profile.
    pub id: String,
    pub session: String,
    /// What it is for: a sign-in, a verification or a re-authentication
    /// (answered alike; worded by [`Request::label`]).
    #[serde(default)]
    pub purpose: Purpose,
    /// Started by the client's backend (CIBA), with no browser page showing
    /// a number: approved without one, the user checking the
    /// `binding_message` instead.
    #[serde(default)]
    pub backchannel: bool,
    /// With `backchannel`: the client's short message, as received (cleaned
    /// to plain text: [`purpose::clean_binding_message`]), for the user to
    /// check against what the client shows them.
    #[serde(default)]
    pub binding_message: Option<String>,
    /// The issuer-signed event it came in (kept to prove its origin).
    #[serde(skip)]
    pub event: String,
    pub client_id: String,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub scope: String,
    pub ip: String,
    pub user_agent: Option<String>,
    /// Three candidates, one of them on the sign-in page; with
    /// `backchannel` there is no page, and they mean nothing.
    pub numbers: [u16; 3],
    #[serde(skip)]
    pub nonce: String,
    pub received_at: i64,
    pub expires_at: i64,
    pub state: String,
}

impl Request {
    /// "Sign in to X", "Verify your details for X", "Confirm it's you for
    /// X"; "Sign-in requested by X" when X's backend started it.
    pub fn label(&self) -> String {
        purpose::request_label(self.purpose, self.backchannel, &self.client_name)
    }

    /// What to check before approving a backchannel request ("Check that X
    /// shows: …"); `None` when a number is matched instead.
    pub fn binding_check(&self) -> Option<String> {
        purpose::binding_check(
            self.backchannel,
            &self.client_name,
            self.binding_message.as_deref(),
        )
    }
}

/// One decision, for `aq history` and the app's history screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub request_id: String,
    /// What the request decided on was for (decisions from before purposes
    /// were kept read as sign-ins).
    #[serde(default)]
    pub purpose: Purpose,
    /// The request was started by the client's backend (CIBA; decisions
    /// from before this was kept read as not).
    #[serde(default)]
    pub backchannel: bool,
    /// Its binding message, if the client sent one.
    #[serde(default)]
    pub binding_message: Option<String>,
    pub client_id: String,
    pub client_name: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub decided_at: i64,
    /// `approved`, `denied`, `reported`, or `refused` (the server said no).
    pub result: String,
    pub detail: Option<String>,
}

impl Decision {
    /// The request's heading, as [`Request::label`] words it.
    pub fn label(&self) -> String {
        purpose::request_label(self.purpose, self.backchannel, &self.client_name)
    }
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
        Self::migrate(&conn)?;
        Ok(Self { conn })
    }

    /// Brings the schema up to date ([`MIGRATIONS`]). A profile a newer
    /// version migrated further is left as it is.
    fn migrate(conn: &Connection) -> Result<(), LocalError> {
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

    /// Adds a request unless its session is already in the inbox; `true` if
    /// new. Either way `r.id` is then the request's id in the inbox: a new
    /// one (the id `r` came with is not used), or that of the request
    /// already there for the session, whose row is left as it was (a
    /// replayed event is a no-op). Requests whose time is long past go
    /// first ([`Local::purge`]), all in one transaction.
    pub fn add_request(&self, r: &mut Request, now: i64) -> Result<bool, LocalError> {
        let numbers = serde_json::to_string(&r.numbers).map_err(|e| LocalError(e.to_string()))?;
        // IMMEDIATE: the write lock from the start, so that another process
        // on this profile (the app and `aq`) cannot take the same id.
        let tx =
            Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(db)?;
        Self::purge_in(&tx, now)?;
        let known: Option<String> = tx
            .query_row(
                "SELECT id FROM requests WHERE session = ?1",
                [&r.session],
                |row| row.get(0),
            )
            .optional()
            .map_err(db)?;
        if let Some(id) = known {
            r.id = id;
            return Ok(false);
        }
        let id = Self::next_id(&tx)?;
        tx.execute(
            "INSERT INTO requests (id, session, event, client_id, client_name, client_uri,
                scope, ip, user_agent, numbers, nonce, received_at, expires_at, state, purpose,
                backchannel, binding_message)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                id,
                r.session,
                r.event,
                r.client_id,
                r.client_name,
                r.client_uri,
                r.scope,
                r.ip,
                r.user_agent,
                numbers,
                r.nonce,
                r.received_at,
                r.expires_at,
                r.state,
                purpose::as_str(r.purpose),
                r.backchannel,
                r.binding_message
            ],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        r.id = id;
        Ok(true)
    }

    /// The next request id: the profile's request counter, counted on past
    /// any id still in the inbox (rows from before the counter had other
    /// ids). Short for `aq approve ID`, and never given twice in a profile.
    fn next_id(tx: &Transaction<'_>) -> Result<String, LocalError> {
        let mut seq: u64 = tx
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [REQUEST_SEQ],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(db)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let id = loop {
            seq = seq.saturating_add(1);
            let id = seq.to_string();
            let taken: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM requests WHERE id = ?1)",
                    [&id],
                    |r| r.get(0),
                )
                .map_err(db)?;
            if !taken {
                break id;
            }
        };
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![REQUEST_SEQ, id],
        )
        .map_err(db)?;
        Ok(id)
    }

    /// Forgets the requests, answered or not, that expired more than
    /// [`KEEP_AFTER_EXPIRY`] ago (the history keeps the decisions): the
    /// server replays no event past its expiry, and one replayed anyway
    /// would not verify any more. Until then an answered request stays, so
    /// that a late replay of its event is still known. How many went.
    pub fn purge(&self, now: i64) -> Result<usize, LocalError> {
        Self::purge_in(&self.conn, now)
    }

    fn purge_in(conn: &Connection, now: i64) -> Result<usize, LocalError> {
        conn.execute(
            "DELETE FROM requests WHERE expires_at < ?1",
            [now.saturating_sub(KEEP_AFTER_EXPIRY)],
        )
        .map_err(db)
    }

    fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
        let numbers: String = r.get(9)?;
        let purpose: String = r.get(14)?;
        Ok(Request {
            id: r.get(0)?,
            session: r.get(1)?,
            purpose: purpose::parse(&purpose),
            backchannel: r.get(15)?,
            binding_message: r.get(16)?,
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
        user_agent, numbers, nonce, received_at, expires_at, state, purpose,
        backchannel, binding_message";

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
                "INSERT INTO history (request_id, client_id, client_name, ip, user_agent, decided_at, result, detail, purpose,
                    backchannel, binding_message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    d.request_id,
                    d.client_id,
                    d.client_name,
                    d.ip,
                    d.user_agent,
                    d.decided_at,
                    d.result,
                    d.detail,
                    purpose::as_str(d.purpose),
                    d.backchannel,
                    d.binding_message
                ],
            )
            .map(|_| ())
            .map_err(db)
    }

    /// Newest first.
    pub fn history(&self, limit: u32) -> Result<Vec<Decision>, LocalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT request_id, client_id, client_name, ip, user_agent, decided_at, result, detail, purpose,
                    backchannel, binding_message
                 FROM history ORDER BY id DESC LIMIT ?1",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([limit], |r| {
                let purpose: String = r.get(8)?;
                Ok(Decision {
                    request_id: r.get(0)?,
                    purpose: purpose::parse(&purpose),
                    backchannel: r.get(9)?,
                    binding_message: r.get(10)?,
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
            purpose: Purpose::SignIn,
            backchannel: false,
            binding_message: None,
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
        let mut a = req("", "s1", 100);
        assert!(l.add_request(&mut a, 0).unwrap());
        assert_eq!(a.id, "1", "ids are the inbox's: a counter");
        let mut again = req("other", "s1", 100);
        assert!(!l.add_request(&mut again, 0).unwrap(), "same session twice");
        assert_eq!(again.id, a.id, "a known session keeps its id");
        let mut b = req("", "s2", 50);
        assert!(l.add_request(&mut b, 0).unwrap());
        assert_eq!(b.id, "2");
        let ids: Vec<_> = l.pending(60).unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, [a.id.clone()]);
        l.set_request_state(&a.id, "approved").unwrap();
        assert!(l.pending(60).unwrap().is_empty());
        // Answered, the request stays until well after its expiry: a replay
        // of its event changes nothing.
        let mut replay = req("", "s1", 100);
        assert!(!l.add_request(&mut replay, 99).unwrap());
        assert_eq!(l.request(&a.id).unwrap().unwrap().state, "approved");
        assert_eq!(l.request(&a.id).unwrap().unwrap().numbers, [11, 22, 33]);
        assert_eq!(l.purge(100 + KEEP_AFTER_EXPIRY).unwrap(), 1, "b, expired");
        assert!(l.request(&a.id).unwrap().is_some());
        assert_eq!(l.purge(101 + KEEP_AFTER_EXPIRY).unwrap(), 1, "a");
        assert_eq!(l.request(&a.id).unwrap(), None);
    }

    #[test]
    fn the_inbox_and_the_history_keep_what_a_request_is_for() {
        let l = Local::open(Path::new(":memory:")).unwrap();
        for (session, p) in [
            ("s1", Purpose::SignIn),
            ("s2", Purpose::Verification),
            ("s3", Purpose::Reauthentication),
        ] {
            let mut r = req("", session, 100);
            r.purpose = p;
            l.add_request(&mut r, 0).unwrap();
            let kept = l.request(&r.id).unwrap().unwrap();
            assert_eq!(kept.purpose, p, "{session}");
            l.record(&Decision {
                request_id: r.id.clone(),
                purpose: kept.purpose,
                backchannel: false,
                binding_message: None,
                client_id: "c".into(),
                client_name: "C".into(),
                ip: "1.2.3.4".into(),
                user_agent: None,
                decided_at: 1,
                result: "approved".into(),
                detail: None,
            })
            .unwrap();
        }
        let pending: Vec<_> = l.pending(0).unwrap().iter().map(Request::label).collect();
        assert_eq!(
            pending,
            [
                "Sign in to C",
                "Verify your details for C",
                "Confirm it's you for C"
            ]
        );
        let history: Vec<_> = l.history(10).unwrap().iter().map(|d| d.purpose).collect();
        assert_eq!(
            history,
            [
                Purpose::Reauthentication,
                Purpose::Verification,
                Purpose::SignIn
            ]
        );
        // The CLI's JSON spells it as the protocol does.
        let json = serde_json::to_value(&l.pending(0).unwrap()[1]).unwrap();
        assert_eq!(json["purpose"], "verification");
    }

    #[test]
    fn the_inbox_and_the_history_keep_a_backchannel_request_and_its_message() {
        let l = Local::open(Path::new(":memory:")).unwrap();
        let mut ciba = req("", "s1", 100);
        ciba.backchannel = true;
        ciba.binding_message = Some("Order <1234> & co".into());
        l.add_request(&mut ciba, 0).unwrap();
        let mut quiet = req("", "s2", 100);
        quiet.backchannel = true;
        l.add_request(&mut quiet, 0).unwrap();
        let mut page = req("", "s3", 100);
        l.add_request(&mut page, 0).unwrap();
        let kept: Vec<(bool, Option<String>, String)> = l
            .pending(0)
            .unwrap()
            .into_iter()
            .map(|r| (r.backchannel, r.binding_message.clone(), r.label()))
            .collect();
        assert_eq!(
            kept,
            [
                (
                    true,
                    Some("Order <1234> & co".into()),
                    "Sign-in requested by C".into()
                ),
                (true, None, "Sign-in requested by C".into()),
                (false, None, "Sign in to C".into()),
            ]
        );
        let r = l.request(&ciba.id).unwrap().unwrap();
        assert_eq!(
            r.binding_check().as_deref(),
            Some("Check that C shows: Order <1234> & co")
        );
        assert_eq!(l.request(&page.id).unwrap().unwrap().binding_check(), None);
        for r in [&r, &page] {
            l.record(&Decision {
                request_id: r.id.clone(),
                purpose: r.purpose,
                backchannel: r.backchannel,
                binding_message: r.binding_message.clone(),
                client_id: "c".into(),
                client_name: "C".into(),
                ip: "1.2.3.4".into(),
                user_agent: None,
                decided_at: 1,
                result: "approved".into(),
                detail: None,
            })
            .unwrap();
        }
        let h = l.history(10).unwrap();
        assert_eq!(
            (h[1].backchannel, h[1].binding_message.as_deref()),
            (true, Some("Order <1234> & co"))
        );
        assert_eq!(h[1].label(), "Sign-in requested by C");
        assert_eq!(
            (h[0].backchannel, h[0].binding_message.as_deref()),
            (false, None)
        );
        // The CLI's JSON names both, always.
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["backchannel"], true);
        assert_eq!(json["binding_message"], "Order <1234> & co");
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["backchannel"], false);
        assert_eq!(json["binding_message"], serde_json::Value::Null);
    }

    /// A profile of the version that kept purposes (`user_version` 1): its
    /// rows read as matched by number, and that version (naming only the
    /// columns it knows) still writes to it once migrated.
    #[test]
    fn a_profile_with_purposes_is_migrated_and_its_rows_are_not_backchannel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let old_request = |c: &Connection, id: &str, session: &str| {
            c.execute(
                "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                    numbers, nonce, received_at, expires_at, state, purpose)
                 VALUES (?1, ?2, 'jwt', 'c', 'Old Shop', 'openid', '1.2.3.4', '[4,5,6]',
                    'n', 1, 100, 'pending', 'verification')",
                [id, session],
            )
            .unwrap();
        };
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(SCHEMA).unwrap();
            old.execute_batch(MIGRATIONS[0]).unwrap();
            old.execute_batch("PRAGMA user_version = 1").unwrap();
            old_request(&old, "1", "old-s");
            old.execute(
                "INSERT INTO history (request_id, client_id, client_name, ip, decided_at, result, purpose)
                 VALUES ('0', 'c', 'Old Shop', '1.2.3.4', 1, 'approved', 'reauthentication')",
                [],
            )
            .unwrap();
        }
        let l = Local::open(&path).unwrap();
        let v: i64 = l
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 2);
        let old = l.request("1").unwrap().unwrap();
        assert_eq!(
            (old.purpose, old.backchannel, old.binding_message),
            (Purpose::Verification, false, None)
        );
        let d = &l.history(10).unwrap()[0];
        assert_eq!(
            (d.purpose, d.backchannel, d.binding_message.as_deref()),
            (Purpose::Reauthentication, false, None)
        );
        // The version before, on the migrated profile.
        old_request(&l.conn, "9", "older-s");
        assert!(!l.request("9").unwrap().unwrap().backchannel);
        let mut new = req("", "new-s", 100);
        new.backchannel = true;
        new.binding_message = Some("Order 1234".into());
        l.add_request(&mut new, 0).unwrap();
        let new = l.request(&new.id).unwrap().unwrap();
        assert_eq!(
            (new.backchannel, new.binding_message.as_deref()),
            (true, Some("Order 1234"))
        );
    }

    /// A profile from before purposes were kept: its rows read as sign-ins,
    /// new rows keep their purpose, and an older `aq` (naming only the
    /// columns it knows) still writes to it.
    #[test]
    fn an_existing_profile_is_migrated_and_its_rows_read_as_sign_ins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        {
            // The schema and the writes of the versions before.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(SCHEMA).unwrap();
            old.execute(
                "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                    numbers, nonce, received_at, expires_at, state)
                 VALUES ('1', 'old-s', 'jwt', 'c', 'Old Shop', 'openid', '1.2.3.4', '[4,5,6]',
                    'n', 1, 100, 'pending')",
                [],
            )
            .unwrap();
            old.execute(
                "INSERT INTO history (request_id, client_id, client_name, ip, decided_at, result)
                 VALUES ('0', 'c', 'Old Shop', '1.2.3.4', 1, 'approved')",
                [],
            )
            .unwrap();
            old.execute(
                "INSERT INTO meta (key, value) VALUES ('request_seq', '1')",
                [],
            )
            .unwrap();
        }
        let version = |l: &Local| -> i64 {
            l.conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap()
        };
        let l = Local::open(&path).unwrap();
        assert_eq!(version(&l), MIGRATIONS.len() as i64);
        let old = l
            .request("1")
            .unwrap()
            .expect("the old request is still there");
        assert_eq!(old.purpose, Purpose::SignIn);
        assert_eq!(
            (old.backchannel, old.binding_message.as_deref()),
            (false, None)
        );
        assert_eq!(old.label(), "Sign in to Old Shop");
        assert_eq!(old.numbers, [4, 5, 6]);
        assert_eq!(l.pending(0).unwrap().len(), 1);
        assert_eq!(l.history(10).unwrap()[0].purpose, Purpose::SignIn);
        let mut new = req("", "new-s", 100);
        new.purpose = Purpose::Verification;
        assert!(l.add_request(&mut new, 0).unwrap());
        assert_eq!(new.id, "2", "the counter carries on");
        assert_eq!(
            l.request("2").unwrap().unwrap().purpose,
            Purpose::Verification
        );
        // An older version on the migrated profile.
        l.conn
            .execute(
                "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                    numbers, nonce, received_at, expires_at, state)
                 VALUES ('9', 'older-s', 'jwt', 'c', 'C', 'openid', '1.2.3.4', '[1,2,3]',
                    'n', 1, 100, 'pending')",
                [],
            )
            .unwrap();
        assert_eq!(l.request("9").unwrap().unwrap().purpose, Purpose::SignIn);
        drop(l);
        // Opened again, twice (the app and `aq` on one profile): nothing to do.
        let (a, b) = (Local::open(&path).unwrap(), Local::open(&path).unwrap());
        let n = MIGRATIONS.len() as i64;
        assert_eq!((version(&a), version(&b)), (n, n));
        assert_eq!(a.pending(0).unwrap().len(), 3);
        // A profile a newer version migrated further is left alone.
        a.conn.execute_batch("PRAGMA user_version = 70").unwrap();
        drop((a, b));
        let l = Local::open(&path).unwrap();
        assert_eq!(version(&l), 70);
        assert_eq!(l.pending(0).unwrap().len(), 3);
    }

    #[test]
    fn a_new_profile_starts_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
        let v: i64 = l
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mut r = req("", "s", 100);
        r.purpose = Purpose::Reauthentication;
        l.add_request(&mut r, 0).unwrap();
        assert_eq!(l.pending(0).unwrap()[0].purpose, Purpose::Reauthentication);
    }

    #[test]
    fn request_ids_are_never_reused_in_a_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        let l = Local::open(&path).unwrap();
        // Rows from before the counter: its ids are skipped.
        for (id, session) in [("2", "old-a"), ("3", "old-b")] {
            let r = req(id, session, 100);
            l.conn
                .execute(
                    "INSERT INTO requests (id, session, event, client_id, client_name, scope, ip,
                        numbers, nonce, received_at, expires_at, state)
                     VALUES (?1, ?2, '', '', '', '', '', '[1,2,3]', '', 0, ?3, 'pending')",
                    params![r.id, r.session, r.expires_at],
                )
                .unwrap();
        }
        let add = |l: &Local, session: &str| {
            let mut r = req("", session, 100);
            assert!(l.add_request(&mut r, 0).unwrap());
            r.id
        };
        assert_eq!(add(&l, "s1"), "1");
        assert_eq!(add(&l, "s2"), "4");
        drop(l);
        // Reopened, and after the identity is reset: still counting on.
        let l = Local::open(&path).unwrap();
        assert_eq!(add(&l, "s3"), "5");
        l.reset_identity().unwrap();
        assert_eq!(add(&l, "s4"), "6");
    }

    fn rows(l: &Local) -> i64 {
        l.conn
            .query_row("SELECT count(*) FROM requests", [], |r| r.get(0))
            .unwrap()
    }

    /// Months of sign-ins through one inbox: each one is added, offered and
    /// answerable by its id until it is answered or expires, none is ever
    /// dropped or mistaken for another, a replayed event is a no-op, and
    /// what is answered or expired goes in time (the inbox stays small).
    /// (With the old ids, 6 hex digits of the session's hash inserted with
    /// `INSERT OR IGNORE`, 10 of these 20,000 sessions were silently
    /// dropped: their ids collided with earlier ones, never purged.)
    #[test]
    fn twenty_thousand_sign_ins_none_dropped_and_the_answered_and_expired_purged() {
        const N: usize = 20_000;
        const LIFETIME: i64 = 120;
        struct Live {
            id: String,
            session: String,
            expires_at: i64,
            /// When the user answers it; `None`: left to expire.
            answer_at: Option<i64>,
            answered: bool,
        }
        // In memory: the same SQL, without 20,000 fsyncs.
        let l = Local::open(Path::new(":memory:")).unwrap();
        let mut now: i64 = 1_800_000_000;
        // Requests not expired yet, by arrival (so by expiry).
        let mut live: std::collections::VecDeque<Live> = Default::default();
        let mut ids = std::collections::HashSet::new();
        let mut answered: Vec<(String, String)> = Vec::new();
        let (mut approved, mut denied, mut expired, mut replays) = (0, 0, 0, 0);
        for i in 0..N {
            now += 1;
            // A sign-in, with a session URI of its own.
            let session = format!("https://id.example.com/sign-in/{i:08x}{:012x}", i * 7919);
            let mut r = req("ignored", &session, now + LIFETIME);
            r.received_at = now;
            assert!(l.add_request(&mut r, now).unwrap(), "request {i} dropped");
            assert!(r.id.len() <= 5, "a long id: {}", r.id);
            assert!(ids.insert(r.id.clone()), "id {} given twice", r.id);
            assert_eq!(l.request(&r.id).unwrap().unwrap().session, session);
            // Three in five answered some seconds later, the rest left to expire.
            let answer_at = (i % 5 < 3).then(|| now + 1 + (i % 90) as i64);
            live.push_back(Live {
                id: r.id,
                session,
                expires_at: now + LIFETIME,
                answer_at,
                answered: false,
            });
            // Replays of earlier events (on reconnect, or the same request
            // opened from its link), pending or answered: no-ops.
            if i % 7 == 0 {
                let earlier = &live[live.len() / 2];
                let mut again = req("ignored", &earlier.session, earlier.expires_at);
                assert!(
                    !l.add_request(&mut again, now).unwrap(),
                    "{} added again",
                    earlier.id
                );
                assert_eq!(again.id, earlier.id);
                replays += 1;
            }
            if i % 11 == 0
                && let Some((id, session)) = answered.get(answered.len().saturating_sub(3))
            {
                let mut again = req("ignored", session, now + LIFETIME);
                assert!(
                    !l.add_request(&mut again, now).unwrap(),
                    "answered {id} back"
                );
                assert_eq!(&again.id, id);
                assert_ne!(l.request(id).unwrap().unwrap().state, "pending");
                replays += 1;
            }
            // The answers due now, by id, to requests still pending.
            for r in live
                .iter_mut()
                .filter(|r| r.answer_at.is_some_and(|t| t <= now))
            {
                let stored = l
                    .request(&r.id)
                    .unwrap()
                    .expect("a pending request is kept");
                assert_eq!(
                    (stored.session.as_str(), stored.state.as_str()),
                    (r.session.as_str(), "pending")
                );
                let state = if i % 3 == 0 { "denied" } else { "approved" };
                l.set_request_state(&r.id, state).unwrap();
                if state == "denied" {
                    denied += 1;
                } else {
                    approved += 1;
                }
                r.answer_at = None;
                r.answered = true;
                answered.push((r.id.clone(), r.session.clone()));
            }
            // The ones that expire: pending until then, and kept a while.
            while live.front().is_some_and(|r| r.expires_at <= now) {
                let Some(r) = live.pop_front() else { break };
                let stored = l
                    .request(&r.id)
                    .unwrap()
                    .expect("kept a while after expiry");
                if !r.answered {
                    assert_eq!(stored.state, "pending");
                    expired += 1;
                }
            }
            if i % 97 == 0 {
                // Exactly the pending, unexpired ones are offered.
                let mut offered: Vec<String> =
                    l.pending(now).unwrap().into_iter().map(|r| r.id).collect();
                let mut expected: Vec<String> = live
                    .iter()
                    .filter(|r| !r.answered)
                    .map(|r| r.id.clone())
                    .collect();
                offered.sort();
                expected.sort();
                assert_eq!(offered, expected, "the inbox at step {i}");
                // And only what expired less than KEEP_AFTER_EXPIRY ago is kept.
                assert!(
                    rows(&l) <= LIFETIME + KEEP_AFTER_EXPIRY + 1,
                    "{} rows",
                    rows(&l)
                );
            }
        }
        assert!(
            approved > N / 4 && denied > N / 10 && expired > N / 3,
            "{approved} {denied} {expired}"
        );
        assert!(replays > N / 10, "{replays}");
        assert_eq!(ids.len(), N);
        // Long after: the inbox is empty.
        l.purge(now + LIFETIME + KEEP_AFTER_EXPIRY + 1).unwrap();
        assert_eq!(rows(&l), 0);
    }

    #[test]
    fn reset_identity_keeps_only_history() {
        let dir = tempfile::tempdir().unwrap();
        let l = Local::open(&dir.path().join("l.sqlite3")).unwrap();
        l.add_request(&mut req("", "s1", 100), 0).unwrap();
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
            purpose: Purpose::SignIn,
            backchannel: false,
            binding_message: None,
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
                purpose: Purpose::SignIn,
                backchannel: false,
                binding_message: None,
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
