//! Compact JWS (RFC 7515) with Ed25519 (RFC 8037), and nothing else.
//!
//! Only the EdDSA algorithm exists here, so `none`, HMAC and RSA tokens can
//! never be confused for valid ones; the older Authentiq spelling
//! `"alg":"Ed25519"` is accepted on input as an alias.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::id::IdError;

/// Tokens longer than this are refused before any decoding.
pub const DEFAULT_MAX_LEN: usize = 8 * 1024;

/// The algorithm name this crate writes.
pub const ALG: &str = "EdDSA";
/// Older Authentiq clients wrote this; RFC 9864 registers it too.
pub const ALG_ALIAS: &str = "Ed25519";

/// Which of the three compact segments a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Header,
    Payload,
    Signature,
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Every reason a token is refused, JWS and JWT alike, so that callers map
/// one enum to their HTTP errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("token is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("a compact JWS has 3 dot-separated segments, got {0}")]
    SegmentCount(usize),
    #[error("the {0} is not valid unpadded base64url")]
    Base64(Segment),
    #[error("the header is not a valid JOSE header: {0}")]
    Header(String),
    #[error("unsigned tokens (alg \"none\") are never accepted")]
    AlgNone,
    #[error("algorithm {0:?} is not accepted; use EdDSA")]
    UnsupportedAlg(String),
    #[error("critical header extensions are not supported")]
    Critical,
    #[error("an Ed25519 signature is 64 bytes, got {0}")]
    SignatureLength(usize),
    #[error("the signature does not verify with the expected key")]
    BadSignature,
    #[error("the header has no kid")]
    MissingKid,
    #[error("kid {found:?} is not the expected {expected:?}")]
    KidMismatch { expected: String, found: String },
    #[error("kid is not an Authentiq ID: {0}")]
    KidNotAnId(IdError),
    #[error("the payload is not the expected JSON: {0}")]
    Payload(String),
    #[error("the token expired at {exp}")]
    Expired { exp: i64 },
    #[error("the token is not valid before {nbf}")]
    NotYetValid { nbf: i64 },
    #[error("the token was issued in the future ({iat})")]
    IssuedInFuture { iat: i64 },
    #[error("the token was issued at {iat}, longer ago than accepted")]
    TooOld { iat: i64 },
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    #[error("kid and sub name different keys")]
    SubjectMismatch,
    #[error("a self-signed token's iss must equal its sub")]
    IssuerMismatch,
    #[error("the token's audience does not include {0:?}")]
    AudienceMismatch(String),
    #[error("the token is valid for {lifetime} s, longer than the {max} s accepted")]
    LifetimeTooLong { lifetime: i64, max: i64 },
    #[error("the token's typ is {found:?}, expected {expected:?}")]
    WrongType {
        expected: String,
        found: Option<String>,
    },
    #[error("the operating system's random number generator failed")]
    Random,
    #[error("the claims repeat the registered claim {0:?}")]
    DuplicateClaim(String),
}

/// The protected header. Unknown members are ignored except `crit`, whose
/// presence means "refuse me if you don't understand this", so we refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Present at all (even `null`): refuse.
    #[serde(default, skip_serializing, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

impl Header {
    /// The header this crate signs JWTs with: `{"alg":"EdDSA","typ":"JWT","kid":…}`.
    pub fn jwt(kid: &str) -> Self {
        Self::typed(kid, "JWT")
    }

    /// A header with an explicit media type, for server-signed tokens
    /// that must never be mistaken for another kind (RFC 8725 §3.11).
    pub fn typed(kid: &str, typ: &str) -> Self {
        Self {
            alg: ALG.into(),
            typ: Some(typ.into()),
            kid: Some(kid.into()),
            crit: false,
        }
    }

    /// A bare header with only `alg`, as in RFC 8037's examples.
    pub fn bare() -> Self {
        Self {
            alg: ALG.into(),
            typ: None,
            kid: None,
            crit: false,
        }
    }
}

/// A compact JWS whose structure, header and encodings are valid, but whose
/// signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Signature,
}

