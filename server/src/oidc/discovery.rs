//! `GET /.well-known/openid-configuration`: the OpenID Provider metadata
//! (OpenID Connect Discovery 1.0 §3, RFC 8414) that RP libraries configure
//! themselves from.

use authentiq_protocol::scope::ScopeName;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;
use crate::oidc::keys::supported_algs;

pub const PATH: &str = "/.well-known/openid-configuration";

/// The claims an ID token or `/userinfo` may carry.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "sid",
    "at_hash",
    "c_hash",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "locale",
    "zoneinfo",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "address",
];

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(openid_configuration))
}

async fn openid_configuration(State(state): State<AppState>) -> Response {
    let mut res = Json(metadata(state.config.base_url())).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(crate::routes::jwks::CACHE_CONTROL),
    );
    res
}

/// The provider metadata of the issuer at `base` (no trailing slash).
pub fn metadata(base: &str) -> Value {
    let scopes: Vec<&str> = ScopeName::KNOWN.iter().map(ScopeName::as_str).collect();
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": [
            "code",
            "token",
            "id_token",
            "token id_token",
            "code id_token",
            "code token",
            "code token id_token",
        ],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "implicit"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": supported_algs(),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "claims_supported": CLAIMS_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page"],
        "ui_locales_supported": ["en"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "registration_endpoint": format!("{base}/client"),
        "end_session_endpoint": format!("{base}/logout"),
        "check_session_iframe": format!("{base}/check-session"),
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "revocation_endpoint": format!("{base}/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{base}/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let m = metadata("https://id.example");
        assert_eq!(m["issuer"], "https://id.example");
        assert_eq!(m["authorization_endpoint"], "https://id.example/authorize");
        assert_eq!(m["jwks_uri"], "https://id.example/jwks");
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256", "EdDSA", "HS256"])
        );
        let scopes = m["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&json!("openid")));
        assert!(scopes.contains(&json!("aq:push")));
        for (key, path) in [
            ("end_session_endpoint", "/logout"),
            ("check_session_iframe", "/check-session"),
            ("revocation_endpoint", "/revoke"),
            ("introspection_endpoint", "/introspect"),
        ] {
            assert_eq!(m[key], format!("https://id.example{path}"), "{key}");
        }
        assert_eq!(m["backchannel_logout_supported"], true);
        assert_eq!(
            m["display_values_supported"],
            json!(["page"]),
            "no popup page"
        );
        assert!(m.get("userinfo_signing_alg_values_supported").is_none());
        // `none` is never offered for ID tokens.
        let algs = m["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap();
        assert!(!algs.contains(&json!("none")));
    }
}
