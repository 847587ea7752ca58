//! What every handler shares, and the checks they all make on tokens.

use std::sync::Arc;

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::DeviceEvent;
use authentiq_protocol::{AuthentiqId, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::Delivery;
use crate::hub::{Hub, Topic};
use crate::keys::{LiveKeys, SigningKeys, Vault};
use crate::secrets::Hasher;
use crate::security::TrustedProxies;
use crate::security::streams::StreamLimiter;
use crate::store::{Db, KeyRecord, NewEvent, StoreError};

/// The SQLite database, in the data directory.
pub const DB_FILE: &str = "authentiq.sqlite3";

/// The lock file a running server holds in its data directory.
pub const LOCK_FILE: &str = "authentiq.lock";

/// Takes the data directory's lock, or says who holds it. (The lock goes
/// with the process, however it ends; the `client` and `keys` commands
/// don't take it and may run beside the server.)
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another authentiq-server is already running on the data directory {} \
             (it holds {}); stop it first, or give this one its own --data-dir",
            dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// How long device events stay available for replay.
pub const EVENT_TTL: i64 = 15 * 60;

#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// A verified token's `jti`, as stored once spent, and until when.
#[derive(Debug, Clone)]
pub struct Jti {
    pub key: String,
    pub until: i64,
}

/// A spent `jti` is a replay.
pub fn jti_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::auth_error("this token was already used; sign a new one")
        }
        e => e.into(),
    }
}

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub db: Db,
    /// The signing keys (issuer and ID token keys), reloaded when another
    /// instance rotates them: read them with [`AppState::keys`].
    pub live_keys: LiveKeys,
    pub hasher: Hasher,
    /// Seals secrets the server reads back (registered HS256 client secrets).
    pub sealer: crate::secrets::Sealer,
    pub delivery: Delivery,
    /// Signals "new events for this key", "this sign-in session changed".
    pub hub: Arc<Hub>,
    pub clock: Clock,
    pub proxies: TrustedProxies,
    pub streams: Arc<StreamLimiter>,
    /// What `/metrics` exports.
    pub metrics: crate::metrics::Metrics,
    /// Held while the server runs: one server per data directory.
    _lock: std::fs::File,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the data directory: database (migrated), keys, outbox.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        Self::open_with_clock(config, Clock::default())
    }

    pub fn open_with_clock(mut config: Config, clock: Clock) -> anyhow::Result<Self> {
        use anyhow::Context;
        if config.demo
            && !config
                .clients
                .iter()
                .any(|c| c.client_id == crate::demo::CLIENT_ID)
        {
            config.clients.push(crate::demo::client(config.base_url()));
        }
        // The dashboard's "Sign in with Authentiq" is a client of this server.
        if !config
            .clients
            .iter()
            .any(|c| c.client_id == crate::dashboard::authentiq::CLIENT_ID)
        {
            let dashboard = crate::dashboard::authentiq::client(config.base_url());
            config.clients.push(dashboard);
        }
        for c in &config.clients {
            c.validate()
                .map_err(|e| anyhow::anyhow!("invalid client configuration: {e}"))?;
        }
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let lock = lock_data_dir(&config.data_dir)?;
        let proxies = TrustedProxies::new(&config.trusted_proxies, config.client_ip_header)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let store = crate::store::open(&config)
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        let vault = Vault::open(&config, Arc::clone(&store))?;
        let now = clock.now();
        let live_keys = LiveKeys::load(vault.clone(), now)?;
        let hasher = Hasher::new(crate::keys::load_or_create_hash_key(&vault, now)?);
        let sealer =
            crate::secrets::Sealer::new(crate::keys::load_or_create_sealing_key(&vault, now)?);
        let delivery = Delivery::from_config(&config)?;
        Ok(Self(Arc::new(Inner {
            config,
            db: Db::new(store),
            live_keys,
            hasher,
            sealer,
            delivery,
            hub: Arc::default(),
            clock,
            proxies,
            streams: Arc::default(),
            metrics: crate::metrics::Metrics::new()?,
            _lock: lock,
        })))
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The signing keys in use now.
    pub fn keys(&self) -> Arc<SigningKeys> {
        self.live_keys.get()
    }

    /// The rules every JWT a client sends is held to.
    pub fn validation(&self) -> Validation {
        Validation::at(self.now())
            .leeway(self.config.limits.jwt_leeway_secs)
            .max_len(self.config.limits.jwt_bytes)
    }

    /// Rules for single-use action tokens: short-lived, with a `jti`.
    pub fn action_validation(&self) -> Validation {
        self.validation()
            .max_lifetime(self.config.limits.jwt_max_lifetime_secs)
    }

    /// Verifies an action token signed by a device of an identity and
    /// spends its `jti`, so the same token is refused the second time:
    /// the identity it speaks for, and the claims (see
    /// [`AppState::verify_signed_action`]).
    pub async fn verify_action<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<(AuthentiqId, Claims<T>), ApiError> {
        let signed = self.verify_signed_action::<T>(token, validation).await?;
        Ok((signed.id, signed.claims))
    }

    /// Verifies a self-signed action token and returns the `jti` to spend,
    /// for a handler that spends it in the same transaction as its write.
    pub fn verify_unspent<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<(AuthentiqId, Claims<T>, Jti), ApiError> {
        let (id, claims) = jwt::verify_self_signed::<T>(token, validation)?;
        let jti = self.jti_of(&id, &claims.registered);
        Ok((id, claims, jti))
    }

    /// Whether a key is live, decided here and only here: it exists (404)
    /// and is not revoked (410). Every grant path (pushes, answers, code
    /// exchange, refresh, SSO, userinfo) asks this.
    pub async fn active_key(&self, pk: &str) -> Result<KeyRecord, ApiError> {
        let key = self.key(pk).await?;
        if key.is_revoked() {
            return Err(ApiError::revoked_key("this Authentiq ID was revoked"));
        }
        Ok(key)
    }

    /// The key, revoked or not (404 if unknown).
    pub async fn key(&self, pk: &str) -> Result<KeyRecord, ApiError> {
        let owned = pk.to_string();
        match self.db.read(move |s| s.get_key(&owned)).await {
            Ok(k) => Ok(k),
            Err(StoreError::NotFound) => Err(ApiError::unknown_key("no such Authentiq ID")),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs a token with the active issuer key.
    pub fn sign<T: Serialize>(&self, claims: &Claims<T>) -> Result<String, ApiError> {
        let keys = self.keys();
        jwt::sign(claims, keys.issuer.signing_key(), keys.issuer.active_kid()).map_err(|e| {
            tracing::error!(error = %e, "cannot sign");
            ApiError::internal("cannot sign")
        })
    }

    /// Signs a token of type `typ` with the active issuer key.
    pub fn sign_typed<T: Serialize>(
        &self,
        claims: &Claims<T>,
        typ: &str,
    ) -> Result<String, ApiError> {
        let keys = self.keys();
        jwt::sign_typed(
            claims,
            keys.issuer.signing_key(),
            keys.issuer.active_kid(),
            typ,
        )
        .map_err(|e| {
            tracing::error!(error = %e, typ, "cannot sign");
            ApiError::internal("cannot sign")
        })
    }

    /// Signs, stores and publishes an event for `pk`'s device channel.
    pub async fn emit(&self, pk: &str, event: DeviceEvent, ttl: i64) -> Result<i64, ApiError> {
        self.store_event(self.device_event(pk, event, ttl)?).await
    }

    /// Stores and publishes an event of [`AppState::device_event`].
    pub async fn store_event(&self, e: NewEvent) -> Result<i64, ApiError> {
        let topic = Topic::Key(e.pk.clone());
        let id = self
            .db
            .call(move |s| s.insert_event(&e.pk, &e.kind, &e.data, e.now, e.expires_at))
            .await?;
        self.hub.signal(&topic);
        Ok(id)
    }

    /// [`AppState::emit`]'s event, signed but not stored: to store with
    /// other writes ([`crate::store::Write::DeviceEvent`]), then signal
    /// `Topic::Key(pk)`.
    pub fn device_event(
        &self,
        pk: &str,
        event: DeviceEvent,
        ttl: i64,
    ) -> Result<NewEvent, ApiError> {
        let now = self.now();
        let kind = event.name();
        let claims = Claims::new(event)
            .issuer(self.config.base_url())
            .audience(pk)
            .valid_for(now, ttl);
        Ok(NewEvent {
            pk: pk.to_string(),
            kind: kind.to_string(),
            data: self.sign_typed(&claims, DeviceEvent::TYP)?,
            now,
            expires_at: now + ttl,
        })
    }

    /// Counts a hit; 429 with `Retry-After` when over the limit.
    pub async fn rate_limit(
        &self,
        bucket: String,
        limit: u32,
        window: u64,
        what: &'static str,
    ) -> Result<(), ApiError> {
        let now = self.now();
        match self
            .db
            .call(move |s| s.rate_hit(&bucket, limit, window, now))
            .await?
        {
            crate::store::RateDecision::Allowed => Ok(()),
            crate::store::RateDecision::Limited { retry_after } => Err(ApiError::rate_limited(
                retry_after,
                format!("too many {what}; try again in {retry_after} s"),
            )),
        }
    }
}
