//! The verified claims kept ([`StoredGrant`]): each with the issuer's
//! grant, replaced when verified again, offered until it expires.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Local, LocalError, db};

/// A verified claim with the issuer's grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGrant {
    pub scope: String,
    pub value: String,
    #[serde(skip)]
    pub jwt: String,
    pub exp: i64,
}

impl Local {
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
