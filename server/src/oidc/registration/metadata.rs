//! Client metadata of OpenID Connect Dynamic Client Registration 1.0 and
//! RFC 7591, in and out, and its validation into the one [`Client`] model
//! (the one the configuration file and the command line fill too).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::oidc::clients::{AuthMethod, Client, SubjectType, normalize_response_type};

/// Why metadata was refused (RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    RedirectUri(String),
    Metadata(String),
}

/// The metadata a registration or update sends (OpenID Connect
/// Registration / RFC 7591; also the OpenAPI document's schema); unknown
/// members are ignored.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
pub struct Metadata {
    /// Required unless the grant types need none (CIBA, the device grant).
    pub redirect_uris: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    /// `client_secret_basic` (default), `client_secret_post` or `none`.
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    /// `RS256` (default), `ES256`, `EdDSA`, `HS256`.
    pub id_token_signed_response_alg: Option<String>,
    /// `pairwise` (default) or `public`.
    pub subject_type: Option<String>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    /// CIBA Core §4: `poll` or `ping`, and where pings go.
    pub backchannel_token_delivery_mode: Option<String>,
    pub backchannel_client_notification_endpoint: Option<String>,
    /// RFC 9126 §6.
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 7592 updates name the client, and may repeat its secret.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Ours: a PUT with `true` issues a new client secret.
    pub rotate_secret: Option<bool>,
}

const MAX_TEXT: usize = 2000;
const MAX_LIST: usize = 20;
const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "implicit",
    crate::oidc::ciba::GRANT_TYPE,
    crate::oidc::device::GRANT_TYPE,
];
const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

fn text(what: &str, v: &Option<String>) -> Result<(), Invalid> {
    match v {
        Some(s) if s.len() > MAX_TEXT || s.chars().any(char::is_control) => Err(Invalid::Metadata(
            format!("{what} is too long or has control characters"),
        )),
        _ => Ok(()),
    }
}

fn web_url(what: &str, v: &Option<String>) -> Result<(), Invalid> {
    text(what, v)?;
    if let Some(s) = v {
        let ok = url::Url::parse(s)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
        if !ok {
            return Err(Invalid::Metadata(format!("{what} must be an http(s) URL")));
        }
    }
    Ok(())
}

fn is_loopback(u: &url::Url) -> bool {
    matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// A redirect URI a client may register: absolute, no fragment; https, or
/// http on this computer, or a private-use scheme of a native app
/// (RFC 8252 §7.1: reverse domain name, with a dot).
fn redirect_uri(what: &str, uri: &str) -> Result<(), Invalid> {
    if uri.len() > MAX_TEXT {
        return Err(Invalid::RedirectUri(format!("{what} is too long")));
    }
    let u = url::Url::parse(uri).map_err(|e| Invalid::RedirectUri(format!("{what} {uri}: {e}")))?;
    if u.fragment().is_some() {
        return Err(Invalid::RedirectUri(format!("{what} {uri} has a fragment")));
    }
    let ok = match u.scheme() {
        "https" => u.has_host(),
        "http" => is_loopback(&u),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ws" | "wss" => false,
        other => other.contains('.'),
    };
    if !ok {
        return Err(Invalid::RedirectUri(format!(
            "{what} {uri}: use https, http on localhost, or an app's reverse-domain scheme"
        )));
    }
    Ok(())
}

fn list<'a>(what: &str, v: &'a Option<Vec<String>>) -> Result<&'a [String], Invalid> {
    let items = v.as_deref().unwrap_or(&[]);
    if items.len() > MAX_LIST {
        return Err(Invalid::Metadata(format!("at most {MAX_LIST} {what}")));
    }
    Ok(items)
}

