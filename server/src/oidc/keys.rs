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
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

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

/// The `id_token_signing_alg_values_supported`.
pub fn supported_algs() -> &'static [&'static str] {
    &["RS256", "ES256", "EdDSA", "HS256"]
}

/// An ID token signing algorithm, named as in JOSE.
#[allow(clippy::upper_case_acronyms)] // the JOSE names
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048.
    #[default]
    RS256,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// Ed25519 (the issuer keys).
    EdDSA,
    /// HMAC-SHA-256 keyed with the client secret.
    HS256,
}

/// An algorithm name this server does not sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported ID token signing algorithm {0:?}")]
pub struct UnsupportedAlg(pub String);

impl IdTokenAlg {
    pub const ALL: [IdTokenAlg; 4] = [Self::RS256, Self::ES256, Self::EdDSA, Self::HS256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
        }
    }

    fn jwt(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
            Self::HS256 => Algorithm::HS256,
        }
    }

    fn from_jwt(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::RS256 => Some(Self::RS256),
            Algorithm::ES256 => Some(Self::ES256),
            Algorithm::EdDSA => Some(Self::EdDSA),
            Algorithm::HS256 => Some(Self::HS256),
            _ => None,
        }
    }
}

impl fmt::Display for IdTokenAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdTokenAlg {
    type Err = UnsupportedAlg;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnsupportedAlg(s.to_string()))
    }
}

/// Why a token could not be signed or verified.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0} needs the client secret")]
    MissingSecret(IdTokenAlg),
    #[error("the client secret is too short for HS256 (at least {HS256_MIN_SECRET} bytes)")]
    WeakSecret,
    #[error("no {0} key signs at this time")]
    NoSigningKey(IdTokenAlg),
    #[error("the claims must be a JSON object")]
    ClaimsNotObject,
    #[error("the token is too long")]
    TooLong,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    UnsupportedAlg,
    #[error("the token names no key (`kid`)")]
    MissingKid,
    #[error("the token's key is unknown or no longer published")]
    UnknownKey,
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has no valid `exp`")]
    MissingExp,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is invalid: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::UnsupportedAlg,
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) => Self::Malformed,
            _ => Self::Invalid(e),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: IdTokenAlg,
    /// PKCS#8 DER, base64url.
    private_key: String,
    created: i64,
    /// When it may start signing; published from `created`.
    not_before: i64,
    /// When it stopped (or stops) signing; published until
    /// `retired + ID_TOKEN_MAX_LIFETIME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired: Option<i64>,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredKeys {
    keys: Vec<StoredKey>,
}

/// The algorithms whose keys are stored (the `oidc-keys` document).
const STORED_ALGS: [IdTokenAlg; 2] = [IdTokenAlg::RS256, IdTokenAlg::ES256];

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

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint of a canonical JWK (members sorted, no whitespace).
fn thumbprint_of(canonical: &str) -> String {
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// RFC 7638 thumbprint of an RSA public key given as JWK `n` and `e`.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    thumbprint_of(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
}

/// RFC 7638 thumbprint of a P-256 public key given as JWK `x` and `y`.
pub fn ec_thumbprint(x: &str, y: &str) -> String {
    thumbprint_of(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// A new private key of `alg` (RS256 or ES256), as PKCS#8 DER.
fn generate(alg: IdTokenAlg) -> anyhow::Result<Vec<u8>> {
    use rsa::pkcs8::EncodePrivateKey as _;
    match alg {
        IdTokenAlg::RS256 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                .map_err(|e| anyhow!("cannot generate an RSA key: {e}"))?;
            let der = key
                .to_pkcs8_der()
                .map_err(|e| anyhow!("cannot encode an RSA key: {e}"))?;
            Ok(der.as_bytes().to_vec())
        }
        IdTokenAlg::ES256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            let der = key
                .to_pkcs8_der()
                .map_err(|e| anyhow!("cannot encode a P-256 key: {e}"))?;
            Ok(der.as_bytes().to_vec())
        }
        IdTokenAlg::EdDSA | IdTokenAlg::HS256 => bail!("{alg} keys are not generated here"),
    }
}

