//! The Authentiq ID: an Ed25519 public key, written as 43 characters of
//! unpadded base64url (the `PK` of the API).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::b64::{self, B64Error};

/// Length of an encoded ID: 32 bytes as unpadded base64url.
pub const ENCODED_LEN: usize = 43;

/// Why a string is not an Authentiq ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an Authentiq ID is {ENCODED_LEN} characters of base64url, got {0}")]
    WrongLength(usize),
    #[error("an Authentiq ID is unpadded base64url: remove the '=' padding")]
    Padding,
    #[error("an Authentiq ID uses the base64url alphabet (A-Z a-z 0-9 - _) only")]
    Alphabet,
    #[error("non-canonical base64url: the last character's unused bits must be zero")]
    NonCanonicalBase64,
    #[error("the 32 bytes are not a valid Ed25519 point")]
    NotAPoint,
    #[error("the 32 bytes are a non-canonical encoding of an Ed25519 point")]
    NonCanonicalPoint,
    #[error("the key is a small-order (weak) Ed25519 point")]
    WeakKey,
}

/// An Ed25519 public key that has passed every check: canonical base64url,
/// a canonical encoding of a valid curve point, and not of small order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthentiqId(VerifyingKey);

impl AuthentiqId {
    /// Checks raw key bytes as strictly as [`AuthentiqId::from_str`] does.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, IdError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| IdError::NotAPoint)?;
        // Decompression reduces y modulo p and accepts a set sign bit for
        // x = 0; re-compressing exposes both, so one key has one spelling.
        if key.to_edwards().compress().to_bytes() != *bytes {
            return Err(IdError::NonCanonicalPoint);
        }
        if key.is_weak() {
            return Err(IdError::WeakKey);
        }
        Ok(Self(key))
    }

    pub fn from_verifying_key(key: VerifyingKey) -> Result<Self, IdError> {
        Self::from_bytes(key.as_bytes())
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl FromStr for AuthentiqId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        // Alphabet and padding first: they explain a wrong length better
        // than the length itself does.
        let bytes = match b64::decode(s) {
            Err(B64Error::Padding) => return Err(IdError::Padding),
            Err(B64Error::Alphabet) => return Err(IdError::Alphabet),
            _ if s.len() != ENCODED_LEN => return Err(IdError::WrongLength(s.len())),
            Err(B64Error::NonCanonical | B64Error::Length) => {
                return Err(IdError::NonCanonicalBase64);
            }
            Ok(bytes) => bytes,
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| IdError::WrongLength(v.len()))?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for AuthentiqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64::encode(self.as_bytes()))
    }
}

impl fmt::Debug for AuthentiqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthentiqId({self})")
    }
}

impl Serialize for AuthentiqId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuthentiqId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    // RFC 8037 Appendix A.2: the public key of the example.
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn parses_and_formats_the_rfc8037_key() {
        let id: AuthentiqId = RFC8037_X.parse().unwrap();
        assert_eq!(id.to_string(), RFC8037_X);
        assert_eq!(id.as_bytes()[0], 0xd7);
    }

    #[test]
    fn rejects_wrong_length() {
        assert_eq!(
            RFC8037_X[..42].parse::<AuthentiqId>(),
            Err(IdError::WrongLength(42))
        );
        assert_eq!(
            format!("{RFC8037_X}A").parse::<AuthentiqId>(),
            Err(IdError::WrongLength(44))
        );
        assert_eq!("".parse::<AuthentiqId>(), Err(IdError::WrongLength(0)));
    }

    #[test]
    fn rejects_padding() {
        let padded = format!("{RFC8037_X}=");
        assert_eq!(padded.parse::<AuthentiqId>(), Err(IdError::Padding));
    }

    #[test]
    fn rejects_standard_alphabet() {
        let std_alphabet = RFC8037_X.replace('_', "/");
        assert_eq!(std_alphabet.parse::<AuthentiqId>(), Err(IdError::Alphabet));
        let plus = RFC8037_X.replacen('1', "+", 1);
        assert_eq!(plus.parse::<AuthentiqId>(), Err(IdError::Alphabet));
    }

    #[test]
    fn rejects_non_canonical_base64() {
        // The last of 43 characters carries 4 bits of data and 2 unused bits;
        // 'o' (40) and 'p' (41) differ only in an unused bit.
        let mut s = RFC8037_X.to_string();
        s.pop();
        s.push('p');
        assert_eq!(s.parse::<AuthentiqId>(), Err(IdError::NonCanonicalBase64));
    }

    #[test]
    fn rejects_bytes_that_are_not_a_point() {
        // y = 2 has no x on the curve (x^2 would be a non-square).
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let s = crate::b64::encode(&bytes);
        assert_eq!(s.parse::<AuthentiqId>(), Err(IdError::NotAPoint));
    }

    #[test]
    fn rejects_non_canonical_point() {
        // y = p + 1 reduces to y = 1 (the identity) but is not how it is written.
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xee;
        bytes[31] = 0x7f;
        let s = crate::b64::encode(&bytes);
        assert_eq!(s.parse::<AuthentiqId>(), Err(IdError::NonCanonicalPoint));
    }

    #[test]
    fn rejects_small_order_key() {
        // The identity point (y = 1) has order 1.
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        let s = crate::b64::encode(&bytes);
        assert_eq!(s.parse::<AuthentiqId>(), Err(IdError::WeakKey));
    }

    #[test]
    fn serde_uses_the_string_form() {
        let id: AuthentiqId = RFC8037_X.parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{RFC8037_X}\""));
        assert_eq!(serde_json::from_str::<AuthentiqId>(&json).unwrap(), id);
        let err = serde_json::from_str::<AuthentiqId>("\"abc\"").unwrap_err();
        assert!(err.to_string().contains("43 characters"), "{err}");
    }

    proptest! {
        #[test]
        fn every_generated_key_round_trips(seed in any::<[u8; 32]>()) {
            let key = SigningKey::from_bytes(&seed).verifying_key();
            let id = AuthentiqId::from_verifying_key(key).unwrap();
            let text = id.to_string();
            prop_assert_eq!(text.len(), ENCODED_LEN);
            prop_assert_eq!(text.parse::<AuthentiqId>().unwrap(), id);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,60}") {
            let _ = s.parse::<AuthentiqId>();
        }
    }
}