/// The client `m` describes, keeping what the server owns of `base` (its
/// id, secret, owner, registration token, issue time).
pub fn to_client(m: &Metadata, base: Client) -> Result<Client, Invalid> {
    // A client of CIBA or the device grant alone has no redirect URIs.
    let redirect_based = m.grant_types.as_ref().is_none_or(|g| {
        g.is_empty()
            || g.iter()
                .any(|g| matches!(g.as_str(), "authorization_code" | "implicit"))
    });
    let redirects = list("redirect_uris", &m.redirect_uris)?;
    if redirects.is_empty() && redirect_based {
        return Err(Invalid::RedirectUri("redirect_uris are required".into()));
    }
    for r in redirects {
        redirect_uri("redirect_uri", r)?;
    }
    for r in list("post_logout_redirect_uris", &m.post_logout_redirect_uris)? {
        redirect_uri("post_logout_redirect_uri", r)?;
    }
    for (what, v) in [
        ("client_uri", &m.client_uri),
        ("logo_uri", &m.logo_uri),
        ("policy_uri", &m.policy_uri),
        ("tos_uri", &m.tos_uri),
    ] {
        web_url(what, v)?;
    }
    for (what, v) in [
        ("backchannel_logout_uri", &m.backchannel_logout_uri),
        (
            "backchannel_client_notification_endpoint",
            &m.backchannel_client_notification_endpoint,
        ),
    ] {
        let ok = v.as_deref().is_none_or(|b| {
            b.len() <= MAX_TEXT
                && url::Url::parse(b).is_ok_and(|u| {
                    u.fragment().is_none()
                        && (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)))
                })
        });
        if !ok {
            return Err(Invalid::Metadata(format!(
                "{what} must be https (or http on localhost), without a fragment"
            )));
        }
    }
    text("client_name", &m.client_name)?;
    let contacts = list("contacts", &m.contacts)?;
    for c in contacts {
        text("a contact", &Some(c.clone()))?;
    }
    let method = match m.token_endpoint_auth_method.as_deref() {
        None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
        Some("client_secret_post") => AuthMethod::ClientSecretPost,
        Some("none") => AuthMethod::None,
        Some(other) => {
            return Err(Invalid::Metadata(format!(
                "token_endpoint_auth_method {other} is not supported"
            )));
        }
    };
    let response_types: Vec<String> = match &m.response_types {
        None if !redirect_based => Vec::new(),
        None => vec!["code".into()],
        Some(r) if r.is_empty() && redirect_based => vec!["code".into()],
        Some(r) => r.clone(),
    };
    for rt in &response_types {
        let words = normalize_response_type(rt);
        if !RESPONSE_TYPES
            .iter()
            .any(|s| normalize_response_type(s) == words)
        {
            return Err(Invalid::Metadata(format!(
                "response_type {rt} is not supported"
            )));
        }
    }
    let grant_types: Vec<String> = match &m.grant_types {
        None => vec!["authorization_code".into(), "refresh_token".into()],
        Some(g) if g.is_empty() => vec!["authorization_code".into()],
        Some(g) => g.clone(),
    };
    if let Some(g) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(Invalid::Metadata(format!(
            "grant_type {g} is not supported"
        )));
    }
    // RFC 7591 §2.1: response types and grant types must agree.
    let uses = |word: &str| {
        response_types
            .iter()
            .any(|r| r.split(' ').any(|w| w == word))
    };
    if uses("code") && !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(Invalid::Metadata(
            "response_type code needs grant_type authorization_code".into(),
        ));
    }
    if (uses("token") || uses("id_token")) && !grant_types.iter().any(|g| g == "implicit") {
        return Err(Invalid::Metadata(
            "response types with token or id_token need grant_type implicit".into(),
        ));
    }
    let ciba = grant_types
        .iter()
        .any(|g| g == crate::oidc::ciba::GRANT_TYPE);
    if ciba && method == AuthMethod::None {
        return Err(Invalid::Metadata(
            "CIBA is for confidential clients: not with token_endpoint_auth_method none".into(),
        ));
    }
    let delivery = m.backchannel_token_delivery_mode.clone();
    match (
        delivery.as_deref(),
        &m.backchannel_client_notification_endpoint,
    ) {
        (None | Some("poll"), _) | (Some("ping"), Some(_)) => {}
        (Some("ping"), None) => {
            return Err(Invalid::Metadata(
                "backchannel_token_delivery_mode ping needs backchannel_client_notification_endpoint"
                    .into(),
            ));
        }
        (Some(other), _) => {
            return Err(Invalid::Metadata(format!(
                "backchannel_token_delivery_mode {other} is not supported (poll or ping)"
            )));
        }
    }
    if delivery.is_some() && !ciba {
        return Err(Invalid::Metadata(format!(
            "backchannel_token_delivery_mode needs grant_type {}",
            crate::oidc::ciba::GRANT_TYPE
        )));
    }
    let alg = m
        .id_token_signed_response_alg
        .clone()
        .unwrap_or_else(|| "RS256".into());
    if !["RS256", "ES256", "EdDSA", "HS256"].contains(&alg.as_str()) {
        return Err(Invalid::Metadata(format!(
            "id_token_signed_response_alg {alg} is not supported"
        )));
    }
    if alg == "HS256" && method == AuthMethod::None {
        return Err(Invalid::Metadata(
            "HS256 needs a client secret: not for a public client".into(),
        ));
    }
    let subject_type = match m.subject_type.as_deref() {
        None | Some("pairwise") => SubjectType::Pairwise,
        Some("public") => SubjectType::Public,
        Some(other) => {
            return Err(Invalid::Metadata(format!(
                "subject_type {other} is not supported"
            )));
        }
    };
    let name = m
        .client_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            redirects
                .first()
                .and_then(|r| url::Url::parse(r).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "Unnamed application".into())
        });
    Ok(Client {
        name,
        redirect_uris: redirects.to_vec(),
        client_uri: m.client_uri.clone(),
        logo_uri: m.logo_uri.clone(),
        policy_uri: m.policy_uri.clone(),
        tos_uri: m.tos_uri.clone(),
        contacts: contacts.to_vec(),
        token_endpoint_auth_method: method,
        response_types,
        grant_types,
        id_token_signed_response_alg: alg,
        subject_type,
        post_logout_redirect_uris: m.post_logout_redirect_uris.clone().unwrap_or_default(),
        backchannel_logout_uri: m.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: m.backchannel_logout_session_required.unwrap_or(false),
        backchannel_token_delivery_mode: delivery,
        backchannel_client_notification_endpoint: m
            .backchannel_client_notification_endpoint
            .clone(),
        require_pushed_authorization_requests: m
            .require_pushed_authorization_requests
            .unwrap_or(false),
        require_pkce: true,
        ..base
    })
}