/// The signing key, verifying key, public JWK members and thumbprint of a
/// stored private key.
fn parse_private(
    alg: IdTokenAlg,
    der: &[u8],
) -> anyhow::Result<(EncodingKey, DecodingKey, Map<String, Value>, String)> {
    match alg {
        IdTokenAlg::RS256 => {
            use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
            use rsa::pkcs8::DecodePrivateKey as _;
            use rsa::traits::PublicKeyParts as _;
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map_err(|e| anyhow!("not an RSA private key: {e}"))?;
            key.validate()
                .map_err(|e| anyhow!("invalid RSA private key: {e}"))?;
            let public = key.to_public_key();
            let n = b64(&public.n().to_bytes_be());
            let e = b64(&public.e().to_bytes_be());
            // The RustCrypto backend of jsonwebtoken takes PKCS#1 for RSA.
            let encoding = EncodingKey::from_rsa_der(
                key.to_pkcs1_der()
                    .map_err(|e| anyhow!("cannot encode an RSA key: {e}"))?
                    .as_bytes(),
            );
            let decoding = DecodingKey::from_rsa_der(
                public
                    .to_pkcs1_der()
                    .map_err(|e| anyhow!("cannot encode an RSA key: {e}"))?
                    .as_bytes(),
            );
            let kid = rsa_thumbprint(&n, &e);
            let mut jwk = Map::new();
            jwk.insert("kty".into(), "RSA".into());
            jwk.insert("n".into(), n.into());
            jwk.insert("e".into(), e.into());
            Ok((encoding, decoding, jwk, kid))
        }
        IdTokenAlg::ES256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint as _;
            use p256::pkcs8::DecodePrivateKey as _;
            let key = p256::SecretKey::from_pkcs8_der(der)
                .map_err(|e| anyhow!("not a P-256 private key: {e}"))?;
            let point = key.public_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                bail!("P-256 public key without coordinates");
            };
            let (x, y) = (b64(x), b64(y));
            let encoding = EncodingKey::from_ec_der(der);
            let decoding = DecodingKey::from_ec_der(point.as_bytes());
            let kid = ec_thumbprint(&x, &y);
            let mut jwk = Map::new();
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("crv".into(), "P-256".into());
            jwk.insert("x".into(), x.into());
            jwk.insert("y".into(), y.into());
            Ok((encoding, decoding, jwk, kid))
        }
        IdTokenAlg::EdDSA | IdTokenAlg::HS256 => bail!("{alg} keys are not stored here"),
    }
}

fn new_stored_key(alg: IdTokenAlg, now: i64, not_before: i64) -> anyhow::Result<StoredKey> {
    let der = generate(alg)?;
    let (_, _, _, kid) = parse_private(alg, &der)?;
    Ok(StoredKey {
        kid,
        alg,
        private_key: b64(&der),
        created: now,
        not_before,
        retired: None,
    })
}

fn parse_stored(doc: Option<&str>) -> anyhow::Result<StoredKeys> {
    match doc {
        None => Ok(StoredKeys::default()),
        Some(doc) => serde_json::from_str(doc).context("the OpenID Connect keys are corrupt"),
    }
}

/// Whether the key ever signs: not retired before it would have started.
fn ever_signs(k: &StoredKey) -> bool {
    k.retired.is_none_or(|r| r > k.not_before)
}

