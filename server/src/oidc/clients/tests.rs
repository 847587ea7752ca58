//! The client tests: exact redirect URIs, response types in any word order,
//! secrets compared by hash, and what [`Client::validate`] refuses.

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