impl<'a> Unverified<'a> {
    /// Parses a compact JWS without trusting anything in it.
    pub fn parse(token: &'a str, max_len: usize) -> Result<Self, JwsError> {
        if token.len() > max_len {
            return Err(JwsError::TooLarge {
                len: token.len(),
                max: max_len,
            });
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [h, p, s] = parts[..] else {
            return Err(JwsError::SegmentCount(parts.len()));
        };
        let header_bytes = b64::decode(h).map_err(|_| JwsError::Base64(Segment::Header))?;
        let header: Header =
            serde_json::from_slice(&header_bytes).map_err(|e| JwsError::Header(e.to_string()))?;
        match header.alg.as_str() {
            ALG | ALG_ALIAS => {}
            a if a.eq_ignore_ascii_case("none") => return Err(JwsError::AlgNone),
            other => return Err(JwsError::UnsupportedAlg(other.into())),
        }
        if header.crit {
            return Err(JwsError::Critical);
        }
        let payload = b64::decode(p).map_err(|_| JwsError::Base64(Segment::Payload))?;
        let sig = b64::decode(s).map_err(|_| JwsError::Base64(Segment::Signature))?;
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|v: Vec<u8>| JwsError::SignatureLength(v.len()))?;
        Ok(Self {
            header,
            signing_input: &token[..h.len() + 1 + p.len()],
            payload,
            signature: Signature::from_bytes(&sig),
        })
    }

    /// The payload as sent, for callers that must pick a key from it. It is
    /// not authenticated: never act on it before [`Unverified::verify`].
    pub fn unverified_payload(&self) -> &[u8] {
        &self.payload
    }

    /// Checks the signature with `key`, strictly (no malleable signatures,
    /// no small-order keys), and hands out the payload only if it holds.
    pub fn verify(self, key: &VerifyingKey) -> Result<Vec<u8>, JwsError> {
        key.verify_strict(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)?;
        Ok(self.payload)
    }
}

