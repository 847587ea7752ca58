//! Clients as the dashboard's pages show them, and the client form's
//! fields read into the registration metadata (validated there, as every
//! registration is).

use serde::Serialize;

use super::form::Form;
use crate::oidc::clients::{AuthMethod, Client, SdkFlow, SubjectType};
use crate::oidc::registration::metadata::Metadata;

/// A client in a list or on its page.
#[derive(Debug, Serialize)]
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub confidential: bool,
    pub kind: &'static str,
    pub suspended: bool,
    pub redirect_uris: Vec<String>,
    pub owner_email: Option<String>,
    /// Managed in the configuration file, not here.
    pub from_config: bool,
}

impl ClientView {
    pub fn of(c: &Client) -> Self {
        Self {
            id: c.client_id.clone(),
            name: c.name.clone(),
            confidential: !c.is_public(),
            kind: if c.is_public() {
                "Public (PKCE, no secret)"
            } else {
                "Confidential (with a secret)"
            },
            suspended: c.suspended,
            redirect_uris: c.redirect_uris.clone(),
            owner_email: None,
            from_config: false,
        }
    }
}

/// The client form's fields, as typed (or as the client has them).
#[derive(Debug, Default, Serialize)]
pub struct Fields {
    pub name: String,
    pub logo_uri: String,
    /// One per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: String,
    pub auth_method: String,
    pub alg: String,
    pub subject_type: String,
    /// SDK verification flows, one per line: `slug: scope`.
    pub sdk_flows: String,
    /// The allowed `response_type` values ticked.
    pub response_types: Vec<String>,
}

/// The response types the form offers (the registration's).
pub const RESPONSE_TYPES: [&str; 7] = [
    "code",
    "code id_token",
    "code token",
    "code id_token token",
    "id_token",
    "id_token token",
    "token",
];

fn method_name(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::ClientSecretBasic => "client_secret_basic",
        AuthMethod::ClientSecretPost => "client_secret_post",
        AuthMethod::None => "none",
    }
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

impl Fields {
    /// A new client's defaults.
    pub fn new_client() -> Self {
        Self {
            response_types: vec!["code".into()],
            auth_method: "client_secret_basic".into(),
            alg: "RS256".into(),
            subject_type: "pairwise".into(),
            ..Self::default()
        }
    }

    pub fn of(c: &Client) -> Self {
        Self {
            name: c.name.clone(),
            logo_uri: c.logo_uri.clone().unwrap_or_default(),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            backchannel_logout_uri: c.backchannel_logout_uri.clone().unwrap_or_default(),
            auth_method: method_name(c.token_endpoint_auth_method).into(),
            alg: c.id_token_signed_response_alg.clone(),
            subject_type: match c.subject_type {
                SubjectType::Pairwise => "pairwise".into(),
                SubjectType::Public => "public".into(),
            },
            sdk_flows: c
                .sdk_flows
                .iter()
                .map(|f| format!("{}: {}", f.slug, f.scope))
                .collect::<Vec<_>>()
                .join("\n"),
            response_types: c.response_types.clone(),
        }
    }

    /// What the form posted; `auth_method` only where the form has it
    /// (a new client), else `keep`'s.
    pub fn read(form: &Form, keep: &Fields) -> Self {
        let clip = |s: String| s.chars().take(20_000).collect::<String>();
        Self {
            name: clip(form.text("name")),
            logo_uri: clip(form.text("logo_uri")),
            redirect_uris: clip(form.lines("redirect_uris").join("\n")),
            post_logout_redirect_uris: clip(form.lines("post_logout_redirect_uris").join("\n")),
            backchannel_logout_uri: clip(form.text("backchannel_logout_uri")),
            auth_method: form
                .get("auth_method")
                .map(str::to_string)
                .unwrap_or_else(|| keep.auth_method.clone()),
            alg: form.text("alg"),
            subject_type: form.text("subject_type"),
            sdk_flows: match form.get("sdk_flows") {
                Some(_) => clip(form.lines("sdk_flows").join("\n")),
                None => keep.sdk_flows.clone(),
            },
            // Ticked boxes; only the offered values (nothing ticked: code).
            response_types: form
                .all("response_types")
                .filter(|r| RESPONSE_TYPES.contains(r))
                .map(str::to_string)
                .collect(),
        }
    }

