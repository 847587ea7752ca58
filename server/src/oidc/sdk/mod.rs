//! Single-use SDK tokens (seed 003): a client's backend mints a short-lived
//! token with its client credentials ([`mint`]) and hands it to its own
//! front end, which spends it on exactly one operation with the user's
//! Authentiq app ([`session`]): a *verification* (the claims of a named
//! flow) or a *face authentication* (our re-authentication of a user the
//! client knows by its `sub`). The outcome is a server-signed JWT the
//! backend fetches once, or receives at its webhook ([`result`]).
//! Errors are `{errorCode, errorMessage}` ([`error`]).

pub mod error;
pub mod mint;
pub mod result;
pub mod session;

use axum::Router;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Record kinds: the minted tokens, and the results waiting to be fetched.
pub const TOKEN: &str = "sdk-token";
pub const RESULT: &str = "sdk-result";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/mobile-sdk/verification-token", get(mint::verification))
        .route(
            "/mobile-sdk/token",
            get(
                #[allow(deprecated)]
                mint::deprecated,
            ),
        )
        .route("/mobile-sdk/face-authentication-token", get(mint::face))
        .route("/mobile-sdk/sessions", post(session::start))
        .route("/mobile-sdk/sessions/{id}", get(session::status))
        .route("/mobile-sdk/sessions/{id}/result", get(result::fetch))
}

/// Which operation a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Verification,
    FaceAuthentication,
}

/// A minted token, as stored (under the hash of the token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SdkToken {
    pub client_id: String,
    pub operation: Operation,
    /// The claims asked for (the flow's scope, `openid` included).
    pub scope: String,
    /// For a face authentication: the user's key.
    pub pk: Option<String>,
    /// The token works until then (it is kept longer, to say "expired").
    pub valid_until: i64,
}