/// What the server says of a registered client (RFC 7591 §3.2.1): its
/// metadata, with `client_id` and when it was issued.
#[derive(Debug, Serialize)]
pub struct Shown(pub Map<String, Value>);

pub fn show(c: &Client, base_url: &str) -> Shown {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() && v != json!([]) {
            m.insert(k.into(), v);
        }
    };
    put("client_id", json!(c.client_id));
    put("client_id_issued_at", json!(c.client_id_issued_at));
    if !c.is_public() {
        put("client_secret_expires_at", json!(0));
    }
    put("client_name", json!(c.name));
    put("redirect_uris", json!(c.redirect_uris));
    put("client_uri", json!(c.client_uri));
    put("logo_uri", json!(c.logo_uri));
    put("policy_uri", json!(c.policy_uri));
    put("tos_uri", json!(c.tos_uri));
    put("contacts", json!(c.contacts));
    put(
        "token_endpoint_auth_method",
        json!(c.token_endpoint_auth_method),
    );
    put("grant_types", json!(c.grant_types));
    put("response_types", json!(c.response_types));
    put(
        "id_token_signed_response_alg",
        json!(c.id_token_signed_response_alg),
    );
    put("subject_type", json!(c.subject_type));
    put(
        "post_logout_redirect_uris",
        json!(c.post_logout_redirect_uris),
    );
    put("backchannel_logout_uri", json!(c.backchannel_logout_uri));
    put(
        "backchannel_logout_session_required",
        json!(c.backchannel_logout_session_required),
    );
    put(
        "backchannel_token_delivery_mode",
        json!(c.backchannel_token_delivery_mode),
    );
    put(
        "backchannel_client_notification_endpoint",
        json!(c.backchannel_client_notification_endpoint),
    );
    if c.require_pushed_authorization_requests {
        put("require_pushed_authorization_requests", json!(true));
    }
    put(
        "registration_client_uri",
        json!(format!("{base_url}/client/{}", c.client_id)),
    );
    Shown(m)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn meta(v: Value) -> Metadata {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn good_metadata_becomes_a_client_with_defaults() {
        let c = to_client(
            &meta(json!({"redirect_uris": ["https://rp.example/cb"], "unknown": 1})),
            Client::default(),
        )
        .unwrap();
        assert_eq!(c.name, "rp.example");
        assert_eq!(c.response_types, ["code"]);
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(c.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(c.id_token_signed_response_alg, "RS256");
        assert!(c.require_pkce);
    }

    #[test]
    fn bad_metadata_is_refused_with_the_right_error() {
        let cases = [
            (json!({}), "redirect"),
            (json!({"redirect_uris": []}), "redirect"),
            (
                json!({"redirect_uris": ["javascript:alert(1)"]}),
                "redirect",
            ),
            (
                json!({"redirect_uris": ["http://rp.example/cb"]}),
                "redirect",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb#x"]}),
                "redirect",
            ),
            (json!({"redirect_uris": ["myapp:/cb"]}), "redirect"),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "post_logout_redirect_uris": ["ftp://x"]}),
                "redirect",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["password"]}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "response_types": ["token"]}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["implicit"]}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "id_token_signed_response_alg": "none"}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "id_token_signed_response_alg": "HS256", "token_endpoint_auth_method": "none"}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "subject_type": "x"}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "logo_uri": "javascript:x"}),
                "metadata",
            ),
            (
                json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": "http://rp.example/bc"}),
                "metadata",
            ),
        ];
        for (v, want) in cases {
            let got = to_client(&meta(v.clone()), Client::default());
            match (want, got) {
                ("redirect", Err(Invalid::RedirectUri(_)))
                | ("metadata", Err(Invalid::Metadata(_))) => {}
                (_, other) => panic!("{v}: {other:?}"),
            }
        }
        // Native apps and local development are fine.
        for uri in [
            "com.example.app:/cb",
            "http://127.0.0.1:7777/cb",
            "http://localhost/cb",
        ] {
            let m = meta(json!({ "redirect_uris": [uri] }));
            assert!(to_client(&m, Client::default()).is_ok(), "{uri}");
        }
        let implicit = meta(
            json!({"redirect_uris": ["https://rp.example/cb"], "response_types": ["code id_token", "token"], "grant_types": ["authorization_code", "implicit"]}),
        );
        assert!(to_client(&implicit, Client::default()).is_ok());
    }
}
