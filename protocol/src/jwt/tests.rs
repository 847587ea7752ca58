//! The JWT tests: signing and verifying round trips, each time rule of
//! [`Validation`], header `typ`, duplicate and malformed claims, `kid` and
//! `sub` agreement for self-signed and device-signed tokens, and size.

use ed25519_dalek::SigningKey;
use serde_json::{Map, Value, json};

use super::*;
use crate::b64;
use crate::jws::{self, Header, JwsError};

const NOW: i64 = 1_800_000_000;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn pk(k: &SigningKey) -> String {
    b64::encode(k.verifying_key().as_bytes())
}

type Body = Map<String, Value>;

fn body() -> Body {
    let mut m = Map::new();
    m.insert("devtoken".into(), json!("abc"));
    m
}

fn self_signed(k: &SigningKey) -> String {
    sign_self(Claims::new(body()).valid_for(NOW, 300), k).unwrap()
}

#[test]
fn self_signed_round_trip_with_jti_and_header() {
    let k = key(1);
    let t = self_signed(&k);
    let header: Value =
        serde_json::from_slice(&b64::decode(t.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header, json!({"alg":"EdDSA","typ":"JWT","kid":pk(&k)}));
    // The header serializes in exactly the documented member order.
    assert_eq!(
        String::from_utf8(b64::decode(t.split('.').next().unwrap()).unwrap()).unwrap(),
        format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, pk(&k))
    );
    let (id, c) = verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap();
    assert_eq!(id.to_string(), pk(&k));
    assert_eq!(c.body["devtoken"], "abc");
    assert_eq!(c.registered.sub.as_deref(), Some(pk(&k).as_str()));
    let jti = c.registered.jti.unwrap();
    assert_eq!(jti.len(), 22);
    let (_, again) = verify_self_signed::<Body>(&self_signed(&k), &Validation::at(NOW)).unwrap();
    assert_ne!(again.registered.jti.unwrap(), jti, "jti must be random");
}

#[test]
fn rejects_expired_with_and_without_skew() {
    let t = self_signed(&key(1));
    let exp = NOW + 300;
    assert!(verify_self_signed::<Body>(&t, &Validation::at(exp + 59)).is_ok());
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(exp + 60)).unwrap_err(),
        JwsError::Expired { exp }
    );
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(exp).leeway(0)).unwrap_err(),
        JwsError::Expired { exp }
    );
}

#[test]
fn rejects_not_yet_valid_and_future_iat() {
    let k = key(1);
    let t = self_signed(&k);
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW - 61)).unwrap_err(),
        JwsError::NotYetValid { nbf: NOW }
    );
    assert!(verify_self_signed::<Body>(&t, &Validation::at(NOW - 60)).is_ok());
    let mut c = Claims::new(body());
    c.registered.iat = Some(NOW + 120);
    c.registered.exp = Some(NOW + 600);
    let t = sign_self(c, &k).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::IssuedInFuture { iat: NOW + 120 }
    );
}

#[test]
fn rejects_missing_exp_unless_optional() {
    let k = key(1);
    let t = sign_self(Claims::new(body()), &k).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::MissingClaim("exp")
    );
    assert!(verify_self_signed::<Body>(&t, &Validation::at(NOW).exp_optional()).is_ok());
}

#[test]
fn max_age_bounds_iat() {
    let t = self_signed(&key(1));
    let v = Validation::at(NOW + 100).max_age(30).leeway(0);
    assert_eq!(
        verify_self_signed::<Body>(&t, &v).unwrap_err(),
        JwsError::TooOld { iat: NOW }
    );
    let v = Validation::at(NOW + 30).max_age(30).leeway(0);
    assert!(verify_self_signed::<Body>(&t, &v).is_ok());
    let mut c = Claims::new(body());
    c.registered.exp = Some(NOW + 60);
    let no_iat = sign_self(c, &key(1)).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&no_iat, &Validation::at(NOW).max_age(30)).unwrap_err(),
        JwsError::MissingClaim("iat")
    );
}

#[test]
fn max_lifetime_bounds_exp_minus_iat() {
    let t = self_signed(&key(1)); // 300 s
    assert!(verify_self_signed::<Body>(&t, &Validation::at(NOW).max_lifetime(300)).is_ok());
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW).max_lifetime(299)).unwrap_err(),
        JwsError::LifetimeTooLong {
            lifetime: 300,
            max: 299
        }
    );
}

