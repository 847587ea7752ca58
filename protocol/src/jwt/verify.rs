//! Checking tokens: [`verify`] for one signed by a known key,
//! [`verify_self_signed`] for one whose `kid` is its own `sub`,
//! [`verify_device_signed`] for a device's token for an identity, and
//! [`peek_kid`] to pick the key before verifying. Each checks the header
//! `typ`, then the signature, then the registered claims by a
//! [`Validation`].

use ed25519_dalek::VerifyingKey;
use serde::de::DeserializeOwned;

use super::{Claims, Validation};
use crate::id::AuthentiqId;
use crate::jws::{JwsError, Unverified};

fn decode_claims<T: DeserializeOwned>(payload: &[u8]) -> Result<Claims<T>, JwsError> {
    serde_json::from_slice(payload).map_err(|e| JwsError::Payload(e.to_string()))
}

/// Verifies a token signed by a known key (e.g. the issuer's). When
/// `expected_kid` is given, the header's `kid` must equal it.
pub fn verify<T: DeserializeOwned>(
    token: &str,
    key: &VerifyingKey,
    expected_kid: Option<&str>,
    validation: &Validation,
) -> Result<Claims<T>, JwsError> {
    let jws = Unverified::parse(token, validation.max_len)?;
    validation.check_header(&jws.header)?;
    if let Some(expected) = expected_kid {
        match jws.header.kid.as_deref() {
            None => return Err(JwsError::MissingKid),
            Some(found) if found != expected => {
                return Err(JwsError::KidMismatch {
                    expected: expected.into(),
                    found: found.into(),
                });
            }
            Some(_) => {}
        }
    }
    let payload = jws.verify(key)?;
    let claims: Claims<T> = decode_claims(&payload)?;
    validation.check(&claims.registered)?;
    Ok(claims)
}

/// Verifies a self-signed token: the signing key is the Authentiq ID in
/// `kid`; `sub` must name the same key, and `iss`, when present, too.
pub fn verify_self_signed<T: DeserializeOwned>(
    token: &str,
    validation: &Validation,
) -> Result<(AuthentiqId, Claims<T>), JwsError> {
    let jws = Unverified::parse(token, validation.max_len)?;
    validation.check_header(&jws.header)?;
    let kid = jws.header.kid.clone().ok_or(JwsError::MissingKid)?;
    let id: AuthentiqId = kid.parse().map_err(JwsError::KidNotAnId)?;
    let payload = jws.verify(id.verifying_key())?;
    let claims: Claims<T> = decode_claims(&payload)?;
    let sub = claims
        .registered
        .sub
        .as_deref()
        .ok_or(JwsError::MissingClaim("sub"))?;
    if sub != kid {
        return Err(JwsError::SubjectMismatch);
    }
    if claims
        .registered
        .iss
        .as_deref()
        .is_some_and(|iss| iss != kid)
    {
        return Err(JwsError::IssuerMismatch);
    }
    validation.check(&claims.registered)?;
    Ok((id, claims))
}

/// A token signed by a device key for an identity (seed 002's v5 form
/// `JWT(sub, pk, …)`): the signing key is the device key in `kid`; `sub`
/// names the identity, which may be the same key (every v6 token is of
/// this form) or another one (the identity a linked device signs for);
/// `iss`, when present, is the device key or `sub`. Whether the device
/// belongs to the identity is for the verifier to check.
pub fn verify_device_signed<T: DeserializeOwned>(
    token: &str,
    validation: &Validation,
) -> Result<(AuthentiqId, AuthentiqId, Claims<T>), JwsError> {
    let jws = Unverified::parse(token, validation.max_len)?;
    validation.check_header(&jws.header)?;
    let kid = jws.header.kid.clone().ok_or(JwsError::MissingKid)?;
    let device: AuthentiqId = kid.parse().map_err(JwsError::KidNotAnId)?;
    let payload = jws.verify(device.verifying_key())?;
    let claims: Claims<T> = decode_claims(&payload)?;
    let sub = claims
        .registered
        .sub
        .as_deref()
        .ok_or(JwsError::MissingClaim("sub"))?;
    let identity: AuthentiqId = sub.parse().map_err(|_| JwsError::SubjectMismatch)?;
    if claims
        .registered
        .iss
        .as_deref()
        .is_some_and(|iss| iss != kid && iss != sub)
    {
        return Err(JwsError::IssuerMismatch);
    }
    validation.check(&claims.registered)?;
    Ok((device, identity, claims))
}

/// The `kid` of a token, unverified, for picking the key to verify with.
pub fn peek_kid(token: &str, max_len: usize) -> Result<Option<String>, JwsError> {
    Ok(Unverified::parse(token, max_len)?.header.kid)
}
