//! Relying parties: from the configuration file, or added with
//! `authentiq-server client add` (stored, secret hashed).

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::store::StoreError;
use crate::{ApiError, AppState};

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

    /// Checks that a configured client makes sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.is_empty() || self.name.is_empty() {
            return Err("client_id and name are required".into());
        }
        if self.redirect_uris.is_empty() && self.uses_redirects() {
            return Err(format!("client {}: no redirect_uris", self.client_id));
        }
        match self.backchannel_token_delivery_mode.as_deref() {
            None | Some("poll") => {}
            Some("ping") if self.backchannel_client_notification_endpoint.is_some() => {}
            Some("ping") => {
                return Err(format!(
                    "client {}: ping mode needs backchannel_client_notification_endpoint",
                    self.client_id
                ));
            }
            Some(other) => {
                return Err(format!(
                    "client {}: backchannel_token_delivery_mode {other} is not supported (poll or ping)",
                    self.client_id
                ));
            }
        }
        for (what, r) in self
            .redirect_uris
            .iter()
            .map(|r| ("redirect_uri", r))
            .chain(
                self.post_logout_redirect_uris
                    .iter()
                    .map(|r| ("post_logout_redirect_uri", r)),
            )
            .chain(
                self.backchannel_logout_uri
                    .iter()
                    .map(|r| ("backchannel_logout_uri", r)),
            )
            .chain(
                self.backchannel_client_notification_endpoint
                    .iter()
                    .map(|r| ("backchannel_client_notification_endpoint", r)),
            )
        {
            let u = url::Url::parse(r)
                .map_err(|e| format!("client {}: {what} {r}: {e}", self.client_id))?;
            if u.fragment().is_some() {
                return Err(format!(
                    "client {}: {what} {r} has a fragment",
                    self.client_id
                ));
            }
            if !matches!(u.scheme(), "https" | "http") && what.starts_with("backchannel") {
                return Err(format!(
                    "client {}: {what} {r} is not an http(s) URL",
                    self.client_id
                ));
            }
        }
        for flow in &self.sdk_flows {
            if flow.slug.trim().is_empty()
                || flow
                    .scope
                    .parse::<authentiq_protocol::scope::Scope>()
                    .is_err()
            {
                return Err(format!(
                    "client {}: SDK flow {:?} needs a slug and a valid scope",
                    self.client_id, flow.slug
                ));
            }
        }
        if let Some(w) = &self.sdk_webhook_uri
            && !url::Url::parse(w).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
        {
            return Err(format!(
                "client {}: sdk_webhook_uri must be an http(s) URL",
                self.client_id
            ));
        }
        if self.is_public() && !self.require_pkce {
            return Err(format!(
                "client {}: a public client cannot opt out of PKCE",
                self.client_id
            ));
        }
        let has_secret = self.client_secret.is_some() || self.client_secret_sha256.is_some();
        if self.is_public() == has_secret {
            return Err(format!(
                "client {}: a public client has no secret; a confidential one needs one",
                self.client_id
            ));
        }
        if self.id_token_signed_response_alg == "HS256"
            && self
                .client_secret
                .as_ref()
                .is_none_or(|s| s.len() < super::keys::HS256_MIN_SECRET)
        {
            return Err(format!(
                "client {}: HS256 needs the client_secret itself in the configuration, at least {} bytes",
                self.client_id,
                super::keys::HS256_MIN_SECRET
            ));
        }
        if !["RS256", "ES256", "EdDSA", "HS256"]
            .contains(&self.id_token_signed_response_alg.as_str())
        {
            return Err(format!(
                "client {}: unsupported id_token_signed_response_alg",
                self.client_id
            ));
        }
        Ok(())
    }
}

