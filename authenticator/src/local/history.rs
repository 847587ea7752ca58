//! The history of decisions ([`Decision`]): each answer to a request,
//! recorded once and read newest first.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Local, LocalError, db};
use crate::purpose::{self, Purpose};

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
    /// The request's heading, as [`Request::label`](super::Request::label) words it.
    pub fn label(&self) -> String {
        purpose::request_label(self.purpose, self.backchannel, &self.client_name)
    }
}

impl Local {
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
}
