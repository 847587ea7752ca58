//! The keys that sign OpenID Connect ID tokens, and the JWK Set that
//! publishes them (`/jwks`, `/public-keys`).
//!
//! - `RS256` (RSA 2048, the default: every RP library has it) and `ES256`
//!   (P-256) keys live in the database, sealed under the master key
//!   ([`crate::keys::vault`], document `oidc-keys`).
//! - `EdDSA` reuses the issuer's Ed25519 keys ([`IssuerKeys`]): one key
//!   per server, rotated with them.
//! - `HS256` is keyed per client with its client secret and never published.
//!
//! Rotation: a new key is published before it signs, and an old key stays
//! published until the tokens it signed have expired. [`OidcKeys::rotate`]
//! adds keys whose `not_before` lies ahead; from that moment each becomes
//! the signing key of its algorithm and the previous one retires, staying in
//! the JWK Set for [`ID_TOKEN_MAX_LIFETIME`] more. The newest key always
//! wins: a key still waiting for its `not_before` when a newer one starts
//! never signs.
//!
//! Everything that depends on time takes `now` (seconds since the epoch), so
//! one loaded [`OidcKeys`] switches keys by itself as time passes.

use std::collections::HashSet;
use std::fmt;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use crate::keys::{IssuerKeys, Vault, vault};
/// The longest lifetime (`exp - iat`) of an ID token this server signs: a
/// retired key stays published this long after it stopped signing.
pub const ID_TOKEN_MAX_LIFETIME: i64 = 24 * 60 * 60;
/// How long before it signs a rotated key is published, by default: well
/// over the JWK Set's cache lifetime (`max-age=300`).
pub const DEFAULT_PUBLISH_AHEAD: i64 = 60 * 60;
/// Size of generated RSA keys.
pub const RSA_BITS: usize = 2048;
/// Allowed clock skew when checking `exp` and `nbf`.
pub const VERIFY_LEEWAY: i64 = 60;
/// Longest token [`OidcKeys::verify`] looks at.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Shortest `HS256` key (RFC 7518 §3.2: at least the size of the hash).
pub const HS256_MIN_SECRET: usize = 32;

mod alg;
mod stored;
#[cfg(test)]
mod tests;

pub use alg::{IdTokenAlg, TokenError, UnsupportedAlg, supported_algs};
use stored::{
    STORED_ALGS, StoredKeys, b64, ensure_signers, parse_private, parse_stored, rotate_stored,
    signs_until,
};
pub use stored::{ec_thumbprint, rsa_thumbprint};

/// A loaded key.
struct Key {
    kid: String,
    alg: IdTokenAlg,
    /// `None` for keys kept only to verify.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The public JWK's key members (`kty`, `n`/`e`, `crv`/`x`/`y`).
    jwk: Map<String, Value>,
    /// Signs from then…
    signs_from: i64,
    /// …until then (exclusive), if it ever stops.
    signs_until: Option<i64>,
    /// Published until then (exclusive); `None`: as long as it exists.
    published_until: Option<i64>,
}

impl Key {
    fn signs_at(&self, now: i64) -> bool {
        self.encoding.is_some()
            && self.signs_from <= now
            && self.signs_until.is_none_or(|t| now < t)
    }

    fn published_at(&self, now: i64) -> bool {
        self.published_until.is_none_or(|t| now < t)
    }

    fn state(&self, now: i64) -> KeyState {
        if self.signs_at(now) {
            KeyState::Active
        } else if now < self.signs_from {
            KeyState::PublishedOnly {
                signs_from: self.signs_from,
            }
        } else if self.published_at(now) {
            KeyState::Retiring {
                published_until: self.published_until,
            }
        } else {
            KeyState::Expired
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// It signs new tokens.
    Active,
    /// Published so verifiers cache it, but it signs only from `signs_from`.
    PublishedOnly { signs_from: i64 },
    /// No longer signs; still published (until `published_until`, or for
    /// as long as it is kept: the issuer's Ed25519 keys).
    Retiring { published_until: Option<i64> },
    /// Its tokens have all expired: no longer published.
    Expired,
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active => f.write_str("active"),
            Self::PublishedOnly { .. } => f.write_str("published-only"),
            Self::Retiring { .. } => f.write_str("retiring"),
            Self::Expired => f.write_str("expired"),
        }
    }
}

