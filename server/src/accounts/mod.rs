//! Accounts (seed 004) at `/authentiq/v1/…`: the people who own relying
//! parties and run the server. [`password`] hashes, [`session`] issues and
//! checks account tokens, [`routes`] is the API, [`admin`] what the command
//! line does.

pub mod admin;
pub mod password;
pub mod routes;
pub mod session;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use session::Caller;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including other accounts.
    Admin,
    /// Owns clients.
    User,
    /// Waits for an admin: owns nothing.
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "guest" => Some(Role::Guest),
            _ => None,
        }
    }

    /// Whether the account may own clients.
    pub fn may_own_clients(self) -> bool {
        self != Role::Guest
    }
}