/// When stored key `i` stops signing: when it was retired, or when a newer
/// (later made, later in the file) key of its algorithm starts signing,
/// whichever comes first. A key superseded before its `not_before` never
/// signs.
fn signs_until(keys: &[StoredKey], i: usize) -> Option<i64> {
    let k = &keys[i];
    let superseded = keys[i + 1..]
        .iter()
        .filter(|n| n.alg == k.alg && ever_signs(n))
        .map(|n| n.not_before)
        .min();
    match (k.retired, superseded) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Adds a key signing from `now` for each stored algorithm that has none
/// that signs now or later. Returns the algorithms it added keys for.
fn ensure_signers(stored: &mut StoredKeys, now: i64) -> anyhow::Result<Vec<IdTokenAlg>> {
    let mut added = Vec::new();
    for alg in STORED_ALGS {
        let has = (0..stored.keys.len()).any(|i| {
            stored.keys[i].alg == alg
                && ever_signs(&stored.keys[i])
                && signs_until(&stored.keys, i).is_none_or(|t| t > now)
        });
        if !has {
            let key = new_stored_key(alg, now, now)?;
            tracing::info!(kid = %key.kid, %alg, "generated an OpenID Connect signing key");
            stored.keys.push(key);
            added.push(alg);
        }
    }
    Ok(added)
}

/// [`OidcKeys::rotate`] on the stored keys.
fn rotate_stored(
    stored: &mut StoredKeys,
    now: i64,
    publish_ahead_secs: i64,
) -> anyhow::Result<Vec<(IdTokenAlg, String)>> {
    // On a first start there is nothing to replace: new keys sign now.
    let fresh = ensure_signers(stored, now)?;
    let not_before = now.saturating_add(publish_ahead_secs);
    let mut new = Vec::new();
    for alg in STORED_ALGS {
        if fresh.contains(&alg) {
            if let Some(k) = stored.keys.iter().rev().find(|k| k.alg == alg) {
                new.push((alg, k.kid.clone()));
            }
            continue;
        }
        let key = new_stored_key(alg, now, not_before)?;
        new.push((alg, key.kid.clone()));
        stored.keys.push(key);
    }
    // Record when each replaced key stops signing.
    let until: Vec<Option<i64>> = (0..stored.keys.len())
        .map(|i| signs_until(&stored.keys, i))
        .collect();
    for (k, until) in stored.keys.iter_mut().zip(until) {
        k.retired = until;
    }
    stored.keys.retain(|k| {
        k.retired
            .is_none_or(|r| now < r.saturating_add(ID_TOKEN_MAX_LIFETIME))
    });
    Ok(new)
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use jsonwebtoken::jwk::{Jwk, ThumbprintHash};

    use super::*;

    const T0: i64 = 1_700_000_000;
    const SECRET: &[u8] = b"a client secret of at least 32 bytes, surely";

    fn setup(now: i64) -> (tempfile::TempDir, IssuerKeys, OidcKeys) {
        let dir = tempfile::tempdir().unwrap();
        let issuer = IssuerKeys::load_or_create(&Vault::for_tests(dir.path()), now).unwrap();
        let started = Instant::now();
        let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, now).unwrap();
        eprintln!("RS256 + ES256 key generation: {:?}", started.elapsed());
        (dir, issuer, keys)
    }

    fn claims(now: i64) -> Value {
        json!({"iss": "https://id.example", "sub": "someone", "aud": "client",
               "iat": now, "exp": now + 600, "nonce": "n-0S6_WzA2Mj"})
    }

    fn kids(jwks: &Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    fn kids_of(jwks: &Value, alg: &str) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == alg)
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    fn header_of(token: &str) -> Value {
        let h = token.split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
    }

    /// `token` with its header replaced by `header` (signature kept).
    fn with_header(token: &str, header: &Value) -> String {
        let mut parts = token.splitn(2, '.');
        parts.next();
        let rest = parts.next().unwrap();
        format!("{}.{rest}", b64(header.to_string().as_bytes()))
    }

    #[test]
    fn first_start_generates_and_later_starts_reload() {
        let (dir, issuer, a) = setup(T0);
        let b = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0 + 5).unwrap();
        assert_eq!(kids(&a.jwks(T0)), kids(&b.jwks(T0 + 5)));
        assert_eq!(kids(&a.jwks(T0)).len(), 3, "RS256, ES256 and EdDSA");
        for alg in [IdTokenAlg::RS256, IdTokenAlg::ES256, IdTokenAlg::EdDSA] {
            assert_eq!(a.signing_kid(alg, T0), b.signing_kid(alg, T0 + 5));
            assert!(a.signing_kid(alg, T0).is_some());
        }
        // EdDSA is the issuer key, not a second Ed25519 key.
        assert_eq!(
            a.signing_kid(IdTokenAlg::EdDSA, T0),
            Some(issuer.active_kid())
        );
        assert_eq!(a.signing_kid(IdTokenAlg::HS256, T0), None);
        // A token signed before the restart verifies after it.
        let token = a.sign(IdTokenAlg::RS256, &claims(T0), None, T0).unwrap();
        b.verify(&token, None, T0 + 5).unwrap();
    }

    #[test]
    fn signs_and_verifies_with_each_algorithm() {
        let (_dir, _, keys) = setup(T0);
        for alg in IdTokenAlg::ALL {
            let secret = (alg == IdTokenAlg::HS256).then_some(SECRET);
            let token = keys.sign(alg, &claims(T0), secret, T0).unwrap();
            let header = header_of(&token);
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["typ"], "JWT");
            if alg == IdTokenAlg::HS256 {
                assert!(header.get("kid").is_none(), "{header}");
            } else {
                assert_eq!(header["kid"], keys.signing_kid(alg, T0).unwrap());
            }
            let got = keys.verify(&token, secret, T0 + 1).unwrap();
            assert_eq!(got, claims(T0), "{alg}");
        }
    }

    #[test]
    fn published_keys_verify_tokens_on_their_own() {
        let (_dir, _, keys) = setup(T0);
        let jwks = keys.jwks(T0);
        for alg in [IdTokenAlg::RS256, IdTokenAlg::ES256, IdTokenAlg::EdDSA] {
            let token = keys.sign(alg, &claims(T0), None, T0).unwrap();
            let kid = header_of(&token)["kid"].as_str().unwrap().to_string();
            let jwk_json = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == kid.as_str())
                .unwrap();
            assert_eq!(jwk_json["use"], "sig");
            assert_eq!(jwk_json["alg"], alg.as_str());
            assert!(jwk_json.get("d").is_none(), "no private parts");
            let jwk: Jwk = serde_json::from_value(jwk_json.clone()).unwrap();
            // The kid is the RFC 7638 thumbprint, as jsonwebtoken computes it.
            assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), kid);
            let key = DecodingKey::from_jwk(&jwk).unwrap();
            let mut v = Validation::new(alg.jwt());
            v.set_audience(&["client"]);
            // jsonwebtoken checks `exp` against the real clock.
            v.validate_exp = false;
            let data = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
            assert_eq!(data.claims["sub"], "someone");
        }
        let by_kty = |kty: &str| {
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["kty"] == kty)
                .count()
        };
        // The issuer key comes first, where older clients look for it.
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(by_kty("RSA"), 1);
        assert_eq!(by_kty("EC"), 1);
        assert_eq!(by_kty("OKP"), 1);
        let ec = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "EC")
            .unwrap();
        assert_eq!(ec["crv"], "P-256");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(ec["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        let rsa = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "RSA")
            .unwrap();
        assert_eq!(rsa["e"], "AQAB");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(rsa["n"].as_str().unwrap())
                .unwrap()
                .len(),
            RSA_BITS / 8
        );
    }

    #[test]
    fn refuses_forged_and_stale_tokens() {
        let (_dir, _, keys) = setup(T0);
        let rs = keys.sign(IdTokenAlg::RS256, &claims(T0), None, T0).unwrap();
        let es = keys.sign(IdTokenAlg::ES256, &claims(T0), None, T0).unwrap();
        let rs_kid = keys.signing_kid(IdTokenAlg::RS256, T0).unwrap();
        let es_kid = keys.signing_kid(IdTokenAlg::ES256, T0).unwrap();

        // A changed payload.
        let parts: Vec<&str> = rs.split('.').collect();
        let mut forged_claims = claims(T0);
        forged_claims["sub"] = json!("someone else");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(forged_claims.to_string().as_bytes()),
            parts[2]
        );
        assert!(matches!(
            keys.verify(&forged, None, T0),
            Err(TokenError::BadSignature)
        ));
        // A changed signature.
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        sig[0] ^= 1;
        let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
        assert!(matches!(
            keys.verify(&forged, None, T0),
            Err(TokenError::BadSignature)
        ));

        // The header's algorithm must be its key's.
        let wrong = with_header(&rs, &json!({"alg": "ES256", "kid": rs_kid, "typ": "JWT"}));
        assert!(matches!(
            keys.verify(&wrong, None, T0),
            Err(TokenError::AlgorithmMismatch)
        ));
        let wrong = with_header(&es, &json!({"alg": "RS256", "kid": es_kid, "typ": "JWT"}));
        assert!(matches!(
            keys.verify(&wrong, None, T0),
            Err(TokenError::AlgorithmMismatch)
        ));
        // A known algorithm this provider does not use.
        let wrong = with_header(&rs, &json!({"alg": "PS256", "kid": rs_kid}));
        assert!(matches!(
            keys.verify(&wrong, None, T0),
            Err(TokenError::UnsupportedAlg)
        ));
        // `none`, with or without a signature.
        let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        assert!(matches!(
            keys.verify(&none, None, T0),
            Err(TokenError::UnsupportedAlg)
        ));
        let none = with_header(&rs, &json!({"alg": "none", "kid": rs_kid}));
        assert!(matches!(
            keys.verify(&none, None, T0),
            Err(TokenError::UnsupportedAlg)
        ));
        // HS256 keyed with the public key (algorithm confusion) needs a
        // client secret, and the secret decides.
        let jwks = keys.jwks(T0);
        let rsa = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "RSA");
        let n = rsa.unwrap()["n"].as_str().unwrap().to_string();
        let confused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(T0),
            &EncodingKey::from_secret(n.as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            keys.verify(&confused, None, T0),
            Err(TokenError::MissingSecret(IdTokenAlg::HS256))
        ));
        assert!(matches!(
            keys.verify(&confused, Some(SECRET), T0),
            Err(TokenError::BadSignature)
        ));
        let hs = keys
            .sign(IdTokenAlg::HS256, &claims(T0), Some(SECRET), T0)
            .unwrap();
        assert!(matches!(
            keys.verify(&hs, Some(b"another client secret of 32 bytes or more"), T0),
            Err(TokenError::BadSignature)
        ));
        assert!(matches!(
            keys.sign(IdTokenAlg::HS256, &claims(T0), Some(b"short"), T0),
            Err(TokenError::WeakSecret)
        ));
        assert!(matches!(
            keys.sign(IdTokenAlg::HS256, &claims(T0), None, T0),
            Err(TokenError::MissingSecret(_))
        ));

        // Unknown or missing key ids.
        let wrong = with_header(&rs, &json!({"alg": "RS256", "kid": "nope"}));
        assert!(matches!(
            keys.verify(&wrong, None, T0),
            Err(TokenError::UnknownKey)
        ));
        let wrong = with_header(&rs, &json!({"alg": "RS256"}));
        assert!(matches!(
            keys.verify(&wrong, None, T0),
            Err(TokenError::MissingKid)
        ));

        // Time: `exp` is required and checked with the leeway; so is `nbf`.
        let late = T0 + 600 + VERIFY_LEEWAY;
        keys.verify(&rs, None, late).unwrap();
        assert!(matches!(
            keys.verify(&rs, None, late + 1),
            Err(TokenError::Expired)
        ));
        let no_exp = keys
            .sign(IdTokenAlg::ES256, &json!({"sub": "x"}), None, T0)
            .unwrap();
        assert!(matches!(
            keys.verify(&no_exp, None, T0),
            Err(TokenError::MissingExp)
        ));
        let future = keys
            .sign(
                IdTokenAlg::EdDSA,
                &json!({"exp": T0 + 9000, "nbf": T0 + 600}),
                None,
                T0,
            )
            .unwrap();
        assert!(matches!(
            keys.verify(&future, None, T0),
            Err(TokenError::NotYetValid)
        ));
        keys.verify(&future, None, T0 + 600).unwrap();

        // Not JWTs at all.
        for junk in [
            "",
            "abc",
            "a.b",
            "a.b.c",
            "..",
            &"x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(keys.verify(junk, None, T0).is_err(), "{junk:.20}");
        }
        assert!(matches!(
            keys.sign(IdTokenAlg::RS256, &json!("not an object"), None, T0),
            Err(TokenError::ClaimsNotObject)
        ));
    }

    #[test]
    fn rotation_publishes_first_signs_later_and_retires_old_keys() {
        let (dir, issuer, _) = setup(T0);
        let before = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0).unwrap();
        let old_rs = before
            .signing_kid(IdTokenAlg::RS256, T0)
            .unwrap()
            .to_string();
        let old_es = before
            .signing_kid(IdTokenAlg::ES256, T0)
            .unwrap()
            .to_string();

        let rotated_at = T0 + 100;
        let ahead = 3600;
        let started = Instant::now();
        let new = OidcKeys::rotate(&Vault::for_tests(dir.path()), rotated_at, ahead).unwrap();
        eprintln!(
            "rotation (RS256 + ES256 generation): {:?}",
            started.elapsed()
        );
        assert_eq!(new.len(), 2);
        let new_rs = new
            .iter()
            .find(|(a, _)| *a == IdTokenAlg::RS256)
            .unwrap()
            .1
            .clone();
        let new_es = new
            .iter()
            .find(|(a, _)| *a == IdTokenAlg::ES256)
            .unwrap()
            .1
            .clone();
        assert_ne!(new_rs, old_rs);
        assert_ne!(new_es, old_es);

        // The server restarts right after the rotation.
        let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, rotated_at + 1)
            .unwrap();
        let switch = rotated_at + ahead;

        // Published at once, but the old keys still sign.
        let t = rotated_at + 1;
        let published = kids(&keys.jwks(t));
        for kid in [&old_rs, &new_rs, &old_es, &new_es] {
            assert!(published.contains(kid), "{kid} published");
        }
        assert_eq!(published.len(), 5);
        assert_eq!(
            keys.signing_kid(IdTokenAlg::RS256, t),
            Some(old_rs.as_str())
        );
        assert_eq!(
            keys.signing_kid(IdTokenAlg::ES256, t),
            Some(old_es.as_str())
        );
        assert_eq!(
            keys.signing_kid(IdTokenAlg::RS256, switch - 1),
            Some(old_rs.as_str())
        );
        let info = keys.list(t);
        let state = |kid: &str| info.iter().find(|k| k.kid == kid).unwrap().state;
        assert_eq!(state(&old_rs), KeyState::Active);
        assert_eq!(
            state(&new_rs),
            KeyState::PublishedOnly { signs_from: switch }
        );
        let by_old = keys
            .sign(IdTokenAlg::RS256, &claims(switch - 1), None, switch - 1)
            .unwrap();
        assert_eq!(header_of(&by_old)["kid"], old_rs.as_str());

        // From `not_before`, the new keys sign; the old ones are retiring.
        assert_eq!(
            keys.signing_kid(IdTokenAlg::RS256, switch),
            Some(new_rs.as_str())
        );
        assert_eq!(
            keys.signing_kid(IdTokenAlg::ES256, switch),
            Some(new_es.as_str())
        );
        let by_new = keys
            .sign(IdTokenAlg::ES256, &claims(switch), None, switch)
            .unwrap();
        assert_eq!(header_of(&by_new)["kid"], new_es.as_str());
        let retire_end = switch + ID_TOKEN_MAX_LIFETIME;
        assert_eq!(
            keys.list(switch)
                .iter()
                .find(|k| k.kid == old_rs)
                .unwrap()
                .state,
            KeyState::Retiring {
                published_until: Some(retire_end)
            }
        );
        assert!(kids(&keys.jwks(retire_end - 1)).contains(&old_rs));
        assert!(kids(&keys.jwks(retire_end - 1)).contains(&old_es));
        keys.verify(&by_old, None, switch).unwrap();

        // Once its tokens have expired, the old key drops out.
        let gone = kids(&keys.jwks(retire_end));
        assert!(!gone.contains(&old_rs) && !gone.contains(&old_es));
        assert!(gone.contains(&new_rs) && gone.contains(&new_es));
        assert_eq!(gone.len(), 3);
        let long_lived = keys
            .sign(
                IdTokenAlg::RS256,
                &json!({"exp": retire_end + 10}),
                None,
                switch - 1,
            )
            .unwrap();
        assert!(matches!(
            keys.verify(&long_lived, None, retire_end),
            Err(TokenError::UnknownKey)
        ));

        // A later rotation deletes keys nothing can need any more.
        OidcKeys::rotate(&Vault::for_tests(dir.path()), retire_end, 0).unwrap();
        let later =
            OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, retire_end).unwrap();
        let all: Vec<String> = later.list(retire_end).into_iter().map(|k| k.kid).collect();
        assert!(!all.contains(&old_rs) && !all.contains(&old_es));
        assert!(all.contains(&new_rs), "retiring, still listed");
        assert_ne!(
            later.signing_kid(IdTokenAlg::RS256, retire_end),
            Some(new_rs.as_str()),
            "publish-ahead 0 signs at once"
        );
        assert_eq!(kids_of(&later.jwks(retire_end), "RS256").len(), 2);
    }

    #[test]
    fn the_newest_rotation_wins_over_a_pending_one() {
        let (dir, issuer, first) = setup(T0);
        let oldest = first
            .signing_kid(IdTokenAlg::RS256, T0)
            .unwrap()
            .to_string();
        let pending = OidcKeys::rotate(&Vault::for_tests(dir.path()), T0 + 10, 3600).unwrap()[0]
            .1
            .clone();
        // Rotated again, to sign at once (say the old key leaked).
        let newest = OidcKeys::rotate(&Vault::for_tests(dir.path()), T0 + 20, 0).unwrap()[0]
            .1
            .clone();
        let keys =
            OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0 + 20).unwrap();
        for t in [T0 + 20, T0 + 10 + 3600, T0 + 10 * 3600] {
            assert_eq!(
                keys.signing_kid(IdTokenAlg::RS256, t),
                Some(newest.as_str())
            );
        }
        assert_eq!(
            keys.signing_kid(IdTokenAlg::RS256, T0 + 19),
            Some(oldest.as_str())
        );
        let state = |kid: &str, t| {
            keys.list(t)
                .into_iter()
                .find(|k| k.kid == kid)
                .map(|k| k.state)
        };
        assert!(matches!(
            state(&pending, T0 + 3700),
            Some(KeyState::Retiring { .. })
        ));
        assert!(matches!(
            state(&oldest, T0 + 21),
            Some(KeyState::Retiring { .. })
        ));
        assert_eq!(
            state(&oldest, T0 + 20 + ID_TOKEN_MAX_LIFETIME),
            Some(KeyState::Expired)
        );
    }

    #[test]
    fn rotating_a_fresh_data_dir_makes_one_key_per_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = IssuerKeys::load_or_create(&Vault::for_tests(dir.path()), T0).unwrap();
        let new = OidcKeys::rotate(&Vault::for_tests(dir.path()), T0, 3600).unwrap();
        let keys = OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0).unwrap();
        assert_eq!(
            keys.signing_kid(IdTokenAlg::RS256, T0),
            Some(new[0].1.as_str())
        );
        assert_eq!(keys.jwks(T0)["keys"].as_array().unwrap().len(), 3);
        assert!(OidcKeys::rotate(&Vault::for_tests(dir.path()), T0, -1).is_err());
    }

    #[test]
    fn eddsa_follows_the_issuer_rotation() {
        let (dir, old_issuer, _) = setup(T0);
        let issuer = IssuerKeys::rotate(&Vault::for_tests(dir.path()), T0 + 1).unwrap();
        let keys =
            OidcKeys::load_or_create(&Vault::for_tests(dir.path()), &issuer, T0 + 1).unwrap();
        assert_eq!(
            keys.signing_kid(IdTokenAlg::EdDSA, T0 + 1),
            Some(issuer.active_kid())
        );
        let ed = kids_of(&keys.jwks(T0 + 1), "EdDSA");
        assert_eq!(ed.len(), 2);
        assert!(ed.contains(&old_issuer.active_kid().to_string()));
        assert_eq!(
            keys.jwks(T0 + 1)["keys"][0]["kid"],
            issuer.active_kid(),
            "the signing issuer key comes first"
        );
        // Both keys are the issuer's: a token signed here verifies with it.
        let token = keys
            .sign(IdTokenAlg::EdDSA, &claims(T0), None, T0 + 1)
            .unwrap();
        let (h, rest) = token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let sig =
            ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        issuer
            .signing_key()
            .verifying_key()
            .verify_strict(format!("{h}.{p}").as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn a_tampered_key_file_is_refused() {
        let (dir, issuer, _) = setup(T0);
        let vault = Vault::for_tests(dir.path());
        vault
            .update(vault::OIDC_KEYS, T0, |current| {
                let mut stored: Value = serde_json::from_str(current.unwrap()).unwrap();
                stored["keys"][0]["kid"] = json!("someone-elses-kid");
                Ok(Some(stored.to_string()))
            })
            .unwrap();
        let err = OidcKeys::load_or_create(&vault, &issuer, T0).unwrap_err();
        assert!(format!("{err:#}").contains("thumbprint"), "{err:#}");
        vault
            .update(vault::OIDC_KEYS, T0, |_| Ok(Some("{not json".into())))
            .unwrap();
        assert!(OidcKeys::load_or_create(&vault, &issuer, T0).is_err());
    }

    #[test]
    fn rfc7638_thumbprint_of_the_example_rsa_key() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(IdTokenAlg::default(), IdTokenAlg::RS256);
        for alg in IdTokenAlg::ALL {
            assert_eq!(alg.as_str().parse::<IdTokenAlg>().unwrap(), alg);
            assert_eq!(serde_json::to_value(alg).unwrap(), alg.as_str());
        }
        let names: Vec<&str> = IdTokenAlg::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, supported_algs());
        assert!("none".parse::<IdTokenAlg>().is_err());
        assert!("rs256".parse::<IdTokenAlg>().is_err());
        assert!(serde_json::from_value::<IdTokenAlg>(json!("none")).is_err());
    }
}
