//! Our Ed25519 JWS against npm `jose`, an independent implementation, in
//! both directions.

use authentiq_authenticator::Identity;
use authentiq_protocol::jwt;
use authentiq_protocol::payloads::Registration;
use authentiq_protocol::{JwsError, Validation};
use authentiq_tests::node_json;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn protocol_signed_jwt_verifies_with_jose() {
    let me = Identity::generate().unwrap();
    let token = me.registration_token(now(), Some("dev-1".into())).unwrap();
    let pk = me.id().to_string();
    let out = node_json("jose.mjs", &["verify", &token, &pk]).unwrap();
    assert_eq!(out["protectedHeader"]["alg"], "EdDSA");
    assert_eq!(out["protectedHeader"]["kid"], pk.as_str());
    assert_eq!(out["payload"]["sub"], pk.as_str());
    assert_eq!(out["payload"]["devtoken"], "dev-1");
    assert!(
        out["payload"]["jti"]
            .as_str()
            .is_some_and(|j| j.len() >= 16)
    );
}

#[test]
fn jose_refuses_our_token_under_another_key() {
    let me = Identity::generate().unwrap();
    let other = Identity::generate().unwrap();
    let token = me.registration_token(now(), None).unwrap();
    let err = node_json("jose.mjs", &["verify", &token, &other.id().to_string()]).unwrap_err();
    assert!(
        err.contains("ERR_JWS_SIGNATURE_VERIFICATION_FAILED"),
        "{err}"
    );
}

fn jose_signed(alg: &str) -> (String, String) {
    let out = node_json("jose.mjs", &["sign", alg]).unwrap();
    (
        out["token"].as_str().unwrap().to_string(),
        out["x"].as_str().unwrap().to_string(),
    )
}

#[test]
fn jose_signed_eddsa_jwt_verifies_with_protocol() {
    let (token, x) = jose_signed("EdDSA");
    let (id, claims) =
        jwt::verify_self_signed::<Registration>(&token, &Validation::at(now())).unwrap();
    assert_eq!(id.to_string(), x);
    assert_eq!(claims.body.devtoken.as_deref(), Some("from-jose"));
}

#[test]
fn jose_signed_ed25519_alias_verifies_with_protocol() {
    let (token, x) = jose_signed("Ed25519");
    let (id, _) = jwt::verify_self_signed::<Registration>(&token, &Validation::at(now())).unwrap();
    assert_eq!(id.to_string(), x);
}

#[test]
fn jose_signed_token_with_a_flipped_bit_is_refused() {
    let (token, _) = jose_signed("EdDSA");
    // Swap one signature character for another valid one.
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(
        jwt::verify_self_signed::<Registration>(&tampered, &Validation::at(now())).unwrap_err(),
        JwsError::BadSignature
    );
}
