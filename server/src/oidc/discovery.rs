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
use crate::config::OidcConfig;
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
    let mut res = Json(metadata(state.config.base_url(), &state.config.oidc)).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(crate::routes::jwks::CACHE_CONTROL),
    );
    res
}

/// The provider metadata of the issuer at `base` (no trailing slash), with
/// the optional grants and features `oidc` enables.
pub fn metadata(base: &str, oidc: &OidcConfig) -> Value {
    let scopes: Vec<&str> = ScopeName::KNOWN.iter().map(ScopeName::as_str).collect();
    let mut grant_types = vec!["authorization_code", "refresh_token", "implicit"];
    let mut m = json!({
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
    });
    let mut put = |k: &str, v: Value| {
        m[k] = v;
    };
    if oidc.ciba {
        grant_types.push(super::ciba::GRANT_TYPE);
        put(
            "backchannel_authentication_endpoint",
            json!(format!("{base}/bc-authorize")),
        );
        put(
            "backchannel_token_delivery_modes_supported",
            json!(["poll", "ping"]),
        );
        put("backchannel_user_code_parameter_supported", json!(false));
    }
    if oidc.device_authorization {
        grant_types.push(super::device::GRANT_TYPE);
        put(
            "device_authorization_endpoint",
            json!(format!("{base}/device_authorization")),
        );
    }
    if oidc.par {
        put(
            "pushed_authorization_request_endpoint",
            json!(format!("{base}/par")),
        );
        put("require_pushed_authorization_requests", json!(false));
    }
    if oidc.dpop {
        put(
            "dpop_signing_alg_values_supported",
            json!(super::dpop::ALGS),
        );
    }
    put("grant_types_supported", json!(grant_types));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let m = metadata("https://id.example", &OidcConfig::default());
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
        for (key, path) in [
            ("backchannel_authentication_endpoint", "/bc-authorize"),
            ("device_authorization_endpoint", "/device_authorization"),
            ("pushed_authorization_request_endpoint", "/par"),
        ] {
            assert_eq!(m[key], format!("https://id.example{path}"), "{key}");
        }
        let grants = m["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&json!("urn:openid:params:grant-type:ciba")));
        assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:device_code")));
        assert_eq!(
            m["dpop_signing_alg_values_supported"],
            json!(["ES256", "EdDSA"])
        );
        // Turned off, they are not offered.
        let off = OidcConfig {
            ciba: false,
            device_authorization: false,
            par: false,
            dpop: false,
            ..OidcConfig::default()
        };
        let m2 = metadata("https://id.example", &off);
        for key in [
            "backchannel_authentication_endpoint",
            "device_authorization_endpoint",
            "pushed_authorization_request_endpoint",
            "dpop_signing_alg_values_supported",
        ] {
            assert!(m2.get(key).is_none(), "{key}");
        }
        assert_eq!(
            m2["grant_types_supported"],
            json!(["authorization_code", "refresh_token", "implicit"])
        );
        assert_eq!(m2["request_uri_parameter_supported"], false);
        // `none` is never offered for ID tokens.
        let algs = m["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap();
        assert!(!algs.contains(&json!("none")));
    }
}
