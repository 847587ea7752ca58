//! Sign-in sessions: what `/authorize` asked for, and what the user's
//! device answered. Stored as records of kind `session`, 5 minutes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How long a sign-in session waits for the user.
pub const SESSION_TTL: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Denied,
}

/// How the authorization response is returned to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// The validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Normalized (sorted) words, e.g. `code id_token`.
    pub response_type: String,
    pub response_mode: ResponseMode,
    /// Scope as requested, with modifiers.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub max_age: Option<i64>,
    /// RFC 9449 §10: the code may only be redeemed with a DPoP proof by
    /// the key of this thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

impl AuthRequest {
    pub fn wants(&self, word: &str) -> bool {
        self.response_type.split(' ').any(|w| w == word)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionData {
    pub request: AuthRequest,
    /// Echoed by the app's signed response.
    pub push_nonce: String,
    pub numbers: [u16; 3],
    /// The one of `numbers` the page shows.
    pub shown: u16,
    pub status: Status,
    /// SHA-256 of the browser-binding cookie: only the browser that started
    /// the sign-in may continue it.
    pub browser: String,
    pub csrf: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set on approval.
    #[serde(default)]
    pub pk: Option<String>,
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Scopes granted (without modifiers).
    #[serde(default)]
    pub granted_scope: String,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub push_token: Option<String>,
    #[serde(default)]
    pub pushed: bool,
    #[serde(default)]
    pub wrong_numbers: u32,
    #[serde(default)]
    pub reported: bool,
    /// What the answer is for: a sign-in, or an SDK operation.
    #[serde(default)]
    pub purpose: authentiq_protocol::payloads::Purpose,
    /// Only this key may answer (a re-authentication of a known user).
    #[serde(default)]
    pub expected_pk: Option<String>,
    /// The SDK token that started it (its record id).
    #[serde(default)]
    pub sdk_token: Option<String>,
    /// CIBA: the client's binding message (there is no number to match).
    #[serde(default)]
    pub binding_message: Option<String>,
    /// The grant that waits on this session's answer, when it is not the
    /// browser's (CIBA, device authorization).
    #[serde(default)]
    pub link: Option<GrantLink>,
}

/// A grant a session's answer completes (its record id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GrantLink {
    Ciba { id: String },
    Device { id: String },
}

impl SessionData {
    /// Started by a client's backend (CIBA): no browser shows a number.
    pub fn is_backchannel(&self) -> bool {
        matches!(self.link, Some(GrantLink::Ciba { .. }))
    }

    /// A new session waiting for the user: fresh numbers (one of them to
    /// show), nonce and CSRF token; bound to the browser holding `binding`.
    pub fn pending(
        request: AuthRequest,
        requester: authentiq_protocol::payloads::Requester,
        binding: &str,
        now: i64,
    ) -> Self {
        let numbers = crate::routes::login::candidate_numbers();
        let shown = numbers[usize::from(crate::secrets::random_bytes::<1>()[0]) % 3];
        Self {
            request,
            push_nonce: super::records::new_token(),
            numbers,
            shown,
            status: Status::Pending,
            browser: super::records::token_id(binding),
            csrf: super::records::new_token(),
            ip: requester.ip,
            user_agent: requester.user_agent,
            created_at: now,
            expires_at: now + SESSION_TTL,
            pk: None,
            claims: Map::new(),
            granted_scope: String::new(),
            auth_time: None,
            push_token: None,
            pushed: false,
            wrong_numbers: 0,
            reported: false,
            purpose: Default::default(),
            expected_pk: None,
            sdk_token: None,
            binding_message: None,
            link: None,
        }
    }
}

/// The SSO session behind the provider's session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoData {
    pub pk: String,
    pub auth_time: i64,
    /// Claims the user shared in that sign-in.
    pub claims: Map<String, Value>,
    pub granted_scope: String,
    /// The OP browser state (see [`super::cookies::BROWSER_STATE`]).
    #[serde(default)]
    pub browser_state: String,
}