/// `code id_token` and `id_token code` are the same response type.
pub fn normalize_response_type(rt: &str) -> Vec<&str> {
    let mut words: Vec<&str> = rt.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// Finds a client: the configuration first, then the database.
pub async fn find(state: &AppState, client_id: &str) -> Result<Option<Client>, ApiError> {
    if let Some(c) = state
        .config
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
    {
        return Ok(Some(c.clone()));
    }
    let id = client_id.to_string();
    let data = match state.db.read(move |s| s.get_client(&id)).await {
        Ok(data) => data,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(loaded(state, &data).await?))
}

/// A stored client, made ready: its sealed secret opened, and suspended
/// when its owner may no longer own clients.
async fn loaded(state: &AppState, data: &str) -> Result<Client, ApiError> {
    let mut client: Client = serde_json::from_str(data).map_err(|e| {
        tracing::error!(error = %e, "a stored client does not parse");
        ApiError::internal("corrupt client record")
    })?;
    if let Some(sealed) = &client.client_secret_sealed {
        client.client_secret = Some(state.sealer.open(sealed, &client.client_id).map_err(|e| {
            tracing::error!(error = %e, client = %client.client_id, "cannot open a sealed client secret");
            ApiError::internal("cannot open the client secret")
        })?);
    }
    if let Some(owner) = client.owner.clone() {
        client.suspended = match state.db.read(move |s| s.get_account(&owner)).await {
            Ok(a) => {
                a.deactivated_at.is_some()
                    || !crate::accounts::Role::parse(&a.role).is_some_and(|r| r.may_own_clients())
            }
            Err(StoreError::NotFound) => true,
            Err(e) => return Err(e.into()),
        };
    }
    Ok(client)
}

/// Every client: the configuration's, then the database's.
pub async fn all(state: &AppState) -> Result<Vec<Client>, ApiError> {
    let mut out = state.config.clients.clone();
    out.extend(stored(state, None).await?);
    Ok(out)
}

/// The stored clients (those `owner` registered, or all).
pub async fn stored(state: &AppState, owner: Option<&str>) -> Result<Vec<Client>, ApiError> {
    let owner = owner.map(str::to_string);
    let rows = state
        .db
        .call(move |s| match owner {
            Some(o) => s.list_clients_of(&o),
            None => s.list_clients(),
        })
        .await?;
    let mut out = Vec::new();
    for (_, data) in rows {
        out.push(loaded(state, &data).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client {
            client_id: "c".into(),
            client_secret: None,
            client_secret_sha256: Some(crate::secrets::hash_secret_b64("s3cret")),
            name: "C".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            client_uri: None,
            logo_uri: None,
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            response_types: vec!["code".into(), "id_token code".into()],
            id_token_signed_response_alg: "RS256".into(),
            subject_type: SubjectType::Pairwise,
            ..Client::default()
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client();
        assert!(c.has_redirect_uri("https://rp.example/cb"));
        for bad in [
            "https://rp.example/cb/",
            "https://rp.example/cb?x=1",
            "https://rp.example/c",
            "HTTPS://rp.example/cb",
        ] {
            assert!(!c.has_redirect_uri(bad), "{bad}");
        }
    }

    #[test]
    fn response_types_ignore_word_order() {
        let c = client();
        assert!(c.allows_response_type("code"));
        assert!(c.allows_response_type("code id_token"));
        assert!(!c.allows_response_type("token"));
        assert!(!c.allows_response_type("code token"));
    }

    #[test]
    fn secrets_compare_by_hash() {
        let c = client();
        assert!(c.verify_secret("s3cret"));
        assert!(!c.verify_secret("s3cre"));
        assert!(!c.verify_secret(""));
    }

    #[test]
    fn validation_catches_misconfiguration() {
        assert!(client().validate().is_ok());
        let mut c = client();
        c.token_endpoint_auth_method = AuthMethod::None;
        assert!(c.validate().is_err(), "public with a secret");
        c.client_secret_sha256 = None;
        assert!(c.validate().is_ok());
        c.redirect_uris = vec!["https://x.example/cb#frag".into()];
        assert!(c.validate().is_err());
        let mut c = client();
        c.id_token_signed_response_alg = "HS256".into();
        assert!(c.validate().is_err(), "HS256 needs the secret itself");
        c.id_token_signed_response_alg = "none".into();
        assert!(c.validate().is_err());
    }
}
