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
use crate::hub::{Hub, Push};
use crate::keys::IssuerKeys;
use crate::oidc::keys::OidcKeys;
use crate::secrets::Hasher;
use crate::store::{Db, KeyRecord, SqliteStore, StoreError};

/// The SQLite database, in the data directory.
pub const DB_FILE: &str = "authentiq.sqlite3";

/// How long device events stay available for replay.
pub const EVENT_TTL: i64 = 15 * 60;

#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub issuer: IssuerKeys,
    /// ID token signing keys (RS256, ES256, EdDSA = the issuer keys).
    pub oidc_keys: OidcKeys,
    pub hasher: Hasher,
    pub delivery: Delivery,
    pub hub: Hub,
    pub clock: Clock,
    /// Sign-in session ids, announced whenever a session changes, so the
    /// page's status stream need not poll the database.
    pub session_changed: tokio::sync::broadcast::Sender<String>,
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
        for c in &config.clients {
            c.validate()
                .map_err(|e| anyhow::anyhow!("invalid client configuration: {e}"))?;
        }
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let store = SqliteStore::open(&config.data_dir.join(DB_FILE))
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        let issuer = IssuerKeys::load_or_create(&config.data_dir, clock.now())?;
        let oidc_keys = OidcKeys::load_or_create(&config.data_dir, &issuer, clock.now())?;
        let hasher = Hasher::new(crate::keys::load_or_create_hash_key(&config.data_dir)?);
        let delivery = Delivery::from_config(&config)?;
        Ok(Self(Arc::new(Inner {
            config,
            db: Db::new(Arc::new(store)),
            issuer,
            oidc_keys,
            hasher,
            delivery,
            hub: Hub::default(),
            clock,
            session_changed: tokio::sync::broadcast::channel(1024).0,
        })))
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
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

    /// Verifies a self-signed action token and spends its `jti`, so the
    /// same token is refused the second time.
    pub async fn verify_action<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<(AuthentiqId, Claims<T>), ApiError> {
        let (id, claims) = jwt::verify_self_signed::<T>(token, validation)?;
        self.spend_jti(&id, &claims.registered).await?;
        Ok((id, claims))
    }

    async fn spend_jti(
        &self,
        id: &AuthentiqId,
        r: &authentiq_protocol::Registered,
    ) -> Result<(), ApiError> {
        let jti = r.jti.clone().unwrap_or_default();
        // Remember it until the token could no longer pass anyway.
        let until = r
            .exp
            .unwrap_or_else(|| self.now() + self.config.limits.jwt_max_lifetime_secs)
            .saturating_add(self.config.limits.jwt_leeway_secs);
        let key = format!("{id}:{jti}");
        match self.db.call(move |s| s.use_jti(&key, until)).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(ApiError::auth_error(
                "this token was already used; sign a new one",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The key, which must exist and not be revoked (404 / 410).
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
        match self.db.call(move |s| s.get_key(&owned)).await {
            Ok(k) => Ok(k),
            Err(StoreError::NotFound) => Err(ApiError::unknown_key("no such Authentiq ID")),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs a token with the active issuer key.
    pub fn sign<T: Serialize>(&self, claims: &Claims<T>) -> Result<String, ApiError> {
        jwt::sign(claims, self.issuer.signing_key(), self.issuer.active_kid()).map_err(|e| {
            tracing::error!(error = %e, "cannot sign");
            ApiError::internal("cannot sign")
        })
    }

    /// Signs, stores and publishes an event for `pk`'s device channel.
    pub async fn emit(&self, pk: &str, event: DeviceEvent, ttl: i64) -> Result<i64, ApiError> {
        let now = self.now();
        let kind = event.name();
        let claims = Claims::new(event)
            .issuer(self.config.base_url())
            .audience(pk)
            .valid_for(now, ttl);
        let token = jwt::sign_typed(
            &claims,
            self.issuer.signing_key(),
            self.issuer.active_kid(),
            DeviceEvent::TYP,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign an event");
            ApiError::internal("cannot sign")
        })?;
        let owned_pk = pk.to_string();
        let data = token.clone();
        let id = self
            .db
            .call(move |s| s.insert_event(&owned_pk, kind, &data, now, now + ttl))
            .await?;
        self.hub.publish(
            pk,
            Push::Event(crate::store::StoredEvent {
                id,
                pk: pk.to_string(),
                kind: kind.to_string(),
                data: token,
                expires_at: now + ttl,
            }),
        );
        Ok(id)
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
