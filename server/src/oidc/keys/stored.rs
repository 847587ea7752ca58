//! The `oidc-keys` document: the stored RS256 and ES256 keys, their
//! generation and parsing, RFC 7638 thumbprints, and the rotation rules
//! (when a key signs, when it retires).

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{ID_TOKEN_MAX_LIFETIME, IdTokenAlg, RSA_BITS};

#[derive(Serialize, Deserialize)]
pub(super) struct StoredKey {
    pub(super) kid: String,
    pub(super) alg: IdTokenAlg,
    /// PKCS#8 DER, base64url.
    pub(super) private_key: String,
    pub(super) created: i64,
    /// When it may start signing; published from `created`.
    pub(super) not_before: i64,
    /// When it stopped (or stops) signing; published until
    /// `retired + ID_TOKEN_MAX_LIFETIME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) retired: Option<i64>,
}

#[derive(Serialize, Deserialize, Default)]
pub(super) struct StoredKeys {
    pub(super) keys: Vec<StoredKey>,
}

/// The algorithms whose keys are stored (the `oidc-keys` document).
pub(super) const STORED_ALGS: [IdTokenAlg; 2] = [IdTokenAlg::RS256, IdTokenAlg::ES256];

pub(super) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint of a canonical JWK (members sorted, no whitespace).
pub(super) fn thumbprint_of(canonical: &str) -> String {
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
pub(super) fn generate(alg: IdTokenAlg) -> anyhow::Result<Vec<u8>> {
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
pub(super) fn parse_private(
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

pub(super) fn new_stored_key(
    alg: IdTokenAlg,
    now: i64,
    not_before: i64,
) -> anyhow::Result<StoredKey> {
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

pub(super) fn parse_stored(doc: Option<&str>) -> anyhow::Result<StoredKeys> {
    match doc {
        None => Ok(StoredKeys::default()),
        Some(doc) => serde_json::from_str(doc).context("the OpenID Connect keys are corrupt"),
    }
}

/// Whether the key ever signs: not retired before it would have started.
pub(super) fn ever_signs(k: &StoredKey) -> bool {
    k.retired.is_none_or(|r| r > k.not_before)
}

/// When stored key `i` stops signing: when it was retired, or when a newer
/// (later made, later in the file) key of its algorithm starts signing,
/// whichever comes first. A key superseded before its `not_before` never
/// signs.
pub(super) fn signs_until(keys: &[StoredKey], i: usize) -> Option<i64> {
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
pub(super) fn ensure_signers(stored: &mut StoredKeys, now: i64) -> anyhow::Result<Vec<IdTokenAlg>> {
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
pub(super) fn rotate_stored(
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