    /// Writes the fields into `meta` (the rest of it is kept); the
    /// registration's validation judges the values.
    pub fn apply(&self, meta: &mut Metadata) {
        meta.client_name = some(&self.name);
        meta.logo_uri = some(&self.logo_uri);
        meta.redirect_uris = Some(lines(&self.redirect_uris));
        meta.post_logout_redirect_uris = Some(lines(&self.post_logout_redirect_uris));
        meta.backchannel_logout_uri = some(&self.backchannel_logout_uri);
        meta.token_endpoint_auth_method = some(&self.auth_method);
        meta.id_token_signed_response_alg = some(&self.alg);
        meta.subject_type = some(&self.subject_type);
        // The grant types follow the response types (RFC 7591 §2.1): the
        // code grant for `code`, implicit for tokens from /authorize.
        // Nothing ticked is the default, `code`.
        let response_types = if self.response_types.is_empty() {
            vec!["code".to_string()]
        } else {
            self.response_types.clone()
        };
        let uses = |word: &str| {
            response_types
                .iter()
                .any(|r| r.split(' ').any(|w| w == word))
        };
        let mut grants: Vec<String> = meta
            .grant_types
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()])
            .into_iter()
            .filter(|g| g != "authorization_code" && g != "implicit")
            .collect();
        if uses("code") {
            grants.insert(0, "authorization_code".into());
        }
        if uses("token") || uses("id_token") {
            grants.push("implicit".into());
        }
        meta.grant_types = Some(grants);
        meta.response_types = Some(response_types);
    }
}

impl Fields {
    /// The SDK verification flows typed, `slug: scope` a line; the scope's
    /// grammar is checked with the rest of the client.
    pub fn flows(&self) -> Result<Vec<SdkFlow>, String> {
        let mut flows: Vec<SdkFlow> = Vec::new();
        for line in lines(&self.sdk_flows) {
            let Some((slug, scope)) = line.split_once(':') else {
                return Err(format!(
                    "SDK flow {line:?}: write it as a slug, a colon and its claims, e.g. kyc: email~rs phone~rs"
                ));
            };
            let (slug, scope) = (slug.trim(), scope.trim());
            let slug_ok = !slug.is_empty()
                && slug.len() <= 64
                && slug
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !slug_ok {
                return Err(format!(
                    "SDK flow slug {slug:?}: use 1 to 64 letters, digits, - or _"
                ));
            }
            if scope.is_empty() {
                return Err(format!("SDK flow {slug}: name the claims it asks for"));
            }
            if flows.iter().any(|f| f.slug == slug) {
                return Err(format!("SDK flow {slug} is there twice"));
            }
            flows.push(SdkFlow {
                slug: slug.to_string(),
                scope: scope.to_string(),
            });
        }
        Ok(flows)
    }
}

/// What a relying party is configured with, to copy.
pub fn snippet(issuer: &str, c: &Client) -> String {
    let mut s = format!(
        "# OpenID Connect settings for {name}\n\
         issuer={issuer}\n\
         discovery_url={issuer}/.well-known/openid-configuration\n\
         client_id={id}\n",
        name = c.name,
        id = c.client_id,
    );
    if !c.is_public() {
        s.push_str("client_secret=<the secret shown when it was issued>\n");
    }
    if let Some(r) = c.redirect_uris.first() {
        s.push_str(&format!("redirect_uri={r}\n"));
    }
    s.push_str("scope=openid email\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_metadata() {
        let form = Form::parse(
            b"name=Shop&redirect_uris=https%3A%2F%2Fa.example%2Fcb%0D%0A%0D%0Ahttps%3A%2F%2Fb.example%2Fcb&alg=EdDSA&subject_type=public&auth_method=none",
        );
        let f = Fields::read(&form, &Fields::new_client());
        let mut meta = Metadata::default();
        f.apply(&mut meta);
        assert_eq!(meta.client_name.as_deref(), Some("Shop"));
        assert_eq!(
            meta.redirect_uris.as_deref(),
            Some(
                &[
                    "https://a.example/cb".to_string(),
                    "https://b.example/cb".to_string()
                ][..]
            )
        );
        assert_eq!(meta.token_endpoint_auth_method.as_deref(), Some("none"));
        assert_eq!(meta.logo_uri, None);
        assert_eq!(meta.backchannel_logout_uri, None);
        // An edit form has no auth_method: the client's is kept.
        let kept = Fields::read(&Form::parse(b"name=x"), &Fields::new_client());
        assert_eq!(kept.auth_method, "client_secret_basic");
    }
}
