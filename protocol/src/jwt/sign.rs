//! Making tokens: [`sign`] and [`sign_typed`] under a named key (the
//! issuer's), [`sign_self`] for a self-signed token, [`sign_device`] for a
//! device's token for an identity, and [`random_jti`]. The payload is
//! written with the registered claims first and never repeats one.

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use serde::Serialize;

use super::{Claims, Registered};
use crate::b64;
use crate::jws::{self, Header, JwsError};

/// A fresh random `jti`: 128 bits from the OS, base64url.
pub fn random_jti() -> Result<String, JwsError> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| JwsError::Random)?;
    Ok(b64::encode(&bytes))
}

const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The payload bytes of `claims`: registered claims first, then the body,
/// whose members must not repeat a registered name (parsers disagree on
/// duplicates, so none are ever written).
fn payload_bytes<T: Serialize>(registered: &Registered, body: &T) -> Result<Vec<u8>, JwsError> {
    let to_map = |v: serde_json::Value| match v {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(JwsError::Payload("the claims must be a JSON object".into())),
    };
    let body = to_map(serde_json::to_value(body).map_err(|e| JwsError::Payload(e.to_string()))?)?;
    if let Some(dup) = body.keys().find(|k| REGISTERED.contains(&k.as_str())) {
        return Err(JwsError::DuplicateClaim(dup.clone()));
    }
    let mut all =
        to_map(serde_json::to_value(registered).map_err(|e| JwsError::Payload(e.to_string()))?)?;
    all.extend(body);
    serde_json::to_vec(&all).map_err(|e| JwsError::Payload(e.to_string()))
}

/// Signs `claims` with `key` under `{"alg":"EdDSA","typ":"JWT","kid":kid}`,
/// adding a random `jti` when the claims have none.
pub fn sign<T: Serialize>(
    claims: &Claims<T>,
    key: &SigningKey,
    kid: &str,
) -> Result<String, JwsError> {
    sign_typed(claims, key, kid, "JWT")
}

/// [`sign`] with another header `typ`, for tokens of a distinct kind.
pub fn sign_typed<T: Serialize>(
    claims: &Claims<T>,
    key: &SigningKey,
    kid: &str,
    typ: &str,
) -> Result<String, JwsError> {
    let mut registered = claims.registered.clone();
    if registered.jti.is_none() {
        registered.jti = Some(random_jti()?);
    }
    let payload = payload_bytes(&registered, &claims.body)?;
    jws::sign(&Header::typed(kid, typ), &payload, key)
}

/// Signs a self-signed token: `kid` = `sub` = `iss` = the key's Authentiq ID.
pub fn sign_self<T: Serialize>(claims: Claims<T>, key: &SigningKey) -> Result<String, JwsError> {
    let pk = crate::b64::encode(key.verifying_key().as_bytes());
    let claims = claims.subject(pk.clone()).issuer(pk.clone());
    sign(&claims, key, &pk)
}

/// Signs a device token for the identity `sub`: `kid` = `iss` = the
/// device key, `sub` = the identity (see
/// [`verify_device_signed`](super::verify_device_signed)).
pub fn sign_device<T: Serialize>(
    claims: Claims<T>,
    key: &SigningKey,
    sub: &str,
) -> Result<String, JwsError> {
    let pk = crate::b64::encode(key.verifying_key().as_bytes());
    let claims = claims.subject(sub).issuer(pk.clone());
    sign(&claims, key, &pk)
}
