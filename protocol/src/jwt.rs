//! JWTs on top of [`crate::jws`]: registered claims, time checks, and the
//! "self-signed" rule of Authentiq (the key in `kid` is the `sub`).

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::id::AuthentiqId;
use crate::jws::{self, Header, JwsError, Unverified};

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let items: &[String] = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(v) => v,
        };
        items.iter().map(String::as_str)
    }
}

impl From<&str> for Audience {
    fn from(s: &str) -> Self {
        Audience::One(s.to_string())
    }
}

/// The registered claims of RFC 7519 that this system uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A JWT payload: the registered claims plus a typed body holding the rest.
/// Body types must not repeat registered claim names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims<T> {
    #[serde(flatten)]
    pub registered: Registered,
    #[serde(flatten)]
    pub body: T,
}

impl<T> Claims<T> {
    pub fn new(body: T) -> Self {
        Self {
            registered: Registered::default(),
            body,
        }
    }

    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.registered.sub = Some(sub.into());
        self
    }

    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.registered.iss = Some(iss.into());
        self
    }

    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.registered.aud = Some(Audience::One(aud.into()));
        self
    }

    /// Sets `iat` and `nbf` to `now` and `exp` to `now + ttl` seconds.
    pub fn valid_for(mut self, now: i64, ttl: i64) -> Self {
        self.registered.iat = Some(now);
        self.registered.nbf = Some(now);
        self.registered.exp = Some(now.saturating_add(ttl));
        self
    }
}

/// What a verifier accepts. Start from [`Validation::at`] and tighten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Current time, seconds since the epoch (passed in: this crate has no clock).
    pub now: i64,
    /// Allowed clock skew in seconds for `exp`, `nbf` and `iat`.
    pub leeway: i64,
    /// Longest token accepted, in bytes.
    pub max_len: usize,
    /// Refuse tokens without `exp`.
    pub require_exp: bool,
    /// When set, `aud` must be present and contain this value.
    pub audience: Option<String>,
    /// When set, refuse tokens whose `iat` is missing or older than this many seconds.
    pub max_age: Option<i64>,
    /// Refuse tokens without `jti` (the server keeps used ones to stop replays).
    pub require_jti: bool,
    /// When set, refuse tokens whose `exp - iat` exceeds this many seconds
    /// (so that a replay cache only has to remember so long).
    pub max_lifetime: Option<i64>,
    /// The header `typ` required (case-insensitive). `JWT` also accepts a
    /// header without `typ`; any other value must be present.
    pub typ: String,
}

impl Validation {
    /// Defaults: 60 s leeway, 8 KiB, `exp` and `jti` required, `typ` JWT,
    /// no audience check (set one with [`Validation::audience`] wherever
    /// the token names its recipient).
    pub fn at(now: i64) -> Self {
        Self {
            now,
            leeway: 60,
            max_len: jws::DEFAULT_MAX_LEN,
            require_exp: true,
            audience: None,
            max_age: None,
            require_jti: true,
            max_lifetime: None,
            typ: "JWT".into(),
        }
    }

    /// Negative values count as zero.
    pub fn leeway(mut self, secs: i64) -> Self {
        self.leeway = secs.max(0);
        self
    }

    pub fn jti_optional(mut self) -> Self {
        self.require_jti = false;
        self
    }

    pub fn max_lifetime(mut self, secs: i64) -> Self {
        self.max_lifetime = Some(secs.max(0));
        self
    }

    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = typ.into();
        self
    }

    /// Checks the protected header's `typ`.
    pub fn check_header(&self, header: &Header) -> Result<(), JwsError> {
        match header.typ.as_deref() {
            None if self.typ.eq_ignore_ascii_case("JWT") => Ok(()),
            Some(t) if t.eq_ignore_ascii_case(&self.typ) => Ok(()),
            found => Err(JwsError::WrongType {
                expected: self.typ.clone(),
                found: found.map(str::to_string),
            }),
        }
    }

    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    pub fn exp_optional(mut self) -> Self {
        self.require_exp = false;
        self
    }

    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    pub fn max_age(mut self, secs: i64) -> Self {
        self.max_age = Some(secs.max(0));
        self
    }

    /// Checks the registered claims against these rules.
    pub fn check(&self, r: &Registered) -> Result<(), JwsError> {
        match r.exp {
            Some(exp) if self.now >= exp.saturating_add(self.leeway) => {
                return Err(JwsError::Expired { exp });
            }
            None if self.require_exp => return Err(JwsError::MissingClaim("exp")),
            _ => {}
        }
        if let Some(nbf) = r.nbf
            && nbf > self.now.saturating_add(self.leeway)
        {
            return Err(JwsError::NotYetValid { nbf });
        }
        if let Some(iat) = r.iat
            && iat > self.now.saturating_add(self.leeway)
        {
            return Err(JwsError::IssuedInFuture { iat });
        }
        if let Some(max_age) = self.max_age {
            let iat = r.iat.ok_or(JwsError::MissingClaim("iat"))?;
            if self.now.saturating_sub(iat) > max_age.saturating_add(self.leeway) {
                return Err(JwsError::TooOld { iat });
            }
        }
        if self.require_jti && r.jti.as_deref().is_none_or(str::is_empty) {
            return Err(JwsError::MissingClaim("jti"));
        }
        if let Some(max) = self.max_lifetime {
            let iat = r.iat.ok_or(JwsError::MissingClaim("iat"))?;
            let exp = r.exp.ok_or(JwsError::MissingClaim("exp"))?;
            let lifetime = exp.saturating_sub(iat);
            if lifetime > max {
                return Err(JwsError::LifetimeTooLong { lifetime, max });
            }
        }
        if let Some(want) = &self.audience {
            let aud = r.aud.as_ref().ok_or(JwsError::MissingClaim("aud"))?;
            if !aud.contains(want) {
                return Err(JwsError::AudienceMismatch(want.clone()));
            }
        }
        Ok(())
    }
}

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

/// Signs a device token for the identity `sub`: `kid` = `iss` = the
/// device key, `sub` = the identity (see [`verify_device_signed`]).
pub fn sign_device<T: Serialize>(
    claims: Claims<T>,
    key: &SigningKey,
    sub: &str,
) -> Result<String, JwsError> {
    let pk = crate::b64::encode(key.verifying_key().as_bytes());
    let claims = claims.subject(sub).issuer(pk.clone());
    sign(&claims, key, &pk)
}

/// The `kid` of a token, unverified, for picking the key to verify with.
pub fn peek_kid(token: &str, max_len: usize) -> Result<Option<String>, JwsError> {
    Ok(Unverified::parse(token, max_len)?.header.kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

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
        let (_, again) =
            verify_self_signed::<Body>(&self_signed(&k), &Validation::at(NOW)).unwrap();
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
        let (d, i, _) =
            verify_device_signed::<Body>(&self_signed(&id), &Validation::at(NOW)).unwrap();
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
}
