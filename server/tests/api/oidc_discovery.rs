//! Discovery and the key set: what an unmodified OIDC client library
//! fetches first.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestServer;

async fn get_json(s: &TestServer, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let res = s.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let headers = res.headers().clone();
    let ct = headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("application/json"), "{path}: {ct}");
    (headers, res.json().await.unwrap())
}

#[tokio::test]
async fn discovery_document_describes_this_server() {
    let s = TestServer::start().await;
    let (headers, doc) = get_json(&s, "/.well-known/openid-configuration").await;
    assert_eq!(headers["cache-control"], "public, max-age=300");

    assert_eq!(doc["issuer"], s.url.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
    ] {
        assert_eq!(doc[field], s.url(path).as_str(), "{field}");
    }
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA", "HS256"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["subject_types_supported"],
        json!(["pairwise", "public"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_parameter_supported"], false);
    let has = |field: &str, value: &str| {
        doc[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} is a list"))
            .contains(&json!(value))
    };
    assert!(has("response_types_supported", "code"));
    assert!(has("response_types_supported", "code id_token"));
    assert!(has("response_modes_supported", "form_post"));
    assert!(has("grant_types_supported", "refresh_token"));
    for scope in ["openid", "profile", "email", "phone", "address", "aq:push"] {
        assert!(has("scopes_supported", scope), "{scope}");
    }
    for claim in ["sub", "email_verified", "phone_number_verified", "at_hash"] {
        assert!(has("claims_supported", claim), "{claim}");
    }
    // Every endpoint it names exists (none answers 404).
    for key in [
        "end_session_endpoint",
        "check_session_iframe",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = doc[key].as_str().unwrap();
        assert!(url.starts_with(&s.url), "{key}: {url}");
        let res = s.http.get(url).send().await.unwrap();
        assert_ne!(res.status(), StatusCode::NOT_FOUND, "{key}");
    }

    // The jwks_uri it names answers.
    let jwks_uri = doc["jwks_uri"].as_str().unwrap();
    let res = s.http.get(jwks_uri).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn key_sets_hold_each_key_once_of_every_type() {
    let s = TestServer::start().await;
    let (_, jwks) = get_json(&s, "/jwks").await;
    let (headers, public_keys) = get_json(&s, "/public-keys").await;
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(
        jwks, public_keys,
        "/jwks and /public-keys serve the same set"
    );

    let keys = jwks["keys"].as_array().unwrap();
    let kids: HashSet<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), keys.len(), "every kid is unique: {jwks}");
    for (kty, alg) in [("RSA", "RS256"), ("EC", "ES256"), ("OKP", "EdDSA")] {
        let k = keys
            .iter()
            .find(|k| k["kty"] == kty)
            .unwrap_or_else(|| panic!("a {kty} key in {jwks}"));
        assert_eq!(k["alg"], alg);
        assert_eq!(k["use"], "sig");
        // Public parts only.
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(k.get(private).is_none(), "{kty} key has {private}");
        }
    }
    // The Ed25519 key is the issuer key that signs grants: listed once.
    let okp: Vec<&Value> = keys.iter().filter(|k| k["kty"] == "OKP").collect();
    assert_eq!(okp.len(), 1);
    assert_eq!(okp[0]["kid"], s.state.keys().issuer.active_kid());

    // What an ID token carries in its header is in the set.
    let now = s.state.now();
    let token = s
        .state
        .keys()
        .oidc
        .sign(
            authentiq_server::oidc::keys::IdTokenAlg::RS256,
            &json!({"iss": s.url, "sub": "x", "exp": now + 60}),
            None,
            now,
        )
        .unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(kids.contains(header["kid"].as_str().unwrap()));
}
