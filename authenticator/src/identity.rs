//! A user's Authentiq ID: the Ed25519 signing key and the self-signed
//! tokens made with it. The seed lives in the OS keyring; here it is only
//! ever in memory (zeroized on drop) and never printed.

use std::fmt;

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    Binding, ChannelAuth, ClaimRequest, ClaimScope, KeyUpdate, PushToken, Registration,
    SignInResponse, SignOut,
};
use authentiq_protocol::{AuthentiqId, JwsError};
use ed25519_dalek::SigningKey;
use rand_core::OsRng;

/// Lifetime of one-shot action tokens (registration, claims, binding, sign-out).
const ACTION_TTL: i64 = 300;
/// Lifetime of a channel-auth token: it only opens the stream.
const CHANNEL_TTL: i64 = 60;
/// Lifetime of a push token for "remember this browser".
pub const PUSH_TOKEN_TTL: i64 = 90 * 24 * 3600;

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

    /// The seed, for the key store only.
    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn id(&self) -> AuthentiqId {
        self.id
    }

    fn sign<T: serde::Serialize>(&self, claims: Claims<T>) -> Result<String, IdentityError> {
        Ok(jwt::sign_self(claims, &self.key)?)
    }

    /// `POST /key`: `{sub, devtoken}`.
    pub fn registration_token(
        &self,
        now: i64,
        devtoken: Option<String>,
    ) -> Result<String, IdentityError> {
        self.sign(Claims::new(Registration { devtoken }).valid_for(now, ACTION_TTL))
    }

    /// `POST /scope`: verify an email or phone number.
    pub fn claim_request(
        &self,
        now: i64,
        scope: ClaimScope,
        value: &str,
    ) -> Result<String, IdentityError> {
        let (email, phone_number) = match scope {
            ClaimScope::Email => (Some(value.to_string()), None),
            ClaimScope::Phone => (None, Some(value.to_string())),
        };
        self.sign(
            Claims::new(ClaimRequest {
                scope,
                email,
                phone_number,
                kind: None,
            })
            .valid_for(now, ACTION_TTL),
        )
    }

    /// `PUT /key/{PK}`: bind verified email and/or phone.
    pub fn binding(
        &self,
        now: i64,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<String, IdentityError> {
        self.sign(
            Claims::new(Binding {
                email: email.map(str::to_string),
                phone: phone.map(str::to_string),
            })
            .valid_for(now, ACTION_TTL),
        )
    }

    /// `POST /key/{PK}`: present issuer grants.
    pub fn key_update(&self, now: i64, grants: Vec<String>) -> Result<String, IdentityError> {
        self.sign(Claims::new(KeyUpdate { grants }).valid_for(now, ACTION_TTL))
    }

    /// `POST /key/{PK}/signout`: sign this ID out everywhere (one-shot: the
    /// server spends its random `jti`).
    pub fn sign_out(&self, now: i64) -> Result<String, IdentityError> {
        self.sign(Claims::new(SignOut {}).valid_for(now, ACTION_TTL))
    }

    /// Opens the device channel of `server` (its public URL).
    pub fn channel_auth(&self, now: i64, server: &str) -> Result<String, IdentityError> {
        self.sign(
            Claims::new(ChannelAuth {})
                .audience(format!("{}/channel", server.trim_end_matches('/')))
                .valid_for(now, CHANNEL_TTL),
        )
    }

    /// A push token for `aud` (e.g. the provider's `<server>/sign-in`).
    pub fn push_token(&self, now: i64, aud: &str) -> Result<String, IdentityError> {
        self.sign(
            Claims::new(PushToken {})
                .audience(aud)
                .valid_for(now, PUSH_TOKEN_TTL),
        )
    }

    /// A one-shot action token addressed to `aud` (the URL it is posted
    /// to): linking, device management and recovery.
    pub fn action<T: serde::Serialize>(
        &self,
        now: i64,
        aud: &str,
        body: T,
    ) -> Result<String, IdentityError> {
        self.sign(Claims::new(body).audience(aud).valid_for(now, ACTION_TTL))
    }

    /// The answer to a sign-in request, addressed to its session URI.
    pub fn sign_in_response(
        &self,
        now: i64,
        session: &str,
        body: SignInResponse,
    ) -> Result<String, IdentityError> {
        self.sign(
            Claims::new(body)
                .audience(session)
                .valid_for(now, ACTION_TTL),
        )
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
        assert_eq!(claims.registered.exp, Some(1_800_000_000 + ACTION_TTL));
    }

    #[test]
    fn two_identities_differ_and_seed_restores_the_same_id() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        assert_ne!(a.id(), b.id());
        let again = Identity::from_seed(&a.seed()).unwrap();
        assert_eq!(again.id(), a.id());
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let me = Identity::generate().unwrap();
        let shown = format!("{me:?}");
        assert!(shown.contains(&me.id().to_string()));
        let seed_hex: String = me.seed().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&seed_hex));
    }

    #[test]
    fn sign_out_is_a_one_shot_action_token_of_the_id() {
        let me = Identity::generate().unwrap();
        let a = me.sign_out(1_800_000_000).unwrap();
        let b = me.sign_out(1_800_000_000).unwrap();
        // Validation::at requires a jti, as the server does for action tokens.
        let v = Validation::at(1_800_000_010);
        let (id, ca) = jwt::verify_self_signed::<SignOut>(&a, &v).unwrap();
        let (_, cb) = jwt::verify_self_signed::<SignOut>(&b, &v).unwrap();
        assert_eq!(id, me.id());
        assert_eq!(
            ca.registered.sub.as_deref(),
            Some(me.id().to_string().as_str())
        );
        assert_eq!(ca.registered.exp, Some(1_800_000_000 + ACTION_TTL));
        assert_ne!(
            ca.registered.jti, cb.registered.jti,
            "a fresh jti each time"
        );
        assert_eq!(ca.body, SignOut {});
    }

    #[test]
    fn channel_auth_is_short_lived_and_addressed_to_the_channel() {
        let me = Identity::generate().unwrap();
        let t = me
            .channel_auth(1_800_000_000, "https://id.example/")
            .unwrap();
        let v = Validation::at(1_800_000_000).audience("https://id.example/channel");
        let (_, c) = jwt::verify_self_signed::<ChannelAuth>(&t, &v).unwrap();
        assert_eq!(c.registered.exp, Some(1_800_000_000 + CHANNEL_TTL));
    }
}