#[test]
fn jti_is_required_unless_optional() {
    let k = key(1);
    let claims = Claims::new(body()).subject(pk(&k)).valid_for(NOW, 60);
    let payload = serde_json::to_vec(&claims).unwrap();
    let t = jws::sign(&Header::jwt(&pk(&k)), &payload, &k).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::MissingClaim("jti")
    );
    assert!(verify_self_signed::<Body>(&t, &Validation::at(NOW).jti_optional()).is_ok());
}

#[test]
fn typ_separates_kinds_of_token() {
    let k = key(4);
    let claims = Claims::new(body()).valid_for(NOW, 60);
    let event = sign_typed(&claims, &k, "srv", "aq-event+jwt").unwrap();
    let plain = sign(&claims, &k, "srv").unwrap();
    let v = Validation::at(NOW);
    assert_eq!(
        verify::<Body>(&event, &k.verifying_key(), None, &v).unwrap_err(),
        JwsError::WrongType {
            expected: "JWT".into(),
            found: Some("aq-event+jwt".into())
        }
    );
    let ev = Validation::at(NOW).typ("aq-event+jwt");
    assert!(verify::<Body>(&event, &k.verifying_key(), None, &ev).is_ok());
    assert_eq!(
        verify::<Body>(&plain, &k.verifying_key(), None, &ev).unwrap_err(),
        JwsError::WrongType {
            expected: "aq-event+jwt".into(),
            found: Some("JWT".into())
        }
    );
    // A bare header (no typ) passes as JWT only.
    let bare = jws::sign(
        &Header::bare(),
        &serde_json::to_vec(&claims.clone().issuer("x")).unwrap(),
        &k,
    )
    .unwrap();
    assert!(verify::<Body>(&bare, &k.verifying_key(), None, &v.clone().jti_optional()).is_ok());
    assert!(verify::<Body>(&bare, &k.verifying_key(), None, &ev.jti_optional()).is_err());
}

#[test]
fn sign_refuses_bodies_that_repeat_registered_claims() {
    let mut b = body();
    b.insert("exp".into(), json!(1));
    assert_eq!(
        sign(&Claims::new(b).valid_for(NOW, 60), &key(1), "k").unwrap_err(),
        JwsError::DuplicateClaim("exp".into())
    );
}

#[test]
fn duplicate_claims_in_a_payload_are_refused() {
    let k = key(1);
    let raw = format!(
        r#"{{"sub":"{}","exp":{},"exp":{},"jti":"j"}}"#,
        pk(&k),
        NOW + 60,
        NOW + 99999
    );
    let t = jws::sign(&Header::jwt(&pk(&k)), raw.as_bytes(), &k).unwrap();
    assert!(matches!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::Payload(_)
    ));
}

#[test]
fn rejects_a_signature_by_another_key() {
    // Header names key 1, signature made by key 2.
    let k1 = key(1);
    let k2 = key(2);
    let claims = Claims::new(body()).subject(pk(&k1)).valid_for(NOW, 300);
    let t = sign(&claims, &k2, &pk(&k1)).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::BadSignature
    );
    let t = sign(&claims, &k1, "server-1").unwrap();
    assert_eq!(
        verify::<Body>(&t, &k2.verifying_key(), None, &Validation::at(NOW)).unwrap_err(),
        JwsError::BadSignature
    );
}

#[test]
fn rejects_kid_and_sub_that_disagree() {
    let k1 = key(1);
    let k2 = key(2);
    let claims = Claims::new(body()).subject(pk(&k2)).valid_for(NOW, 300);
    let t = sign(&claims, &k1, &pk(&k1)).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::SubjectMismatch
    );
    let no_sub = sign(&Claims::new(body()).valid_for(NOW, 300), &k1, &pk(&k1)).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&no_sub, &Validation::at(NOW)).unwrap_err(),
        JwsError::MissingClaim("sub")
    );
    let bad_iss = Claims::new(body())
        .subject(pk(&k1))
        .issuer("someone-else")
        .valid_for(NOW, 300);
    let t = sign(&bad_iss, &k1, &pk(&k1)).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::IssuerMismatch
    );
}

#[test]
fn rejects_missing_or_invalid_kid() {
    let k = key(1);
    let claims = Claims::new(body()).subject(pk(&k)).valid_for(NOW, 300);
    let payload = serde_json::to_vec(&claims).unwrap();
    let t = jws::sign(&Header::bare(), &payload, &k).unwrap();
    assert_eq!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::MissingKid
    );
    let t = sign(&claims, &k, "not-a-key").unwrap();
    assert!(matches!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::KidNotAnId(_)
    ));
}

