//! Relying parties: from the configuration file, or added with
//! `authentiq-server client add` (stored, secret hashed).
//!
//! Here: [`Client`] and its settings, with the questions the endpoints ask
//! of it (redirect URIs, response and grant types, its secret). Checking
//! that a configured client makes sense ([`Client::validate`]) is in
//! `validate.rs`; finding clients in the configuration and the store
//! ([`find`], [`all`], [`stored`]) in `lookup.rs`.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

mod lookup;
#[cfg(test)]
mod tests;
mod validate;

pub use lookup::{all, find, stored};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Confidential: HTTP Basic (or, equally accepted, the form body).
    #[default]
    ClientSecretBasic,
    /// Confidential: `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// Public client (native or browser app): no secret, PKCE required.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// A different `sub` for the same user at each client (the default).
    #[default]
    Pairwise,
    /// The user's Authentiq ID as `sub`.
    Public,
}

fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}

fn default_alg() -> String {
    "RS256".into()
}

/// A registered client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub client_id: String,
    /// Config-file clients only: the secret itself (needed for HS256 ID tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Base64url SHA-256 of the secret (stored clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_sha256: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: AuthMethod,
    /// Allowed `response_type` values, e.g. `["code", "code id_token"]`.
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    /// `RS256` (default), `ES256`, `EdDSA` or `HS256`.
    #[serde(default = "default_alg")]
    pub id_token_signed_response_alg: String,
    #[serde(default)]
    pub subject_type: SubjectType,
    /// Where the user may be sent after signing out (RP-Initiated Logout
    /// 1.0); exact match, like redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens are POSTed when the user's session ends
    /// (Back-Channel Logout 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// The client wants `sid` in logout tokens (we always send it when the
    /// logout is of one session).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// PKCE (S256) on every authorization code request, as OAuth 2.1 asks.
    /// `false` only for legacy confidential clients that cannot send it.
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// Grant types it may use at `/token` (empty: any it can).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// RFC 7591 metadata shown to people or kept for the owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// The account a client registered over HTTP belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When it was registered over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<i64>,
    /// Base64url SHA-256 of its RFC 7592 registration access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token_sha256: Option<String>,
    /// The secret itself, sealed with the server's sealing key, for
    /// registered HS256 clients (whose ID tokens are keyed with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_sealed: Option<String>,
    /// SDK verification flows: named sets of claims its backend may ask a
    /// user's app for with an SDK token (seed 003).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sdk_flows: Vec<SdkFlow>,
    /// Where SDK results are POSTed (besides being fetched once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_webhook_uri: Option<String>,
    /// CIBA: `poll` (the default) or `ping`, and where pings go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// Authorization requests must come through PAR (RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Its owning account is deactivated (or a guest): it may not sign
    /// anyone in or get tokens. Worked out when loaded, never stored.
    #[serde(skip)]
    pub suspended: bool,
}

/// An SDK verification flow: e.g. slug `kyc`, scope `email~rs phone~rs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkFlow {
    pub slug: String,
    pub scope: String,
}

fn yes() -> bool {
    true
}

impl Default for Client {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: None,
            client_secret_sha256: None,
            name: String::new(),
            redirect_uris: Vec::new(),
            client_uri: None,
            logo_uri: None,
            token_endpoint_auth_method: AuthMethod::default(),
            response_types: default_response_types(),
            id_token_signed_response_alg: default_alg(),
            subject_type: SubjectType::default(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            require_pkce: true,
            grant_types: Vec::new(),
            contacts: Vec::new(),
            policy_uri: None,
            tos_uri: None,
            owner: None,
            client_id_issued_at: None,
            registration_access_token_sha256: None,
            client_secret_sealed: None,
            sdk_flows: Vec::new(),
            sdk_webhook_uri: None,
            backchannel_token_delivery_mode: None,
            backchannel_client_notification_endpoint: None,
            require_pushed_authorization_requests: false,
            suspended: false,
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field(
                "id_token_signed_response_alg",
                &self.id_token_signed_response_alg,
            )
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    /// Exact string comparison (RFC 9700 §2.1): no prefix, no wildcards.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether it may use `grant_type` at `/token`.
    pub fn allows_grant_type(&self, grant_type: &str) -> bool {
        self.grant_types.is_empty() || self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Exact match, as for redirect URIs.
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }

    /// The origins (scheme, host, port) of the client's redirect URIs: the
    /// pages that may frame its session iframe.
    pub fn origins(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok())
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
            .map(|o| o.ascii_serialization())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether `response_type` (any order of its words) is allowed.
    pub fn allows_response_type(&self, response_type: &str) -> bool {
        let want = normalize_response_type(response_type);
        self.response_types
            .iter()
            .any(|r| normalize_response_type(r) == want)
    }

    /// Whether the client signs users in through the browser (and so needs
    /// redirect URIs): any grant but CIBA and the device grant.
    pub fn uses_redirects(&self) -> bool {
        self.grant_types.is_empty()
            || self
                .grant_types
                .iter()
                .any(|g| matches!(g.as_str(), "authorization_code" | "implicit"))
    }

    /// Checks a presented secret in constant time.
    pub fn verify_secret(&self, secret: &str) -> bool {
        if let Some(plain) = &self.client_secret {
            return plain.as_bytes().ct_eq(secret.as_bytes()).into();
        }
        match &self.client_secret_sha256 {
            Some(h) => crate::secrets::hash_secret_b64(secret)
                .as_bytes()
                .ct_eq(h.as_bytes())
                .into(),
            None => false,
        }
    }
}

/// `code id_token` and `id_token code` are the same response type.
pub fn normalize_response_type(rt: &str) -> Vec<&str> {
    let mut words: Vec<&str> = rt.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    words
}
