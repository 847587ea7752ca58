//! A user's Authentiq ID: the Ed25519 signing key and the self-signed
//! tokens made with it.

use std::fmt;

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::Registration;
use authentiq_protocol::{AuthentiqId, JwsError};
use ed25519_dalek::SigningKey;
use rand_core::OsRng;

/// How long a registration token stays valid, in seconds.
const REGISTRATION_TTL: i64 = 300;

/// An identity with its private key in memory. The key is zeroized on drop
/// and never printed; `Debug` shows the public ID only.
pub struct Identity {
    key: SigningKey,
    id: AuthentiqId,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the key is not usable as an Authentiq ID: {0}")]
    InvalidKey(#[from] authentiq_protocol::IdError),
    #[error("cannot sign: {0}")]
    Sign(#[from] JwsError),
}

impl Identity {
    /// A new identity from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, IdentityError> {
        Self::from_seed(&SigningKey::generate(&mut OsRng).to_bytes())
    }

    /// Rebuilds an identity from its 32-byte seed (as stored in the keyring).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = SigningKey::from_bytes(seed);
        let id = AuthentiqId::from_verifying_key(key.verifying_key())?;
        Ok(Self { key, id })
    }

    pub fn id(&self) -> AuthentiqId {
        self.id
    }

    /// The self-signed `{sub, devtoken}` JWT that `POST /key` registers.
    pub fn registration_token(
        &self,
        now: i64,
        devtoken: Option<String>,
    ) -> Result<String, IdentityError> {
        let claims = Claims::new(Registration { devtoken }).valid_for(now, REGISTRATION_TTL);
        Ok(jwt::sign_self(claims, &self.key)?)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authentiq_protocol::Validation;

    #[test]
    fn registration_token_verifies_as_self_signed_by_the_id() {
        let me = Identity::generate().unwrap();
        let t = me.registration_token(1_800_000_000, None).unwrap();
        let (id, claims) =
            jwt::verify_self_signed::<Registration>(&t, &Validation::at(1_800_000_010)).unwrap();
        assert_eq!(id, me.id());
        assert_eq!(claims.body.devtoken, None);
        assert_eq!(
            claims.registered.exp,
            Some(1_800_000_000 + REGISTRATION_TTL)
        );
    }

    #[test]
    fn two_identities_differ_and_seed_restores_the_same_id() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        assert_ne!(a.id(), b.id());
        let again = Identity::from_seed(&a.key.to_bytes()).unwrap();
        assert_eq!(again.id(), a.id());
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let me = Identity::generate().unwrap();
        let shown = format!("{me:?}");
        assert!(shown.contains(&me.id().to_string()));
        let seed_hex: String = me
            .key
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&seed_hex));
    }
}