/// One line of [`OidcKeys::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: IdTokenAlg,
    pub state: KeyState,
}

/// The ID token signing keys: RS256 and ES256 from the `oidc-keys` document, EdDSA
/// from the issuer keys.
pub struct OidcKeys {
    keys: Vec<Key>,
}

impl fmt::Debug for OidcKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcKeys")
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|k| format!("{} {}", k.alg, k.kid))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl OidcKeys {
    /// The `id_token_signing_alg_values_supported`.
    pub fn supported_algs() -> &'static [&'static str] {
        supported_algs()
    }

    /// Loads the keys, generating an RS256 and an ES256 key on first start
    /// (or when every key of an algorithm was retired).
    pub fn load_or_create(vault: &Vault, issuer: &IssuerKeys, now: i64) -> anyhow::Result<Self> {
        let doc = vault.update(vault::OIDC_KEYS, now, |current| {
            let mut stored = parse_stored(current)?;
            Ok(if ensure_signers(&mut stored, now)?.is_empty() {
                None
            } else {
                Some(serde_json::to_string_pretty(&stored)?)
            })
        })?;
        Self::from_stored(&parse_stored(Some(&doc))?, issuer)
    }

    /// Adds a new RS256 and ES256 key that signs from
    /// `now + publish_ahead_secs` and is published from now; the keys they
    /// replace retire then. Keys whose tokens have all expired are deleted.
    /// (EdDSA keys rotate with [`IssuerKeys::rotate`].) Returns the new
    /// keys' algorithms and ids. Running servers publish them once they
    /// reload their keys ([`crate::keys::reload`]).
    pub fn rotate(
        vault: &Vault,
        now: i64,
        publish_ahead_secs: i64,
    ) -> anyhow::Result<Vec<(IdTokenAlg, String)>> {
        if publish_ahead_secs < 0 {
            bail!("the publish-ahead time cannot be negative");
        }
        let mut new = Vec::new();
        vault.update(vault::OIDC_KEYS, now, |current| {
            let mut stored = parse_stored(current)?;
            new = rotate_stored(&mut stored, now, publish_ahead_secs)?;
            Ok(Some(serde_json::to_string_pretty(&stored)?))
        })?;
        for (alg, kid) in &new {
            tracing::info!(%kid, %alg, not_before = now.saturating_add(publish_ahead_secs), "rotated an OpenID Connect signing key");
        }
        Ok(new)
    }

    fn from_stored(stored: &StoredKeys, issuer: &IssuerKeys) -> anyhow::Result<Self> {
        // Before any token: RS256 signs with ring.
        super::jwt_crypto::install()?;
        let mut keys = Vec::new();
        // EdDSA: the issuer keys, first (older clients of /jwks read
        // `keys[0]` as the issuer key). The active one signs; the others are kept
        // (they verify scope grants and events as long as they exist).
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let active = issuer.signing_key();
        let active_der = active
            .to_pkcs8_der()
            .map_err(|e| anyhow!("cannot encode the issuer key: {e}"))?;
        // The active key first, also after a rotation (keys[0] is what
        // those older clients take).
        let mut issuer_keys: Vec<_> = issuer.public_keys().iter().collect();
        issuer_keys.sort_by_key(|p| p.kid != issuer.active_kid());
        for p in issuer_keys {
            let is_active = p.kid == issuer.active_kid();
            let encoding = is_active.then(|| EncodingKey::from_ed_der(active_der.as_bytes()));
            let mut jwk = Map::new();
            jwk.insert("kty".into(), "OKP".into());
            jwk.insert("crv".into(), "Ed25519".into());
            jwk.insert("x".into(), b64(p.key.as_bytes()).into());
            keys.push(Key {
                kid: p.kid.clone(),
                alg: IdTokenAlg::EdDSA,
                encoding,
                decoding: DecodingKey::from_ed_der(p.key.as_bytes()),
                jwk,
                signs_from: i64::MIN,
                signs_until: if is_active { None } else { Some(i64::MIN) },
                published_until: None,
            });
        }
        for (i, s) in stored.keys.iter().enumerate() {
            if !STORED_ALGS.contains(&s.alg) {
                bail!("oidc-keys: unexpected {} key {}", s.alg, s.kid);
            }
            let der = URL_SAFE_NO_PAD
                .decode(&s.private_key)
                .with_context(|| format!("oidc-keys: key {} is corrupt", s.kid))?;
            let (encoding, decoding, jwk, kid) = parse_private(s.alg, &der)
                .with_context(|| format!("oidc-keys: key {} is corrupt", s.kid))?;
            if kid != s.kid {
                bail!("oidc-keys: key {} has the thumbprint {kid}", s.kid);
            }
            let signs_until = signs_until(&stored.keys, i);
            keys.push(Key {
                kid,
                alg: s.alg,
                encoding: Some(encoding),
                decoding,
                jwk,
                signs_from: s.not_before,
                signs_until,
                published_until: Some(
                    signs_until.map_or(i64::MAX, |t| t.saturating_add(ID_TOKEN_MAX_LIFETIME)),
                ),
            });
        }
        Ok(Self { keys })
    }

    /// The key that signs `alg` tokens at `now`: the newest one whose time
    /// has come (there is at most one).
    fn signer(&self, alg: IdTokenAlg, now: i64) -> Option<&Key> {
        self.keys.iter().rfind(|k| k.alg == alg && k.signs_at(now))
    }

    /// The `kid` that signs `alg` tokens at `now` (none for HS256).
    pub fn signing_kid(&self, alg: IdTokenAlg, now: i64) -> Option<&str> {
        self.signer(alg, now).map(|k| k.kid.as_str())
    }

    /// Signs `claims` (a JSON object) as a compact JWT with header
    /// `{alg, kid, typ: "JWT"}` (no `kid` for HS256, which is keyed with
    /// `hs256_secret`, the client secret).
    pub fn sign(
        &self,
        alg: IdTokenAlg,
        claims: &Value,
        hs256_secret: Option<&[u8]>,
        now: i64,
    ) -> Result<String, TokenError> {
        self.sign_typed(alg, "JWT", claims, hs256_secret, now)
    }

    /// [`OidcKeys::sign`] with another `typ` (e.g. `logout+jwt`).
    pub fn sign_typed(
        &self,
        alg: IdTokenAlg,
        typ: &str,
        claims: &Value,
        hs256_secret: Option<&[u8]>,
        now: i64,
    ) -> Result<String, TokenError> {
        if !claims.is_object() {
            return Err(TokenError::ClaimsNotObject);
        }
        let mut header = Header::new(alg.jwt());
        header.typ = Some(typ.into());
        if alg == IdTokenAlg::HS256 {
            let key = EncodingKey::from_secret(hs256_key(hs256_secret)?);
            return Ok(jsonwebtoken::encode(&header, claims, &key)?);
        }
        let (kid, key) = self
            .signer(alg, now)
            .and_then(|k| Some((&k.kid, k.encoding.as_ref()?)))
            .ok_or(TokenError::NoSigningKey(alg))?;
        header.kid = Some(kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, key)?)
    }

    /// Verifies a token this provider signed (e.g. an `id_token_hint`):
    /// by its header's `kid` against the published keys, whose algorithm
    /// must be the header's (HS256 with `hs256_secret`); `exp` must not
    /// have passed and `nbf`, if any, must have come (with
    /// [`VERIFY_LEEWAY`]). The audience is not checked. Returns the claims.
    pub fn verify(
        &self,
        token: &str,
        hs256_secret: Option<&[u8]>,
        now: i64,
    ) -> Result<Value, TokenError> {
        let claims = self.verify_signature(token, hs256_secret, now)?;
        let exp = claims
            .get("exp")
            .and_then(numeric_date)
            .ok_or(TokenError::MissingExp)?;
        if now > exp.saturating_add(VERIFY_LEEWAY) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// [`OidcKeys::verify`] without the `exp` check: an `id_token_hint` at
    /// logout may have expired (RP-Initiated Logout 1.0 §2).
    pub fn verify_signature(
        &self,
        token: &str,
        hs256_secret: Option<&[u8]>,
        now: i64,
    ) -> Result<Value, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        let alg = IdTokenAlg::from_jwt(header.alg).ok_or(TokenError::UnsupportedAlg)?;
        let mut validation = Validation::new(alg.jwt());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        let data = if alg == IdTokenAlg::HS256 {
            let key = DecodingKey::from_secret(hs256_key(hs256_secret)?);
            jsonwebtoken::decode::<Value>(token, &key, &validation)?
        } else {
            let kid = header.kid.as_deref().ok_or(TokenError::MissingKid)?;
            let key = self
                .keys
                .iter()
                .find(|k| k.kid == kid && k.published_at(now))
                .ok_or(TokenError::UnknownKey)?;
            if key.alg != alg {
                return Err(TokenError::AlgorithmMismatch);
            }
            jsonwebtoken::decode::<Value>(token, &key.decoding, &validation)?
        };
        let claims = data.claims;
        if let Some(nbf) = claims.get("nbf") {
            let nbf = numeric_date(nbf).ok_or(TokenError::NotYetValid)?;
            if now.saturating_add(VERIFY_LEEWAY) < nbf {
                return Err(TokenError::NotYetValid);
            }
        }
        Ok(claims)
    }

    /// The JWK Set (RFC 7517) of every key published at `now`, each with
    /// `kid`, `use: "sig"` and `alg`: the issuer's Ed25519 keys first
    /// (oldest first), then RS256 and ES256.
    pub fn jwks(&self, now: i64) -> Value {
        let mut seen = HashSet::new();
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.published_at(now) && seen.insert(k.kid.as_str()))
            .map(|k| {
                let mut jwk = k.jwk.clone();
                jwk.insert("kid".into(), k.kid.clone().into());
                jwk.insert("use".into(), "sig".into());
                jwk.insert("alg".into(), k.alg.as_str().into());
                Value::Object(jwk)
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Every key with its state at `now`: the EdDSA (issuer) keys, then
    /// RS256 and ES256 oldest first.
    pub fn list(&self, now: i64) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg,
                state: k.state(now),
            })
            .collect()
    }
}

fn hs256_key(secret: Option<&[u8]>) -> Result<&[u8], TokenError> {
    let secret = secret.ok_or(TokenError::MissingSecret(IdTokenAlg::HS256))?;
    if secret.len() < HS256_MIN_SECRET {
        return Err(TokenError::WeakSecret);
    }
    Ok(secret)
}

/// Why a header did not parse: an algorithm jsonwebtoken does not know
/// (`none`, …), or not a JWT at all.
fn header_error(token: &str) -> TokenError {
    let alg = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned));
    match alg {
        Some(a) if a.parse::<IdTokenAlg>().is_err() => TokenError::UnsupportedAlg,
        _ => TokenError::Malformed,
    }
}

/// A JWT NumericDate, whole seconds.
fn numeric_date(v: &Value) -> Option<i64> {
    match v.as_i64() {
        Some(t) => Some(t),
        None => v
            .as_f64()
            .filter(|t| t.is_finite())
            .map(|t| t.floor() as i64),
    }
}
