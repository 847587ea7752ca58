//! The authenticator as one object: a profile (one identity on one
//! server), its key in the OS keyring, its local state, and the server.
//!
//! This module holds the object itself, its errors and the profile's life
//! (create, open, revoke, forget); what it does is in one file an area:
//! `claims.rs` verifies email and phone and keeps their grants,
//! `channel.rs` reads the device channel (sync and watch), `requests.rs`
//! answers sign-in requests (inbox, approve, deny, history). Devices and
//! recovery are in [`crate::devices`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{ClientError, ServerClient};
use crate::events::ServerKeys;
use crate::identity::{Identity, IdentityError};
use crate::keystore::{KeyStore, KeyStoreError};
use crate::local::{Local, LocalError, Request};

mod channel;
mod claims;
mod requests;
#[cfg(test)]
mod tests;

pub use requests::session_of_link;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    KeyStore(#[from] KeyStoreError),
    #[error("{0}")]
    Server(#[from] ClientError),
    #[error("{0}")]
    Local(#[from] LocalError),
    #[error("{0}")]
    Identity(#[from] IdentityError),
    #[error("no identity here yet: run `aq init --server URL` first")]
    NoProfile,
    #[error("this profile already has an identity ({0}); use another --profile")]
    ProfileExists(String),
    #[error(
        "the key of this profile is not in the keyring (was it deleted, or is this another user or machine?)"
    )]
    KeyMissing,
    #[error("no pending sign-in request {0} (see `aq inbox`)")]
    UnknownRequest(String),
    #[error("sign-in request {0} has expired")]
    Expired(String),
    #[error("{0} is not one of the numbers of this request ({1})")]
    NotACandidate(u16, String),
    /// A request matched by number, approved without one.
    #[error("request {0} needs the number shown on the sign-in page: pick one of {1} (--number)")]
    NumberRequired(String, String),
    /// A backchannel request (no page, no number), approved with a number.
    #[error(
        "request {0} has no number to match: {1}'s backend started it, with no sign-in page; \
         check its message and approve it without a number"
    )]
    NoNumberToMatch(String, String),
    #[error("the server sent something that does not verify: {0}")]
    Untrusted(String),
    #[error("{0}")]
    Io(String),
}

/// What `profile.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub server: String,
    pub pk: String,
    pub created_at: i64,
}

/// Where profiles live: `$AQ_HOME`, else `$XDG_DATA_HOME/authentiq`, else
/// `~/.local/share/authentiq`.
pub fn default_home() -> PathBuf {
    if let Some(h) = std::env::var_os("AQ_HOME") {
        return h.into();
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("authentiq");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/authentiq"))
        .unwrap_or_else(|| PathBuf::from(".authentiq"))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What an event on the channel meant.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A new sign-in request, now in the inbox.
    Request(Box<Request>),
    /// A claim-verification job changed state.
    ScopeJob { job: String, status: String },
    /// The key stopped working: the ID was revoked, or this device was
    /// removed from it (by another device, or replaced by a recovery).
    Revoked(Revocation),
    /// About the ID's devices: `link-request`, `device-removed`,
    /// `recovery-started`, `withdrawn`; `detail` is the event's body, `exp`
    /// the event token's expiry (a link request's end), Unix seconds.
    Device {
        event: String,
        detail: Value,
        exp: i64,
    },
}

/// Why the key stopped working, from the channel's last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// `key-revoked`: the whole ID was revoked.
    KeyRevoked,
    /// `device-removed` naming this device: removed from the ID by another
    /// device, or replaced by a recovery; the ID goes on.
    DeviceRemoved,
}

pub struct Authenticator {
    profile: Profile,
    dir: PathBuf,
    keystore: Arc<dyn KeyStore>,
    local: Mutex<Local>,
    client: ServerClient,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

fn io(e: std::io::Error) -> AppError {
    AppError::Io(e.to_string())
}

fn account(profile: &str, server: &str) -> String {
    format!("{profile}@{}", server.trim_end_matches('/'))
}

impl Authenticator {
    fn profile_dir(home: &Path, name: &str) -> PathBuf {
        home.join(name)
    }

