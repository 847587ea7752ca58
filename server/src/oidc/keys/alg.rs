//! The ID token signing algorithms and the errors of signing and
//! verifying.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

use super::HS256_MIN_SECRET;

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

    pub(super) fn jwt(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
            Self::HS256 => Algorithm::HS256,
        }
    }

    pub(super) fn from_jwt(alg: Algorithm) -> Option<Self> {
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