#[test]
fn verify_checks_expected_kid() {
    let k = key(3);
    let t = sign(&Claims::new(body()).valid_for(NOW, 60), &k, "issuer-1").unwrap();
    let v = Validation::at(NOW);
    assert!(verify::<Body>(&t, &k.verifying_key(), Some("issuer-1"), &v).is_ok());
    assert_eq!(
        verify::<Body>(&t, &k.verifying_key(), Some("issuer-2"), &v).unwrap_err(),
        JwsError::KidMismatch {
            expected: "issuer-2".into(),
            found: "issuer-1".into()
        }
    );
}

#[test]
fn audience_string_or_array() {
    let k = key(1);
    let one = sign_self(
        Claims::new(body())
            .audience("https://rp")
            .valid_for(NOW, 60),
        &k,
    )
    .unwrap();
    let v = Validation::at(NOW).audience("https://rp");
    assert!(verify_self_signed::<Body>(&one, &v).is_ok());
    let mut c = Claims::new(body()).valid_for(NOW, 60);
    c.registered.aud = Some(Audience::Many(vec!["a".into(), "https://rp".into()]));
    let many = sign_self(c, &k).unwrap();
    assert!(verify_self_signed::<Body>(&many, &v).is_ok());
    assert_eq!(
        verify_self_signed::<Body>(&many, &Validation::at(NOW).audience("b")).unwrap_err(),
        JwsError::AudienceMismatch("b".into())
    );
    let none = self_signed(&k);
    assert_eq!(
        verify_self_signed::<Body>(&none, &v).unwrap_err(),
        JwsError::MissingClaim("aud")
    );
}

#[test]
fn rejects_payloads_that_are_not_claims() {
    let k = key(1);
    let kid = pk(&k);
    for payload in [&b"[]"[..], b"not json", br#"{"exp":"soon"}"#] {
        let t = jws::sign(&Header::jwt(&kid), payload, &k).unwrap();
        assert!(
            matches!(
                verify_self_signed::<Body>(&t, &Validation::at(NOW)),
                Err(JwsError::Payload(_))
            ),
            "{payload:?}"
        );
    }
}

#[test]
fn rejects_oversized_tokens() {
    let k = key(1);
    let mut b = body();
    b.insert("pad".into(), json!("x".repeat(9000)));
    let t = sign_self(Claims::new(b).valid_for(NOW, 60), &k).unwrap();
    assert!(matches!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::TooLarge { .. }
    ));
    assert!(verify_self_signed::<Body>(&t, &Validation::at(NOW).max_len(16 * 1024)).is_ok());
}

#[test]
fn device_signed_names_the_identity_in_sub_and_the_device_in_kid() {
    let (id, device) = (key(1), key(2));
    let t = sign_device(Claims::new(body()).valid_for(NOW, 300), &device, &pk(&id)).unwrap();
    let (d, i, _) = verify_device_signed::<Body>(&t, &Validation::at(NOW)).unwrap();
    assert_eq!((d.to_string(), i.to_string()), (pk(&device), pk(&id)));
    // Not a self-signed token: kid and sub differ.
    assert!(matches!(
        verify_self_signed::<Body>(&t, &Validation::at(NOW)).unwrap_err(),
        JwsError::SubjectMismatch
    ));
    // A v6 self-signed token is a device token of its own identity.
    let (d, i, _) = verify_device_signed::<Body>(&self_signed(&id), &Validation::at(NOW)).unwrap();
    assert_eq!(d, i);
    // The signature is the device's: another key's signature fails.
    let forged = format!(
        "{}.{}",
        t.rsplit_once('.').unwrap().0,
        self_signed(&id).rsplit('.').next().unwrap()
    );
    assert!(verify_device_signed::<Body>(&forged, &Validation::at(NOW)).is_err());
    // A sub that is not an ID, or an iss naming a third key, is refused.
    let bad_sub = sign(
        &Claims::new(body()).subject("x").valid_for(NOW, 300),
        &device,
        &pk(&device),
    )
    .unwrap();
    assert!(verify_device_signed::<Body>(&bad_sub, &Validation::at(NOW)).is_err());
    let bad_iss = sign(
        &Claims::new(body())
            .subject(pk(&id))
            .issuer(pk(&key(3)))
            .valid_for(NOW, 300),
        &device,
        &pk(&device),
    )
    .unwrap();
    assert!(matches!(
        verify_device_signed::<Body>(&bad_iss, &Validation::at(NOW)).unwrap_err(),
        JwsError::IssuerMismatch
    ));
}
