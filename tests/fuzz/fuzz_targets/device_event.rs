#![no_main]
//! The device event payloads: what the server pushes on the device channel,
//! as the authenticator reads it. Both the JSON (`DeviceEvent` and its
//! parts, inside `Claims`) and the typed-JWT path: an `aq-event+jwt` token
//! verified against the keys of a `/jwks` document (`ServerKeys`, the
//! authenticator's own code).
//!
//! Input: one control byte, then the body. Control bit 0 clear: the body is
//! the payload JSON, and when bits 2-4 are clear also signed by the issuer
//! key into an event token (kid `issuer-1`; header `typ` `aq-event+jwt`
//! unless bit 1 is set, which makes it `JWT`, to be refused). Bit 0 set:
//! the body is the token itself.
use authentiq_authenticator::events::ServerKeys;
use authentiq_protocol::jws::{self, Header};
use authentiq_protocol::jwt::{self, Claims, Validation};
use authentiq_protocol::payloads::{
    ClientInfo, DeviceEvent, Requester, ScopeJobUpdate, SignInRequest,
};
use authentiq_protocol::{AuthentiqId, JwsError};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::LazyLock;

const NOW: i64 = 1_800_000_000;
const KID: &str = "issuer-1";

static ISSUER: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[2; 32]));
/// The device the events are for: its ID is their `aud`.
static DEVICE: LazyLock<String> = LazyLock::new(|| {
    AuthentiqId::from_verifying_key(SigningKey::from_bytes(&[3; 32]).verifying_key())
        .unwrap()
        .to_string()
});
static KEYS: LazyLock<ServerKeys> = LazyLock::new(|| {
    let x = AuthentiqId::from_verifying_key(ISSUER.verifying_key())
        .unwrap()
        .to_string();
    ServerKeys::from_jwks(&serde_json::json!({
        "keys": [{"kty": "OKP", "crv": "Ed25519", "kid": KID, "x": x}]
    }))
});

/// Parsed, the value serializes to JSON that parses to the same value.
fn round_trip<T>(json: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let value: T = serde_json::from_slice(json).ok()?;
    let again = serde_json::to_vec(&value).unwrap();
    match serde_json::from_slice::<T>(&again) {
        Ok(back) => assert_eq!(back, value),
        Err(e) => panic!(
            "{value:?} serializes as {}, which does not parse: {e}",
            String::from_utf8_lossy(&again)
        ),
    }
    Some(value)
}

fn check_json(json: &[u8]) {
    if let Some(ev) = round_trip::<DeviceEvent>(json) {
        // The tag is the SSE event name.
        let v: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["event"], ev.name());
    }
    round_trip::<Claims<DeviceEvent>>(json);
    round_trip::<SignInRequest>(json);
    round_trip::<ScopeJobUpdate>(json);
    round_trip::<ClientInfo>(json);
    round_trip::<Requester>(json);
}

fn check_token(token: &str) {
    // The authenticator's path: kid from the header, key from the JWKS.
    let Ok(claims) = KEYS.verify(token, Some(&DEVICE), NOW) else {
        return;
    };
    assert!(claims.registered.aud.as_ref().unwrap().contains(&DEVICE));
    let exp = claims.registered.exp.unwrap();
    assert!(NOW < exp.saturating_add(Validation::at(NOW).leeway));
    assert!(claims.registered.jti.is_some_and(|j| !j.is_empty()));
    // An event token is never also a plain JWT (refused on the header,
    // before any signature check).
    let plain = Validation::at(NOW).audience(&*DEVICE);
    assert!(matches!(
        jwt::verify::<DeviceEvent>(token, &ISSUER.verifying_key(), Some(KID), &plain),
        Err(JwsError::WrongType { .. })
    ));
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    if control & 1 == 1 {
        if let Ok(token) = std::str::from_utf8(body) {
            check_token(token);
        }
        return;
    }
    check_json(body);
    // Signing and verifying cost ~100x the JSON: one input in eight.
    if control & 0x1c != 0 {
        return;
    }
    let typ = if control & 2 == 0 {
        DeviceEvent::TYP
    } else {
        "JWT"
    };
    let token = jws::sign(&Header::typed(KID, typ), body, &ISSUER).unwrap();
    check_token(&token);
});
