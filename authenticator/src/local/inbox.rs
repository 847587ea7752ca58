//! The inbox: sign-in requests as they are kept ([`Request`]), each added
//! once under an id of the inbox's own, offered while pending and
//! unexpired, and purged a while after it expires.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{Local, LocalError, REQUEST_SEQ, db};
use crate::purpose::{self, Purpose};

/// How long a request stays in the inbox after it expires, answered or
/// not: longer than the clock skew ([`authentiq_protocol::Validation`]'s
/// leeway, 60 s) with which an event still verifies after its expiry, so
/// that no replay of an event can outlive the record of its request.
pub const KEEP_AFTER_EXPIRY: i64 = 10 * 60;
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

impl Local {
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
}
