//! Several devices per Authentiq ID, from this device: linking a new one
//! (on the new device: [`Authenticator::link`]; on an existing one:
//! [`Authenticator::answer_link`]), listing, renaming and removing the
//! ID's devices, and recovering the ID on a new device when every device
//! is lost ([`Authenticator::recover`], then confirm and complete).
//!
//! A linked or recovered device keeps its own key in the keyring and the
//! identity's ID in its profile: the server resolves which identity its
//! key signs for, so every token stays the v6 self-signed kind.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use authentiq_protocol::devices::{
    DeviceChange, DeviceList, LinkAnswer, LinkStart, RecoveryAction, RecoveryConfirm, RecoveryStart,
};
use authentiq_protocol::payloads::Decision;
use reqwest::Method;
use serde_json::Value;

use crate::app::{AppError, Authenticator, now};
use crate::client::ClientError;
use crate::keystore::KeyStore;

/// How often a new device asks whether its link was answered.
const LINK_POLL: Duration = Duration::from_secs(1);

/// Where a new device stands, as [`Authenticator::link`] reports it.
#[derive(Debug, Clone)]
pub struct LinkStarted {
    /// The pairing's URL (the existing device answers there).
    pub pairing: String,
    /// The number to show; the approving device must pick it.
    pub number: u16,
}

fn str_of(v: &Value, key: &str) -> Result<String, AppError> {
    v[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ClientError::Protocol(format!("no {key} in the answer: {v}")).into())
}

impl Authenticator {
    fn server_url(&self, path: &str) -> String {
        format!("{}{path}", self.profile().server)
    }

    /// Signs `body` for `url` and sends it there by `method`.
    async fn act<T: serde::Serialize>(
        &self,
        method: Method,
        url: &str,
        body: T,
    ) -> Result<Value, AppError> {
        let token = self.identity()?.action(now(), url, body)?;
        Ok(self.client().jwt_call(method, url, token, None).await?)
    }

    /// On a new device: creates its key and asks the server to link it to
    /// the ID `id`; `shown` is told the number to show (and the pairing)
    /// while the ID's devices are asked. Waits for the answer: approved,
    /// the profile is this device's; refused or expired, the key is dropped.
    pub async fn link(
        home: &Path,
        name: &str,
        server: &str,
        id: &str,
        device_name: &str,
        keystore: Arc<dyn KeyStore>,
        shown: &mut (dyn FnMut(&LinkStarted) + Send),
    ) -> Result<Self, AppError> {
        let (client, key, acct) = Self::new_key(home, name, server, keystore.as_ref())?;
        let url = format!("{}/link", client.base());
        let body = LinkStart {
            id: id.into(),
            name: device_name.into(),
        };
        let asked = async {
            let token = key.action(now(), &url, body)?;
            let v = client.jwt_call(Method::POST, &url, token, None).await?;
            let number = v["number"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| ClientError::Protocol(format!("no number in {v}")))?;
            let started = LinkStarted {
                pairing: str_of(&v, "pairing")?,
                number,
            };
            shown(&started);
            loop {
                tokio::time::sleep(LINK_POLL).await;
                let status = client.get_json(&started.pairing).await?;
                match status["status"].as_str() {
                    Some("pending") => continue,
                    Some("approved") => return Ok(()),
                    _ => {
                        return Err(AppError::Io(
                            "the link was refused on the other device".into(),
                        ));
                    }
                }
            }
        };
        match asked.await {
            Ok(()) => Self::create(home, name, &client, id, keystore),
            Err(e) => {
                Self::drop_key(keystore.as_ref(), &acct);
                Err(e)
            }
        }
    }

    /// On an existing device: approves the link request at `pairing` with
    /// the number the new device shows, or denies it (`None`).
    pub async fn answer_link(&self, pairing: &str, number: Option<u16>) -> Result<Value, AppError> {
        let decision = match number {
            Some(_) => Decision::Approve,
            None => Decision::Deny,
        };
        self.act(Method::POST, pairing, LinkAnswer { decision, number })
            .await
    }

    /// The ID's devices (`devices`, `this_device`).
    pub async fn devices(&self) -> Result<Value, AppError> {
        let url = self.server_url(&format!("/key/{}/devices/list", self.profile().pk));
        self.act(Method::POST, &url, DeviceList {}).await
    }

    /// Renames a device of the ID.
    pub async fn rename_device(&self, device: &str, name: &str) -> Result<(), AppError> {
        let url = self.server_url(&format!("/key/{}/devices/{device}", self.profile().pk));
        let body = DeviceChange {
            name: Some(name.into()),
        };
        self.act(Method::PUT, &url, body).await.map(|_| ())
    }

    /// Removes a device of the ID (its key stops working at once).
    pub async fn remove_device(&self, device: &str) -> Result<(), AppError> {
        let url = self.server_url(&format!("/key/{}/devices/{device}", self.profile().pk));
        self.act(Method::DELETE, &url, DeviceChange::default())
            .await
            .map(|_| ())
    }

    /// On a new device, every device of the ID lost: creates its key and
    /// starts recovering the ID `id` with its recovery secret; the server
    /// sends codes to the verified email (and phone). The profile is
    /// written (the key does not work until the recovery completes); the
    /// answer holds the recovery's URL.
    #[allow(clippy::too_many_arguments)]
    pub async fn recover(
        home: &Path,
        name: &str,
        server: &str,
        id: &str,
        device_name: &str,
        email: &str,
        phone: Option<&str>,
        secret: &str,
        keystore: Arc<dyn KeyStore>,
    ) -> Result<(Self, Value), AppError> {
        let (client, key, acct) = Self::new_key(home, name, server, keystore.as_ref())?;
        let url = format!("{}/recovery", client.base());
        let body = RecoveryStart {
            id: id.into(),
            name: device_name.into(),
            email: email.into(),
            phone: phone.map(str::to_string),
        };
        let started = async {
            let token = key.action(now(), &url, body)?;
            Ok::<_, AppError>(
                client
                    .jwt_call(Method::POST, &url, token, Some(secret))
                    .await?,
            )
        };
        match started.await {
            Ok(v) => Ok((Self::create(home, name, &client, id, keystore)?, v)),
            Err(e) => {
                Self::drop_key(keystore.as_ref(), &acct);
                Err(e)
            }
        }
    }

    /// Gives the recovery's codes; it then waits out the delay.
    pub async fn recovery_confirm(
        &self,
        recovery: &str,
        email_code: &str,
        phone_code: Option<&str>,
    ) -> Result<Value, AppError> {
        let body = RecoveryConfirm {
            email_code: email_code.into(),
            phone_code: phone_code.map(str::to_string),
        };
        self.act(Method::POST, &format!("{recovery}/confirm"), body)
            .await
    }

    /// Completes the recovery after its delay: the answer holds the new
    /// recovery secret.
    pub async fn recovery_complete(&self, recovery: &str) -> Result<Value, AppError> {
        self.act(
            Method::POST,
            &format!("{recovery}/complete"),
            RecoveryAction {},
        )
        .await
    }

    /// From a device of the ID: cancels a recovery someone started.
    pub async fn recovery_cancel(&self, recovery: &str) -> Result<Value, AppError> {
        self.act(
            Method::POST,
            &format!("{recovery}/cancel"),
            RecoveryAction {},
        )
        .await
    }
}
