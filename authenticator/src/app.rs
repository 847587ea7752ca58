//! The authenticator as one object: a profile (one identity on one
//! server), its key in the OS keyring, its local state, and the server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use authentiq_protocol::Validation;
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    ClaimScope, Decision as Answer, DeviceEvent, ScopeGrant, SignInRequest, SignInResponse,
};
use authentiq_protocol::scope::{Scope, ScopeName};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{ClientError, ServerClient};
use crate::events::ServerKeys;
use crate::identity::{Identity, IdentityError};
use crate::keystore::{KeyStore, KeyStoreError};
use crate::local::{Decision, Local, LocalError, Request, StoredGrant};
use crate::purpose;
use crate::sse::SseParser;

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

    /// Starts verifying an email or phone number: the server sends a code.
    pub async fn verify_start(
        &self,
        scope: ClaimScope,
        value: &str,
        test: bool,
    ) -> Result<String, AppError> {
        let token = self.identity()?.claim_request(now(), scope, value)?;
        let job = self.client.claim(token, test).await?;
        self.local()?
            .set_meta(&format!("job:{}:{value}", scope.as_str()), &job)?;
        Ok(job)
    }

    /// The job started last for this value, for entering the code later.
    pub fn pending_job(&self, scope: ClaimScope, value: &str) -> Result<Option<String>, AppError> {
        Ok(self
            .local()?
            .get_meta(&format!("job:{}:{value}", scope.as_str()))?)
    }

    /// Confirms with the code, checks the issuer's grant, keeps it, and
    /// binds the verified value to the key.
    pub async fn verify_finish(
        &self,
        scope: ClaimScope,
        job: &str,
        code: &str,
    ) -> Result<StoredGrant, AppError> {
        self.client.confirm(job, code).await?;
        let mut grant = None;
        for _ in 0..20 {
            if let Some(g) = self.client.grant(job).await? {
                grant = Some(g);
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let token =
            grant.ok_or_else(|| AppError::Untrusted("the server did not issue a grant".into()))?;
        let stored = self.check_grant(&token, scope).await?;
        self.local()?.put_grant(&stored)?;
        let identity = self.identity()?;
        let binding = match scope {
            ClaimScope::Email => identity.binding(now(), Some(&stored.value), None)?,
            ClaimScope::Phone => identity.binding(now(), None, Some(&stored.value))?,
        };
        self.client.bind(&self.profile.pk, binding).await?;
        Ok(stored)
    }

    /// A grant must be issued by the server's key, for this key and scope.
    async fn check_grant(&self, token: &str, scope: ClaimScope) -> Result<StoredGrant, AppError> {
        let jwks = self.client.jwks().await?;
        let kid = jwt::peek_kid(token, authentiq_protocol::jws::DEFAULT_MAX_LEN)
            .map_err(|e| AppError::Untrusted(e.to_string()))?
            .ok_or_else(|| AppError::Untrusted("the grant names no key".into()))?;
        let key = keys_find(&jwks, &kid)
            .ok_or_else(|| AppError::Untrusted(format!("grant signed by unknown key {kid}")))?;
        let claims: Claims<ScopeGrant> = jwt::verify(
            token,
            key.verifying_key(),
            Some(&kid),
            &Validation::at(now()),
        )
        .map_err(|e| AppError::Untrusted(format!("the grant does not verify: {e}")))?;
        if claims.registered.sub.as_deref() != Some(self.profile.pk.as_str())
            || claims.body.scope != scope
        {
            return Err(AppError::Untrusted(
                "the grant is not for this key and scope".into(),
            ));
        }
        let value = match scope {
            ClaimScope::Email => claims.body.email,
            ClaimScope::Phone => claims.body.phone_number,
        }
        .ok_or_else(|| AppError::Untrusted("the grant has no value".into()))?;
        Ok(StoredGrant {
            scope: scope.as_str().into(),
            value,
            jwt: token.to_string(),
            exp: claims.registered.exp.unwrap_or(i64::MAX),
        })
    }

    pub fn grants(&self) -> Result<Vec<StoredGrant>, AppError> {
        Ok(self.local()?.grants(now())?)
    }

    /// Handles one event from the channel; `None` for duplicates.
    fn accept(
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

    /// Pending requests that have not expired.
    pub fn inbox(&self) -> Result<Vec<Request>, AppError> {
        Ok(self.local()?.pending(now())?)
    }

    /// Adds a request from a QR code or deep link (the session URI).
    pub async fn open_session(&self, session: &str) -> Result<Request, AppError> {
        let token = self.client.fetch_request(session).await?;
        let keys = self.server_keys().await?;
        let claims = keys
            .verify(&token, None, now())
            .map_err(|e| AppError::Untrusted(e.to_string()))?;
        let DeviceEvent::SignIn(req) = claims.body else {
            return Err(AppError::Untrusted("not a sign-in request".into()));
        };
        if req.session != session {
            return Err(AppError::Untrusted(
                "the request is for another session".into(),
            ));
        }
        let mut r = inbox_entry(
            &req,
            &token,
            claims.registered.iat.unwrap_or_else(now),
            claims.registered.exp.unwrap_or(0),
        );
        // Already in the inbox (the same request came over the channel):
        // `r.id` is then the id it has there.
        self.local()?.add_request(&mut r, now())?;
        Ok(r)
    }

    fn pending_request(&self, id: &str) -> Result<Request, AppError> {
        let r = self
            .local()?
            .request(id)?
            .ok_or_else(|| AppError::UnknownRequest(id.into()))?;
        if r.state != "pending" {
            return Err(AppError::UnknownRequest(id.into()));
        }
        if r.expires_at <= now() {
            return Err(AppError::Expired(id.into()));
        }
        Ok(r)
    }

    fn record(&self, r: &Request, result: &str, detail: Option<String>) -> Result<(), AppError> {
        let local = self.local()?;
        local.set_request_state(
            &r.id,
            if result == "approved" {
                "approved"
            } else {
                "denied"
            },
        )?;
        local.record(&Decision {
            request_id: r.id.clone(),
            purpose: r.purpose,
            backchannel: r.backchannel,
            binding_message: r.binding_message.clone(),
            client_id: r.client_id.clone(),
            client_name: r.client_name.clone(),
            ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            decided_at: now(),
            result: result.into(),
            detail,
        })?;
        Ok(())
    }

    /// Approves with the number the user picked — or, for a backchannel
    /// request (CIBA: no sign-in page shows a number), with none: the user
    /// checked its binding message instead, and the answer carries no
    /// number. A number for a backchannel request, or none for another, is
    /// refused before anything is sent. Required claims are always shared
    /// (with their grants); optional ones only if named in `share`.
    /// Returns the request answered (what it was for, to say so).
    pub async fn approve(
        &self,
        id: &str,
        number: Option<u16>,
        share: &[String],
        remember: bool,
    ) -> Result<Request, AppError> {
        let r = self.pending_request(id)?;
        let shown = || {
            r.numbers
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let number = match (r.backchannel, number) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(AppError::NoNumberToMatch(
                    r.id.clone(),
                    r.client_name.clone(),
                ));
            }
            (false, None) => return Err(AppError::NumberRequired(r.id.clone(), shown())),
            (false, Some(n)) if !r.numbers.contains(&n) => {
                return Err(AppError::NotACandidate(n, shown()));
            }
            (false, Some(n)) => Some(n),
        };
        let requested: Scope = r.scope.parse().unwrap_or_default();
        let grants = self.grants()?;
        let mut shared = vec!["openid".to_string()];
        let mut claims = Map::new();
        let mut attached = Vec::new();
        for item in requested.items() {
            let name = item.name.to_string();
            if item.name == ScopeName::OpenId {
                continue;
            }
            let wanted = item.required || share.contains(&name);
            if !wanted {
                continue;
            }
            let grant_scope = match item.name {
                ScopeName::Email => Some("email"),
                ScopeName::Phone => Some("phone"),
                _ => None,
            };
            if let Some(gs) = grant_scope {
                match grants.iter().find(|g| g.scope == gs) {
                    Some(g) => {
                        let claim = if gs == "email" {
                            "email"
                        } else {
                            "phone_number"
                        };
                        claims.insert(claim.into(), json!(g.value));
                        attached.push(g.jwt.clone());
                    }
                    None if item.required => {
                        // Nothing to share: the server will refuse, say why here.
                        return Err(AppError::Io(format!(
                            "{} requires a verified {gs}: run `aq verify {gs} …` first",
                            r.client_name
                        )));
                    }
                    None => continue,
                }
            }
            shared.push(name);
        }
        let identity = self.identity()?;
        let push_token = if remember && requested.contains(&ScopeName::AqPush) {
            Some(identity.push_token(now(), &format!("{}/sign-in", self.profile.server))?)
        } else {
            None
        };
        let body = SignInResponse {
            decision: Answer::Approve,
            nonce: r.nonce.clone(),
            number,
            scope: shared.join(" "),
            claims,
            grants: attached,
            push_token,
            report: false,
        };
        let token = identity.sign_in_response(now(), &r.session, body)?;
        match self.client.answer(&r.session, token).await {
            Ok(_) => self.record(&r, "approved", None).map(|()| r),
            Err(e) => {
                self.record(&r, "refused", Some(e.to_string()))?;
                Err(e.into())
            }
        }
    }

    /// Denies; with `report`, tells the server this was not the user.
    /// Returns the request answered.
    pub async fn deny(&self, id: &str, report: bool) -> Result<Request, AppError> {
        let r = self.pending_request(id)?;
        let body = SignInResponse {
            decision: Answer::Deny,
            nonce: r.nonce.clone(),
            number: None,
            scope: String::new(),
            claims: Map::new(),
            grants: Vec::new(),
            push_token: None,
            report,
        };
        let token = self.identity()?.sign_in_response(now(), &r.session, body)?;
        self.client.answer(&r.session, token).await?;
        self.record(&r, if report { "reported" } else { "denied" }, None)?;
        Ok(r)
    }

    pub fn history(&self, limit: u32) -> Result<Vec<Decision>, AppError> {
        Ok(self.local()?.history(limit)?)
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

/// The session URI a sign-in link names: `authentiq://sign-in?session=URI`
/// (the sign-in page's button and QR code, and an SDK session's
/// `deepLink`) gives the URI it carries; anything else is taken to be the
/// session URI itself.
pub fn session_of_link(link: &str) -> Result<String, AppError> {
    let link = link.trim();
    let Ok(url) = url::Url::parse(link) else {
        return Ok(link.to_string());
    };
    if url.scheme() != "authentiq" {
        return Ok(link.to_string());
    }
    let invalid = |why: &str| AppError::Io(format!("not an Authentiq sign-in link: {why}"));
    // `authentiq://sign-in?…` names the action as its host, `authentiq:sign-in?…` as its path.
    let action = url
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| url.path())
        .trim_matches('/');
    if action != "sign-in" {
        return Err(invalid("it is not a sign-in"));
    }
    url.query_pairs()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("it names no session"))
}

fn keys_find(jwks: &Value, kid: &str) -> Option<authentiq_protocol::AuthentiqId> {
    jwks["keys"]
        .as_array()?
        .iter()
        .find(|k| k["kid"] == kid && k["kty"] == "OKP")
        .and_then(|k| k["x"].as_str()?.parse().ok())
}

/// The inbox entry for a verified request (its id is the inbox's to give).
/// The binding message is the client's text: kept as plain text, cleaned
/// ([`purpose::clean_binding_message`]), and only with `backchannel` (a
/// request matched by number has none to check).
fn inbox_entry(req: &SignInRequest, token: &str, iat: i64, exp: i64) -> Request {
    Request {
        id: String::new(),
        session: req.session.clone(),
        purpose: req.purpose,
        backchannel: req.backchannel,
        binding_message: req
            .backchannel
            .then(|| purpose::clean_binding_message(req.binding_message.as_deref()))
            .flatten(),
        event: token.to_string(),
        client_id: req.client.client_id.clone(),
        client_name: req.client.name.clone(),
        client_uri: req.client.uri.clone(),
        scope: req.scope.clone(),
        ip: req.requester.ip.clone(),
        user_agent: req.requester.user_agent.clone(),
        numbers: req.numbers,
        nonce: req.nonce.clone(),
        received_at: iat,
        expires_at: exp,
        state: "pending".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_http::{http, serve_one};
    use crate::keystore::MemoryKeyStore;
    use authentiq_protocol::payloads::{Purpose, SignOut};

    /// A profile on `server` whose key is in a memory key store.
    fn profile_on(home: &Path, server: &str, keystore: &Arc<MemoryKeyStore>) -> Identity {
        let identity = Identity::generate().unwrap();
        keystore
            .store(&account("default", server), &identity.seed())
            .unwrap();
        let dir = home.join("default");
        std::fs::create_dir_all(&dir).unwrap();
        let profile = Profile {
            name: "default".into(),
            server: server.into(),
            pk: identity.id().to_string(),
            created_at: now(),
        };
        std::fs::write(
            dir.join("profile.json"),
            serde_json::to_vec(&profile).unwrap(),
        )
        .unwrap();
        identity
    }

    /// What the server pushes, signed by issuer key `kid`.
    fn event(issuer: &ed25519_dalek::SigningKey, aud: &str, req: SignInRequest) -> String {
        let claims = Claims::new(DeviceEvent::SignIn(req))
            .audience(aud)
            .valid_for(now(), 300);
        jwt::sign_typed(&claims, issuer, "srv", DeviceEvent::TYP).unwrap()
    }

    /// A request as the server pushes it (read from JSON, as the app reads
    /// it: fields the app does not know of yet stay at their defaults).
    fn sign_in_request(session: &str, purpose: Purpose) -> SignInRequest {
        let mut req = json!({
            "session": session,
            "nonce": "n",
            "client": { "client_id": "shop", "name": "Test Shop" },
            "scope": "openid email~rs",
            "requester": { "ip": "192.0.2.1" },
            "numbers": [12, 47, 83],
        });
        if !purpose.is_sign_in() {
            req["purpose"] = serde_json::to_value(purpose).unwrap();
        }
        serde_json::from_value(req).unwrap()
    }

    #[test]
    fn a_sign_in_link_gives_its_session_and_a_uri_is_itself() {
        let session = "http://127.0.0.1:8080/sign-in/abc?x=1";
        let link = format!(
            "authentiq://sign-in?session={}",
            url::form_urlencoded::byte_serialize(session.as_bytes()).collect::<String>()
        );
        assert_eq!(session_of_link(&link).unwrap(), session);
        assert_eq!(
            session_of_link(&format!(" {} ", link.replace("://", ":"))).unwrap(),
            session
        );
        assert_eq!(session_of_link(session).unwrap(), session);
        assert_eq!(session_of_link("not a url").unwrap(), "not a url");
        for bad in [
            "authentiq://revoke?session=x",
            "authentiq://sign-in?other=1",
            "authentiq://sign-in?session=",
        ] {
            assert!(
                matches!(session_of_link(bad), Err(AppError::Io(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_pushed_request_keeps_its_purpose_and_one_without_is_a_sign_in() {
        let home = tempfile::tempdir().unwrap();
        let keystore = Arc::new(MemoryKeyStore::default());
        let identity = profile_on(home.path(), "http://127.0.0.1:9", &keystore);
        let app = Authenticator::open(home.path(), "default", keystore).unwrap();
        let issuer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let x = authentiq_protocol::AuthentiqId::from_verifying_key(issuer.verifying_key())
            .unwrap()
            .to_string();
        let keys = ServerKeys::from_jwks(
            &json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "srv", "x": x }] }),
        );
        let pk = identity.id().to_string();
        let mut labels = Vec::new();
        for (i, purpose) in [
            Purpose::Verification,
            Purpose::Reauthentication,
            // Sent without the field, as servers from before purposes do.
            Purpose::SignIn,
        ]
        .into_iter()
        .enumerate()
        {
            let token = event(&issuer, &pk, sign_in_request(&format!("s{i}"), purpose));
            if purpose == Purpose::SignIn {
                let payload = token.split('.').nth(1).unwrap();
                let payload = base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    payload,
                )
                .unwrap();
                assert!(!String::from_utf8(payload).unwrap().contains("purpose"));
            }
            let Some(Incoming::Request(r)) = app.accept(&keys, i as i64 + 1, &token).unwrap()
            else {
                panic!("no request for {purpose:?}");
            };
            assert_eq!(r.purpose, purpose);
            labels.push(r.label());
        }
        assert_eq!(
            labels,
            [
                "Verify your details for Test Shop",
                "Confirm it's you for Test Shop",
                "Sign in to Test Shop"
            ]
        );
        let mut inbox: Vec<(String, Purpose)> = app
            .inbox()
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.purpose))
            .collect();
        inbox.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            inbox,
            [
                ("1".into(), Purpose::Verification),
                ("2".into(), Purpose::Reauthentication),
                ("3".into(), Purpose::SignIn)
            ]
        );
        // The history records what it was.
        let r = app.pending_request("1").unwrap();
        app.record(&r, "denied", None).unwrap();
        let d = &app.history(1).unwrap()[0];
        assert_eq!(
            (d.purpose, d.label()),
            (
                Purpose::Verification,
                "Verify your details for Test Shop".to_string()
            )
        );
    }

    /// A profile on `server`, the issuer key its events verify with, and
    /// its ID (the events' audience).
    fn app_with_issuer(
        home: &Path,
        server: &str,
    ) -> (
        Authenticator,
        ServerKeys,
        ed25519_dalek::SigningKey,
        Identity,
    ) {
        let keystore = Arc::new(MemoryKeyStore::default());
        let identity = profile_on(home, server, &keystore);
        let app = Authenticator::open(home, "default", keystore).unwrap();
        let issuer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let x = authentiq_protocol::AuthentiqId::from_verifying_key(issuer.verifying_key())
            .unwrap()
            .to_string();
        let keys = ServerKeys::from_jwks(
            &json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "srv", "x": x }] }),
        );
        (app, keys, issuer, identity)
    }

    /// A CIBA request as the server pushes it: `backchannel`, and the
    /// client's message if any.
    fn backchannel_request(session: &str, message: Option<&str>) -> SignInRequest {
        let mut req = sign_in_request(session, Purpose::SignIn);
        req.scope = "openid".into();
        req.backchannel = true;
        req.binding_message = message.map(str::to_owned);
        req
    }

    #[test]
    fn a_backchannel_request_keeps_its_message_as_plain_text() {
        let home = tempfile::tempdir().unwrap();
        let (app, keys, issuer, identity) = app_with_issuer(home.path(), "http://127.0.0.1:9");
        let pk = identity.id().to_string();
        let sent = [
            backchannel_request("s1", Some(" Order\u{202E} 1234\n\u{1b}[2J")),
            backchannel_request("s2", None),
            backchannel_request("s3", Some("\n\t")),
            // Only a backchannel request has a message to check.
            SignInRequest {
                binding_message: Some("ignored".into()),
                ..sign_in_request("s4", Purpose::SignIn)
            },
        ];
        let mut got = Vec::new();
        for (i, req) in sent.into_iter().enumerate() {
            let token = event(&issuer, &pk, req);
            let Some(Incoming::Request(r)) = app.accept(&keys, i as i64 + 1, &token).unwrap()
            else {
                panic!("no request {i}");
            };
            got.push((r.backchannel, r.binding_message.clone(), r.label()));
        }
        let ciba = |m: Option<&str>| {
            (
                true,
                m.map(str::to_owned),
                "Sign-in requested by Test Shop".to_string(),
            )
        };
        assert_eq!(
            got,
            [
                ciba(Some("Order 1234 [2J")),
                ciba(None),
                ciba(None),
                (false, None, "Sign in to Test Shop".into()),
            ]
        );
        // Kept so in the inbox, as `aq inbox` and the app read it.
        let inbox = app.inbox().unwrap();
        assert_eq!(inbox[0].binding_message.as_deref(), Some("Order 1234 [2J"));
        assert_eq!(
            inbox[0].binding_check().as_deref(),
            Some("Check that Test Shop shows: Order 1234 [2J")
        );
        assert!(inbox[0].backchannel && !inbox[3].backchannel);
    }

    #[tokio::test]
    async fn a_backchannel_request_is_approved_without_a_number() {
        let home = tempfile::tempdir().unwrap();
        let (url, server) = serve_one(http(
            "200 OK",
            "application/json",
            r#"{"status":"approved"}"#,
        ))
        .await;
        let (app, keys, issuer, identity) = app_with_issuer(home.path(), &url);
        let session = format!("{url}/sign-in/ciba");
        let token = event(
            &issuer,
            &identity.id().to_string(),
            backchannel_request(&session, Some("Order 1234")),
        );
        let Some(Incoming::Request(r)) = app.accept(&keys, 1, &token).unwrap() else {
            panic!("no request");
        };
        // A number is refused before anything is sent.
        let err = app.approve(&r.id, Some(r.numbers[0]), &[], false).await;
        assert!(
            matches!(&err, Err(AppError::NoNumberToMatch(id, client)) if *id == r.id && client == "Test Shop"),
            "{err:?}"
        );
        let answered = app.approve(&r.id, None, &[], false).await.unwrap();
        assert!(answered.backchannel);
        let (head, body) = server.await.unwrap();
        assert!(head.starts_with("POST /sign-in/ciba HTTP/1.1"), "{head}");
        let (id, claims) =
            jwt::verify_self_signed::<SignInResponse>(&body, &Validation::at(now())).unwrap();
        assert_eq!(id, identity.id());
        assert_eq!(claims.body.decision, Answer::Approve);
        assert_eq!(claims.body.number, None, "no number in the answer");
        assert!(claims.registered.aud.unwrap().contains(&session));
        // The history keeps what it was.
        let d = &app.history(1).unwrap()[0];
        assert_eq!(
            (
                d.result.as_str(),
                d.backchannel,
                d.binding_message.as_deref()
            ),
            ("approved", true, Some("Order 1234"))
        );
        assert_eq!(d.label(), "Sign-in requested by Test Shop");
        assert!(app.inbox().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_request_matched_by_number_is_not_approved_without_one() {
        let home = tempfile::tempdir().unwrap();
        // No listener: anything sent would fail as a network error.
        let (app, keys, issuer, identity) = app_with_issuer(home.path(), "http://127.0.0.1:9");
        let token = event(
            &issuer,
            &identity.id().to_string(),
            sign_in_request("http://127.0.0.1:9/sign-in/page", Purpose::SignIn),
        );
        let Some(Incoming::Request(r)) = app.accept(&keys, 1, &token).unwrap() else {
            panic!("no request");
        };
        let err = app.approve(&r.id, None, &[], false).await.unwrap_err();
        assert!(
            matches!(&err, AppError::NumberRequired(id, shown) if *id == r.id && shown == "12, 47, 83"),
            "{err:?}"
        );
        assert!(err.to_string().contains("--number"), "{err}");
        assert!(matches!(
            app.approve(&r.id, Some(5), &[], false).await,
            Err(AppError::NotACandidate(5, _))
        ));
        // Still pending, nothing recorded.
        assert_eq!(app.inbox().unwrap().len(), 1);
        assert!(app.history(10).unwrap().is_empty());
    }

    #[tokio::test]
    async fn sign_out_everywhere_posts_a_fresh_token_of_this_key_to_its_path() {
        let home = tempfile::tempdir().unwrap();
        let (url, server) = serve_one(http(
            "200 OK",
            "application/json",
            r#"{"status":"done","clients_told":3}"#,
        ))
        .await;
        let keystore = Arc::new(MemoryKeyStore::default());
        let identity = profile_on(home.path(), &url, &keystore);
        let app = Authenticator::open(home.path(), "default", keystore).unwrap();
        assert_eq!(app.sign_out_everywhere().await.unwrap(), 3);
        let (head, body) = server.await.unwrap();
        assert!(
            head.starts_with(&format!("POST /key/{}/signout HTTP/1.1", identity.id())),
            "{head}"
        );
        // What the server checks: self-signed by the key in the path, with
        // a jti to spend and a short lifetime.
        let (id, claims) =
            jwt::verify_self_signed::<SignOut>(&body, &Validation::at(now())).unwrap();
        assert_eq!(id, identity.id());
        let r = &claims.registered;
        assert!(r.jti.as_deref().is_some_and(|j| !j.is_empty()));
        assert!(r.exp.unwrap() - now() <= 300, "{r:?}");
    }

    #[tokio::test]
    async fn sign_out_everywhere_without_the_key_sends_nothing() {
        let home = tempfile::tempdir().unwrap();
        // No listener: a request would fail as a network error, not KeyMissing.
        let keystore = Arc::new(MemoryKeyStore::default());
        profile_on(home.path(), "http://127.0.0.1:9", &keystore);
        let empty = Arc::new(MemoryKeyStore::default());
        let app = Authenticator::open(home.path(), "default", empty).unwrap();
        assert!(matches!(
            app.sign_out_everywhere().await,
            Err(AppError::KeyMissing)
        ));
    }

    #[tokio::test]
    async fn a_refused_sign_out_is_the_servers_problem() {
        let home = tempfile::tempdir().unwrap();
        let (url, server) = serve_one(http(
            "410 Gone",
            "application/problem+json",
            r#"{"error":410,"type":"revoked-key","title":"Key is revoked","detail":"this Authentiq ID was revoked"}"#,
        ))
        .await;
        let keystore = Arc::new(MemoryKeyStore::default());
        profile_on(home.path(), &url, &keystore);
        let app = Authenticator::open(home.path(), "default", keystore).unwrap();
        let err = app.sign_out_everywhere().await.unwrap_err();
        server.await.unwrap();
        assert!(
            matches!(
                &err,
                AppError::Server(ClientError::Refused { status: 410, kind, .. }) if kind == "revoked-key"
            ),
            "{err:?}"
        );
        // The key stays: signing out is not revoking.
        assert!(app.identity().is_ok());
    }
}
