//! The app's side, played with the protocol crate: a key and the tokens it signs.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use authentiq_protocol::AuthentiqId;
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{ChannelAuth, PushToken, Registration};
use ed25519_dalek::SigningKey;
use rand_core::OsRng;

/// The push tokens' `aud`: the relying party that may ask for pushes.
pub const PUSH_AUD: &str = "https://rp.example/";

/// The app's side: a key and the tokens it signs.
#[derive(Debug)]
pub struct Device {
    key: SigningKey,
    pub pk: String,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Device {
    pub fn new() -> anyhow::Result<Self> {
        let key = SigningKey::generate(&mut OsRng);
        let pk = AuthentiqId::from_verifying_key(key.verifying_key())
            .map_err(|e| anyhow!("a fresh key is not an Authentiq ID: {e}"))?
            .to_string();
        Ok(Self { key, pk })
    }

    fn sign<T: serde::Serialize>(&self, claims: Claims<T>) -> Result<String, String> {
        jwt::sign_self(claims, &self.key).map_err(|e| format!("cannot sign: {e}"))
    }

    /// Valid for 50 minutes (the server accepts up to an hour), so that
    /// even a very slow registration phase uses live tokens.
    pub fn registration(&self) -> Result<String, String> {
        self.sign(Claims::new(Registration::default()).valid_for(now(), 3000))
    }

    /// Single-use, for `<server>/channel`, 2 minutes (the server allows 5).
    pub fn channel_auth(&self, server_url: &str) -> Result<String, String> {
        self.sign(
            Claims::new(ChannelAuth {})
                .audience(format!("{server_url}/channel"))
                .valid_for(now(), 120),
        )
    }

    pub fn push_token(&self) -> Result<String, String> {
        self.sign(
            Claims::new(PushToken {})
                .audience(PUSH_AUD)
                .valid_for(now(), 3600),
        )
    }
}
