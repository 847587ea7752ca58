//! Checking what the server pushes: every event is a JWT signed by one of
//! the issuer's published Ed25519 keys, of type `aq-event+jwt`.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::DeviceEvent;
use authentiq_protocol::{AuthentiqId, Validation};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event is not signed by this server's issuer key: {0}")]
    Untrusted(String),
}

/// The issuer's Ed25519 keys by kid, from `/jwks`.
#[derive(Debug, Clone, Default)]
pub struct ServerKeys(Vec<(String, AuthentiqId)>);

impl ServerKeys {
    pub fn from_jwks(jwks: &Value) -> Self {
        let keys = jwks["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519")
                    .filter_map(|k| {
                        let kid = k["kid"].as_str()?.to_string();
                        let id: AuthentiqId = k["x"].as_str()?.parse().ok()?;
                        Some((kid, id))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Verifies an event token; `aud`, when given, must be this device's PK.
    pub fn verify(
        &self,
        token: &str,
        aud: Option<&str>,
        now: i64,
    ) -> Result<Claims<DeviceEvent>, EventError> {
        let kid = jwt::peek_kid(token, authentiq_protocol::jws::DEFAULT_MAX_LEN)
            .map_err(|e| EventError::Untrusted(e.to_string()))?
            .ok_or_else(|| EventError::Untrusted("no kid".into()))?;
        let (_, key) = self
            .0
            .iter()
            .find(|(k, _)| *k == kid)
            .ok_or_else(|| EventError::Untrusted(format!("unknown key {kid}")))?;
        let mut v = Validation::at(now).typ(DeviceEvent::TYP);
        if let Some(a) = aud {
            v = v.audience(a);
        }
        jwt::verify(token, key.verifying_key(), Some(&kid), &v)
            .map_err(|e| EventError::Untrusted(e.to_string()))
    }
}