/// Signs `payload` under `header` and returns the compact serialization.
/// The header's `alg` is always written as `EdDSA`, whatever it held.
pub fn sign(header: &Header, payload: &[u8], key: &SigningKey) -> Result<String, JwsError> {
    let header = Header {
        alg: ALG.into(),
        ..header.clone()
    };
    let header_json = serde_json::to_vec(&header).map_err(|e| JwsError::Header(e.to_string()))?;
    let mut out = b64::encode(&header_json);
    out.push('.');
    out.push_str(&b64::encode(payload));
    let signature = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&b64::encode(&signature.to_bytes()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthentiqId;

    // RFC 8037 Appendix A.1/A.2/A.4.
    const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const A4_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn rfc_key() -> SigningKey {
        let d: [u8; 32] = b64::decode(D).unwrap().try_into().unwrap();
        SigningKey::from_bytes(&d)
    }

    fn other_key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn rfc8037_a4_is_reproduced_byte_for_byte() {
        let key = rfc_key();
        assert_eq!(
            AuthentiqId::from_verifying_key(key.verifying_key())
                .unwrap()
                .to_string(),
            X
        );
        let token = sign(&Header::bare(), b"Example of Ed25519 signing", &key).unwrap();
        assert_eq!(token, A4_TOKEN);
    }

    #[test]
    fn rfc8037_a5_verifies() {
        let x: AuthentiqId = X.parse().unwrap();
        let jws = Unverified::parse(A4_TOKEN, DEFAULT_MAX_LEN).unwrap();
        assert_eq!(jws.header.alg, "EdDSA");
        let payload = jws.verify(x.verifying_key()).unwrap();
        assert_eq!(payload, b"Example of Ed25519 signing");
    }

    fn with_header(header_json: &str, key: &SigningKey) -> String {
        let mut out = b64::encode(header_json.as_bytes());
        out.push_str(".e30");
        let sig = key.sign(out.as_bytes());
        out.push('.');
        out.push_str(&b64::encode(&sig.to_bytes()));
        out
    }

    #[test]
    fn accepts_the_ed25519_alias() {
        let key = rfc_key();
        let t = with_header(r#"{"alg":"Ed25519"}"#, &key);
        let jws = Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap();
        assert_eq!(jws.verify(&key.verifying_key()).unwrap(), b"{}");
    }

    #[test]
    fn rejects_alg_none_in_any_case() {
        for alg in ["none", "None", "NONE"] {
            let t = format!(
                "{}.e30.",
                b64::encode(format!(r#"{{"alg":"{alg}"}}"#).as_bytes())
            );
            assert_eq!(
                Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap_err(),
                JwsError::AlgNone
            );
        }
    }

    #[test]
    fn rejects_every_other_alg() {
        let key = rfc_key();
        for alg in ["HS256", "RS256", "ES256", "eddsa", "ED25519", ""] {
            let t = with_header(&format!(r#"{{"alg":"{alg}"}}"#), &key);
            assert_eq!(
                Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap_err(),
                JwsError::UnsupportedAlg(alg.into()),
                "{alg}"
            );
        }
    }

    #[test]
    fn rejects_missing_alg_and_non_object_headers() {
        let key = rfc_key();
        for h in [r#"{"typ":"JWT"}"#, "[]", "null", r#"{"alg":5}"#, "{"] {
            let t = with_header(h, &key);
            assert!(
                matches!(
                    Unverified::parse(&t, DEFAULT_MAX_LEN),
                    Err(JwsError::Header(_))
                ),
                "{h}"
            );
        }
    }

    #[test]
    fn rejects_crit_in_any_form() {
        let key = rfc_key();
        for h in [
            r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#,
            r#"{"alg":"EdDSA","crit":[]}"#,
            r#"{"alg":"EdDSA","crit":null}"#,
        ] {
            let t = with_header(h, &key);
            assert_eq!(
                Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap_err(),
                JwsError::Critical,
                "{h}"
            );
        }
    }

    #[test]
    fn rejects_duplicate_header_members() {
        let key = rfc_key();
        let t = with_header(r#"{"alg":"EdDSA","alg":"none"}"#, &key);
        assert!(matches!(
            Unverified::parse(&t, DEFAULT_MAX_LEN),
            Err(JwsError::Header(_))
        ));
    }

    #[test]
    fn sign_always_writes_eddsa() {
        let mut h = Header::bare();
        h.alg = "none".into();
        let t = sign(&h, b"x", &rfc_key()).unwrap();
        assert_eq!(
            Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap().header.alg,
            "EdDSA"
        );
    }

    #[test]
    fn accepts_exactly_max_len() {
        let t = sign(&Header::bare(), b"payload", &rfc_key()).unwrap();
        assert!(Unverified::parse(&t, t.len()).is_ok());
        assert!(matches!(
            Unverified::parse(&t, t.len() - 1),
            Err(JwsError::TooLarge { .. })
        ));
    }

    #[test]
    fn rejects_non_canonical_signature_encoding() {
        let (input, sig) = A4_TOKEN.rsplit_once('.').unwrap();
        // The last of 86 characters carries 2 unused bits: 'g' (32) -> 'h' (33).
        assert!(sig.ends_with('g'));
        let t = format!("{input}.{}h", &sig[..sig.len() - 1]);
        assert_eq!(
            Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap_err(),
            JwsError::Base64(Segment::Signature)
        );
    }

    #[test]
    fn rejects_wrong_segment_count() {
        for (t, n) in [("", 1), ("a.b", 2), ("a.b.c.d", 4), ("a.b.c.d.e", 5)] {
            assert_eq!(
                Unverified::parse(t, DEFAULT_MAX_LEN).unwrap_err(),
                JwsError::SegmentCount(n)
            );
        }
    }

    #[test]
    fn rejects_bad_base64_in_each_segment() {
        let parts: Vec<&str> = A4_TOKEN.split('.').collect();
        let cases = [
            (
                format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
                Segment::Header,
            ),
            (
                format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
                Segment::Payload,
            ),
            (
                format!("{}.{}.{}/", parts[0], parts[1], parts[2]),
                Segment::Signature,
            ),
        ];
        for (t, seg) in cases {
            assert_eq!(
                Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap_err(),
                JwsError::Base64(seg)
            );
        }
    }

    #[test]
    fn rejects_truncated_signature() {
        let (input, sig) = A4_TOKEN.rsplit_once('.').unwrap();
        let short = &b64::decode(sig).unwrap()[..61];
        let t = format!("{input}.{}", b64::encode(short));
        assert_eq!(
            Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap_err(),
            JwsError::SignatureLength(61)
        );
    }

    #[test]
    fn rejects_oversized_tokens_before_decoding() {
        let big = "a".repeat(DEFAULT_MAX_LEN + 1);
        assert_eq!(
            Unverified::parse(&big, DEFAULT_MAX_LEN).unwrap_err(),
            JwsError::TooLarge {
                len: DEFAULT_MAX_LEN + 1,
                max: DEFAULT_MAX_LEN
            }
        );
    }

    #[test]
    fn rejects_a_signature_by_another_key() {
        let t = sign(&Header::bare(), b"hello", &other_key()).unwrap();
        let jws = Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap();
        assert_eq!(
            jws.verify(&rfc_key().verifying_key()).unwrap_err(),
            JwsError::BadSignature
        );
    }

    #[test]
    fn rejects_a_tampered_payload() {
        let parts: Vec<&str> = A4_TOKEN.split('.').collect();
        let t = format!(
            "{}.{}.{}",
            parts[0],
            b64::encode(b"Example of Ed25519 signinG"),
            parts[2]
        );
        let jws = Unverified::parse(&t, DEFAULT_MAX_LEN).unwrap();
        assert_eq!(
            jws.verify(&rfc_key().verifying_key()).unwrap_err(),
            JwsError::BadSignature
        );
    }
}
