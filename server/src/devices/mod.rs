//! Several devices per Authentiq ID. An identity keeps the ID of its first
//! key; each of its device keys signs for it ([`AppState::verify_signed`]
//! says which identity a token speaks for, and refuses removed devices at
//! once). Here: devices listed, renamed and removed ([`manage`]), linked
//! with an existing device's number-matched approval ([`link`]), and
//! recovery when every device is lost ([`recovery`]).

pub mod link;
pub mod manage;
pub mod recovery;

use authentiq_protocol::AuthentiqId;
use authentiq_protocol::devices::Withdrawn;
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::DeviceEvent;
use axum::Router;
use serde::de::DeserializeOwned;

use crate::state::{Jti, jti_error};
use crate::store::StoreError;
use crate::store::devices::{DeviceRecord, TOUCH_INTERVAL};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(manage::router())
        .merge(link::router())
        .merge(recovery::router())
}

/// A verified token of a device, and the identity it speaks for.
#[derive(Debug)]
pub struct Signed<T> {
    /// The identity (its ID).
    pub id: AuthentiqId,
    /// The device key that signed.
    pub device: AuthentiqId,
    pub claims: Claims<T>,
}

impl AppState {
    /// Verifies a token signed by a device of an identity: the signature
    /// (the device key in `kid`), then that the device is known (404) and
    /// not removed (410), and that `sub` names the device itself or its
    /// identity (401). Records the device's use. No `jti` is spent (see
    /// [`AppState::verify_signed_action`]).
    pub async fn verify_signed<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &authentiq_protocol::Validation,
    ) -> Result<Signed<T>, ApiError> {
        let (device, sub, claims) = jwt::verify_device_signed::<T>(token, validation)?;
        let id = self.identity_of(&device, &sub).await?;
        Ok(Signed { id, device, claims })
    }

    /// [`AppState::verify_signed`] for single-use action tokens: the
    /// `jti` is spent, so the same token is refused the second time.
    pub async fn verify_signed_action<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &authentiq_protocol::Validation,
    ) -> Result<Signed<T>, ApiError> {
        let signed = self.verify_signed::<T>(token, validation).await?;
        let Jti { key, until } = self.jti_of(&signed.device, &signed.claims.registered);
        match self.db.call(move |s| s.use_jti(&key, until)).await {
            Ok(()) => Ok(signed),
            Err(e) => Err(jti_error(e)),
        }
    }

    /// The `jti` of a device's token as stored once spent, and until when.
    pub fn jti_of(&self, device: &AuthentiqId, r: &jwt::Registered) -> Jti {
        // Remembered until the token could no longer pass anyway.
        let until = r
            .exp
            .unwrap_or_else(|| self.now() + self.config.limits.jwt_max_lifetime_secs)
            .saturating_add(self.config.limits.jwt_leeway_secs);
        let key = format!("{device}:{}", r.jti.as_deref().unwrap_or_default());
        Jti { key, until }
    }

    /// The identity `device` signs for, checked against the `sub` it named.
    async fn identity_of(
        &self,
        device: &AuthentiqId,
        sub: &AuthentiqId,
    ) -> Result<AuthentiqId, ApiError> {
        let d = self.device(&device.to_string()).await?;
        if d.is_removed() {
            return Err(ApiError::revoked_key(
                "this key was removed from its Authentiq ID, or the ID was revoked",
            ));
        }
        if sub != device && sub.to_string() != d.id_pk {
            return Err(ApiError::auth_error(
                "this key does not sign for the Authentiq ID in sub",
            ));
        }
        let now = self.now();
        if d.last_used_at.is_none_or(|t| t <= now - TOUCH_INTERVAL) {
            let pk = d.pk.clone();
            self.db.call(move |s| s.touch_device(&pk, now)).await?;
        }
        d.id_pk.parse().map_err(|_| {
            tracing::error!(device = %d.pk, "a device's identity is not an ID");
            ApiError::internal("corrupt device")
        })
    }

    /// A device, removed or not (404 if unknown).
    pub async fn device(&self, pk: &str) -> Result<DeviceRecord, ApiError> {
        let owned = pk.to_string();
        match self.db.read(move |s| s.get_device(&owned)).await {
            Ok(d) => Ok(d),
            Err(StoreError::NotFound) => Err(ApiError::unknown_key("no such Authentiq ID")),
            Err(e) => Err(e.into()),
        }
    }

    /// [`AppState::withdraw`] for a sign-in request, when the identity has
    /// other devices than the one that answered (a single-device ID sees
    /// the channel it always did).
    pub async fn withdraw_sign_in(
        &self,
        id_pk: &str,
        request: &str,
        outcome: &str,
    ) -> Result<(), ApiError> {
        let owned = id_pk.to_string();
        let devices = self.db.read(move |s| s.list_devices(&owned)).await?;
        if devices.len() > 1 {
            self.withdraw(id_pk, request, outcome).await?;
        }
        Ok(())
    }

    /// Tells the identity's devices that the request at `request` ended
    /// (answered on one of them, cancelled, …): they close its notice.
    pub async fn withdraw(
        &self,
        id_pk: &str,
        request: &str,
        outcome: &str,
    ) -> Result<(), ApiError> {
        let event = DeviceEvent::Withdrawn(Withdrawn {
            request: request.to_string(),
            outcome: outcome.to_string(),
        });
        self.emit(id_pk, event, crate::state::EVENT_TTL)
            .await
            .map(|_| ())
    }
}

/// Verifies a token self-signed by the new device's key for `aud`, and
/// spends its `jti`.
pub(crate) async fn new_device_token<T: DeserializeOwned>(
    state: &AppState,
    token: &str,
    aud: String,
) -> Result<(AuthentiqId, T), ApiError> {
    let v = state.action_validation().audience(aud);
    let (device, claims, jti) = state.verify_unspent::<T>(token, &v)?;
    let (key, until) = (jti.key, jti.until);
    state
        .db
        .call(move |s| s.use_jti(&key, until))
        .await
        .map_err(jti_error)?;
    Ok((device, claims.body))
}

/// A key that is neither a device nor an ID yet (409 otherwise): what a
/// new device must bring.
pub(crate) async fn fresh_key(state: &AppState, pk: &str) -> Result<(), ApiError> {
    if state.device(pk).await.is_ok() || state.key(pk).await.is_ok() {
        return Err(ApiError::duplicate_key(
            "this key is registered already; a new device needs a new key",
        ));
    }
    Ok(())
}

/// A device name as given: trimmed, 1 to 64 characters, no control
/// characters.
pub(crate) fn device_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a device name has 1 to 64 characters and no control characters",
        ));
    }
    Ok(name.to_string())
}

/// `[devices]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// How long a recovery waits, once the secret and the codes were given,
    /// before it completes; the ID's devices may cancel it meanwhile.
    pub recovery_delay_secs: i64,
    /// How long a link request waits for an existing device's answer.
    pub link_ttl_secs: i64,
    /// Link requests and recovery attempts per ID within
    /// `attempt_window_secs`.
    pub attempts_per_id: u32,
    pub attempt_window_secs: u64,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self {
            recovery_delay_secs: 24 * 3600,
            link_ttl_secs: 10 * 60,
            attempts_per_id: 5,
            attempt_window_secs: 3600,
        }
    }
}
