//! [`Client::validate`]: the checks every client must pass, from the
//! configuration, `client add` or registration over HTTP (its id and name,
//! redirect and back-channel URIs, CIBA delivery mode, SDK flows, PKCE and
//! secret for its kind, and the ID token algorithm).

use super::Client;

impl Client {
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
                .is_none_or(|s| s.len() < crate::oidc::keys::HS256_MIN_SECRET)
        {
            return Err(format!(
                "client {}: HS256 needs the client_secret itself in the configuration, at least {} bytes",
                self.client_id,
                crate::oidc::keys::HS256_MIN_SECRET
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