    /// Creates an identity: key in the keyring, registered with the server.
    /// Returns the revocation secret, which is shown once and not kept.
    pub async fn init(
        home: &Path,
        name: &str,
        server: &str,
        keystore: Arc<dyn KeyStore>,
    ) -> Result<(Self, String), AppError> {
        let (client, identity, acct) = Self::new_key(home, name, server, keystore.as_ref())?;
        let secret = match client
            .register(identity.registration_token(now(), None)?)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                let _ = keystore.delete(&acct);
                return Err(e.into());
            }
        };
        let pk = identity.id().to_string();
        let app = Self::create(home, name, &client, &pk, keystore)?;
        Ok((app, secret))
    }

    /// A new key for a profile that has none, kept in the keyring (the
    /// keyring first: if it cannot keep the key, nothing is sent): the
    /// server's client, the key and its keyring account.
    pub(crate) fn new_key(
        home: &Path,
        name: &str,
        server: &str,
        keystore: &dyn KeyStore,
    ) -> Result<(ServerClient, Identity, String), AppError> {
        let file = Self::profile_dir(home, name).join("profile.json");
        if let Ok(bytes) = std::fs::read(&file) {
            let p: Profile =
                serde_json::from_slice(&bytes).map_err(|e| AppError::Io(e.to_string()))?;
            return Err(AppError::ProfileExists(p.pk));
        }
        let client = ServerClient::new(server)?;
        let identity = Identity::generate()?;
        let acct = account(name, client.base());
        keystore.store(&acct, &identity.seed())?;
        Ok((client, identity, acct))
    }

    /// Writes the profile of the identity `pk` (the key's own ID, or the
    /// identity a linked or recovering key signs for) and opens it.
    pub(crate) fn create(
        home: &Path,
        name: &str,
        client: &ServerClient,
        pk: &str,
        keystore: Arc<dyn KeyStore>,
    ) -> Result<Self, AppError> {
        let dir = Self::profile_dir(home, name);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let profile = Profile {
            name: name.into(),
            server: client.base().into(),
            pk: pk.into(),
            created_at: now(),
        };
        let json = serde_json::to_vec_pretty(&profile).map_err(|e| AppError::Io(e.to_string()))?;
        std::fs::write(dir.join("profile.json"), json).map_err(io)?;
        let app = Self::open(home, name, keystore)?;
        app.local()?.set_meta("since", &now().to_string())?;
        Ok(app)
    }

    /// Drops a key [`Authenticator::new_key`] made, when it came to nothing.
    pub(crate) fn drop_key(keystore: &dyn KeyStore, acct: &str) {
        let _ = keystore.delete(acct);
    }

    /// Opens an existing profile.
    pub fn open(home: &Path, name: &str, keystore: Arc<dyn KeyStore>) -> Result<Self, AppError> {
        let dir = Self::profile_dir(home, name);
        let bytes = std::fs::read(dir.join("profile.json")).map_err(|_| AppError::NoProfile)?;
        let profile: Profile =
            serde_json::from_slice(&bytes).map_err(|e| AppError::Io(e.to_string()))?;
        let local = Local::open(&dir.join("authenticator.sqlite3"))?;
        let client = ServerClient::new(&profile.server)?;
        Ok(Self {
            profile,
            dir,
            keystore,
            local: Mutex::new(local),
            client,
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn client(&self) -> &ServerClient {
        &self.client
    }

    fn local(&self) -> Result<MutexGuard<'_, Local>, AppError> {
        self.local
            .lock()
            .map_err(|_| AppError::Io("local state lock poisoned".into()))
    }

    /// The key, from the keyring.
    pub fn identity(&self) -> Result<Identity, AppError> {
        let seed = self
            .keystore
            .load(&account(&self.profile.name, &self.profile.server))?
            .ok_or(AppError::KeyMissing)?;
        Ok(Identity::from_seed(&seed)?)
    }

    /// The Authentiq ID as a QR code for a terminal.
    pub fn id_qr(&self) -> String {
        qrcode::QrCode::new(self.profile.pk.as_bytes())
            .map(|q| {
                q.render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build()
            })
            .unwrap_or_default()
    }

    pub async fn server_keys(&self) -> Result<ServerKeys, AppError> {
        let keys = ServerKeys::from_jwks(&self.client.jwks().await?);
        if keys.is_empty() {
            return Err(AppError::Untrusted(
                "the server publishes no issuer key".into(),
            ));
        }
        Ok(keys)
    }

    /// Revokes the key with its secret, then forgets it.
    pub async fn revoke(&self, secret: &str) -> Result<(), AppError> {
        if secret.is_empty() || secret.chars().any(char::is_control) {
            // It could not even be sent (it goes in a header).
            return Err(AppError::Io(
                "that is not a revocation secret (empty, or with control characters)".into(),
            ));
        }
        self.client.revoke(&self.profile.pk, secret).await?;
        self.forget()
    }

    /// Signs this ID out everywhere: the server ends every SSO session and
    /// every refresh-token family of the key (offline ones too), and tells
    /// the clients that registered a back-channel logout URI. Returns how
    /// many clients were told. The key stays: signing in again works.
    pub async fn sign_out_everywhere(&self) -> Result<u64, AppError> {
        let token = self.identity()?.sign_out(now())?;
        Ok(self
            .client
            .sign_out_everywhere(&self.profile.pk, token)
            .await?)
    }

    /// Removes the key from the keyring and the profile from disk.
    pub fn forget(&self) -> Result<(), AppError> {
        self.keystore
            .delete(&account(&self.profile.name, &self.profile.server))?;
        // A later identity in this profile must not inherit this one's grants.
        self.local()?.reset_identity()?;
        std::fs::remove_file(self.dir.join("profile.json")).map_err(io)?;
        Ok(())
    }

    /// Whether the server still knows the key (and it is not revoked).
    pub async fn status(&self) -> Result<Value, AppError> {
        Ok(self.client.key(&self.profile.pk).await?)
    }
}
