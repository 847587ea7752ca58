//! The device channel: each event it brings verified and acted on (new
//! requests into the inbox, revocation, device news), catching up with it
//! ([`Authenticator::sync`]) and staying on it with reconnects
//! ([`Authenticator::watch`]).

use std::time::Duration;

use authentiq_protocol::payloads::DeviceEvent;
use futures_util::StreamExt;

use super::requests::inbox_entry;
use super::{AppError, Authenticator, Incoming, Revocation, now};
use crate::client::ClientError;
use crate::events::ServerKeys;
use crate::sse::SseParser;

impl Authenticator {
    /// Handles one event from the channel; `None` for duplicates.
    pub(super) fn accept(
        &self,
        keys: &ServerKeys,
        id: i64,
        token: &str,
    ) -> Result<Option<Incoming>, AppError> {
        let local = self.local()?;
        let last: i64 = local
            .get_meta("last_event_id")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if id <= last {
            return Ok(None);
        }
        let claims = keys
            .verify(token, Some(&self.profile.pk), now())
            .map_err(|e| AppError::Untrusted(e.to_string()))?;
        local.set_meta("last_event_id", &id.to_string())?;
        let exp = claims.registered.exp.unwrap_or(0);
        // A device linked to (or recovering) an ID is not shown the
        // requests its other devices were sent before it joined.
        let since: i64 = local
            .get_meta("since")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if claims.registered.iat.unwrap_or(0) < since
            && matches!(
                claims.body,
                DeviceEvent::SignIn(_)
                    | DeviceEvent::LinkRequest(_)
                    | DeviceEvent::RecoveryStarted(_)
            )
        {
            return Ok(None);
        }
        Ok(match claims.body {
            DeviceEvent::SignIn(req) => {
                let mut r =
                    inbox_entry(&req, token, claims.registered.iat.unwrap_or_else(now), exp);
                local
                    .add_request(&mut r, now())?
                    .then(|| Incoming::Request(Box::new(r)))
            }
            DeviceEvent::ScopeJob(u) => Some(Incoming::ScopeJob {
                job: u.job,
                status: u.status,
            }),
            DeviceEvent::KeyRevoked {} => {
                local.set_meta("revoked", "1")?;
                Some(Incoming::Revoked(Revocation::KeyRevoked))
            }
            DeviceEvent::Withdrawn(w) => {
                // Answered on another device (or ended): off the inbox.
                for r in local.pending(now())? {
                    if r.session == w.request {
                        local.set_request_state(&r.id, "withdrawn")?;
                    }
                }
                Some(Incoming::Device {
                    event: "withdrawn".into(),
                    detail: serde_json::to_value(&w).unwrap_or_default(),
                    exp,
                })
            }
            DeviceEvent::DeviceRemoved(d) if self.identity()?.id().to_string() == d.device => {
                local.set_meta("revoked", "1")?;
                Some(Incoming::Revoked(Revocation::DeviceRemoved))
            }
            other => Some(Incoming::Device {
                event: other.name().into(),
                detail: serde_json::to_value(&other).unwrap_or_default(),
                exp,
            }),
        })
    }

    /// Reads the channel: until it has been quiet for `idle` (to catch up),
    /// or for as long as it stays open (`idle = None`).
    async fn read_channel(
        &self,
        keys: &ServerKeys,
        idle: Option<Duration>,
        on: &mut (dyn FnMut(Incoming) + Send),
        opened: &mut (dyn FnMut(bool) + Send),
    ) -> Result<(), AppError> {
        let last: i64 = self
            .local()?
            .get_meta("last_event_id")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let token = self.identity()?.channel_auth(now(), &self.profile.server)?;
        let res = self.client.channel(&token, last).await?;
        opened(true);
        let mut stream = res.bytes_stream();
        let mut parser = SseParser::default();
        loop {
            let next = match idle {
                Some(d) => match tokio::time::timeout(d, stream.next()).await {
                    Ok(n) => n,
                    Err(_) => return Ok(()),
                },
                None => stream.next().await,
            };
            let Some(chunk) = next else { return Ok(()) };
            let chunk = chunk.map_err(|e| {
                AppError::Server(ClientError::Network {
                    url: self.profile.server.clone(),
                    reason: e.without_url().to_string(),
                })
            })?;
            for ev in parser
                .push(&chunk)
                .map_err(|e| AppError::Untrusted(e.into()))?
            {
                let Some(id) = ev.id.as_deref().and_then(|i| i.parse::<i64>().ok()) else {
                    continue;
                };
                match self.accept(keys, id, &ev.data) {
                    Ok(Some(i)) => on(i),
                    Ok(None) => {}
                    Err(AppError::Untrusted(why)) => {
                        tracing::warn!(%why, "dropped an event that does not verify");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Catches up with the channel: every request made while away.
    pub async fn sync(&self) -> Result<Vec<Incoming>, AppError> {
        let keys = self.server_keys().await?;
        let mut got = Vec::new();
        self.read_channel(
            &keys,
            Some(Duration::from_millis(700)),
            &mut |i| got.push(i),
            &mut |_| {},
        )
        .await?;
        Ok(got)
    }

    /// Stays connected, reconnecting with backoff, handing each new event
    /// to `on`. Returns only when the key is revoked.
    pub async fn watch(&self, on: &mut (dyn FnMut(Incoming) + Send)) -> Result<(), AppError> {
        self.watch_connection(on, &mut |_| {}).await
    }

    /// [`watch`](Self::watch), also telling `connected` each time the
    /// channel opens (`true`) and each time it is lost (`false`).
    pub async fn watch_connection(
        &self,
        on: &mut (dyn FnMut(Incoming) + Send),
        connected: &mut (dyn FnMut(bool) + Send),
    ) -> Result<(), AppError> {
        let mut backoff = Duration::from_secs(1);
        loop {
            let mut revoked = false;
            let result = match self.server_keys().await {
                Ok(keys) => {
                    let mut wrapped = |i: Incoming| {
                        if matches!(i, Incoming::Revoked(_)) {
                            revoked = true;
                        }
                        on(i);
                    };
                    self.read_channel(&keys, None, &mut wrapped, connected)
                        .await
                }
                Err(e) => Err(e),
            };
            connected(false);
            if revoked {
                return Ok(());
            }
            match result {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(AppError::Server(ClientError::Refused { status: 410, .. })) => return Ok(()),
                // The keyring, not the network: reconnecting cannot help, the
                // caller decides when to try again (the key gone for good
                // included: revoked and forgotten here).
                Err(AppError::KeyStore(e)) => return Err(AppError::KeyStore(e)),
                Err(AppError::KeyMissing) => return Err(AppError::KeyMissing),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "device channel lost");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}
