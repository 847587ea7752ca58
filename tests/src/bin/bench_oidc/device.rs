//! The user's device, played with the protocol crate: enrolment (register,
//! verify an email through the server's outbox, bind it), and a scripted
//! approver that answers every `sign-in` event on the device channel.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    Binding, ChannelAuth, ClaimRequest, ClaimScope, Decision, DeviceEvent, Registration,
    SignInRequest, SignInResponse,
};
use authentiq_protocol::{AuthentiqId, Validation};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde_json::{Map, json};
use tokio::sync::oneshot;

use crate::channel::Channel;
use crate::{expect_status, request_error};

/// The scopes the device agrees to share (what the browser asks for, without modifiers).
pub const ANSWER_SCOPE: &str = "openid email aq:name";
/// How long enrolment waits for the verification code to show up in the outbox.
const CODE_WAIT: Duration = Duration::from_secs(10);

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An enrolled device: a key with a verified, bound email and its grant.
#[derive(Debug)]
pub struct Device {
    key: SigningKey,
    pub pk: String,
    pub email: String,
    /// The issuer-signed grant for `email`, attached to every answer.
    pub grant: String,
    /// The instance it enrolled at and holds its channel open at.
    pub home: usize,
}

fn sign<T: serde::Serialize>(key: &SigningKey, claims: Claims<T>) -> Result<String, String> {
    jwt::sign_self(claims, key).map_err(|e| format!("cannot sign: {e}"))
}

/// The verification codes the server wrote to `<data_dir>/outbox/*.json`
/// (see `server/src/delivery/outbox.rs`), read once per file.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    seen: Mutex<HashSet<OsString>>,
    /// Recipient → the newest code sent to it.
    codes: Mutex<HashMap<String, String>>,
}

#[derive(serde::Deserialize)]
struct StoredMessage {
    to: String,
    text: String,
}

/// The first run of exactly six ASCII digits (as the server's `find_code`).
fn find_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return text.get(start..i).map(str::to_owned);
            }
        } else {
            i += 1;
        }
    }
    None
}

impl Outbox {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("outbox"),
            seen: Mutex::new(HashSet::new()),
            codes: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the message files not read yet (names sort by time).
    fn scan(&self) -> Result<(), String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot list {}: {e}", self.dir.display())),
        };
        let mut names: Vec<OsString> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(|n| {
                let s = n.to_string_lossy();
                !s.starts_with('.') && s.ends_with(".json")
            })
            .collect();
        names.sort();
        let mut seen = self.seen.lock().map_err(|_| "outbox lock poisoned")?;
        let mut codes = self.codes.lock().map_err(|_| "outbox lock poisoned")?;
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            let bytes = std::fs::read(self.dir.join(&name))
                .map_err(|e| format!("cannot read outbox file {name:?}: {e}"))?;
            let msg: StoredMessage =
                serde_json::from_slice(&bytes).map_err(|e| format!("outbox file {name:?}: {e}"))?;
            if let Some(code) = find_code(&msg.text) {
                codes.insert(msg.to, code);
            }
            seen.insert(name);
        }
        Ok(())
    }

    /// Takes the code sent to `to`, waiting for it to be written.
    async fn code_for(&self, to: &str) -> Result<String, String> {
        let deadline = Instant::now() + CODE_WAIT;
        loop {
            self.scan()?;
            let found = self
                .codes
                .lock()
                .map_err(|_| "outbox lock poisoned")?
                .remove(to);
            if let Some(code) = found {
                return Ok(code);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no code for {to} in the outbox within {} s",
                    CODE_WAIT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn post_jwt(
    http: &reqwest::Client,
    url: &str,
    token: String,
) -> Result<reqwest::Response, String> {
    http.post(url)
        .header("content-type", "application/jwt")
        .body(token)
        .send()
        .await
        .map_err(|e| request_error(&e))
}

impl Device {
    /// A new key that registers, verifies `email` with the code from the
    /// outbox, and binds it (so "send to my device" finds this key), all at
    /// instance `home` (at `url`, writing to `outbox`).
    pub async fn enrol(
        http: &reqwest::Client,
        (home, url): (usize, &str),
        outbox: &Outbox,
        email: String,
    ) -> Result<Self, String> {
        let key = SigningKey::generate(&mut OsRng);
        let pk = AuthentiqId::from_verifying_key(key.verifying_key())
            .map_err(|e| format!("a fresh key is not an Authentiq ID: {e}"))?
            .to_string();
        let reg = sign(
            &key,
            Claims::new(Registration::default()).valid_for(now(), 300),
        )?;
        expect_status(
            post_jwt(http, &format!("{url}/key"), reg).await?,
            reqwest::StatusCode::CREATED,
        )
        .await
        .map_err(|e| format!("POST /key: {e}"))?;

        let req = ClaimRequest {
            scope: ClaimScope::Email,
            email: Some(email.clone()),
            phone_number: None,
            kind: None,
        };
        let res = post_jwt(
            http,
            &format!("{url}/scope"),
            sign(&key, Claims::new(req).valid_for(now(), 300))?,
        )
        .await?;
        if res.status() != reqwest::StatusCode::CREATED {
            return Err(format!("POST /scope: HTTP {}", res.status().as_u16()));
        }
        let created: serde_json::Value =
            res.json().await.map_err(|e| format!("POST /scope: {e}"))?;
        let job = created["job"]
            .as_str()
            .ok_or("POST /scope: no job in the answer")?
            .to_string();
        let code = outbox.code_for(&email).await?;
        let res = http
            .post(format!("{url}/scope/{job}"))
            .form(&[("code", code)])
            .send()
            .await
            .map_err(|e| request_error(&e))?;
        expect_status(res, reqwest::StatusCode::ACCEPTED)
            .await
            .map_err(|e| format!("POST /scope/{{job}}: {e}"))?;
        let res = http
            .get(format!("{url}/scope/{job}"))
            .send()
            .await
            .map_err(|e| request_error(&e))?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(format!(
                "GET /scope/{{job}}: HTTP {}",
                res.status().as_u16()
            ));
        }
        let grant = res
            .text()
            .await
            .map_err(|e| format!("GET /scope/{{job}}: {e}"))?;

        let bind = sign(
            &key,
            Claims::new(Binding {
                email: Some(email.clone()),
                phone: None,
            })
            .valid_for(now(), 300),
        )?;
        let res = http
            .put(format!("{url}/key/{pk}"))
            .header("content-type", "application/jwt")
            .body(bind)
            .send()
            .await
            .map_err(|e| request_error(&e))?;
        expect_status(res, reqwest::StatusCode::OK)
            .await
            .map_err(|e| format!("PUT /key/{{PK}}: {e}"))?;
        Ok(Self {
            key,
            pk,
            email,
            grant,
            home,
        })
    }

    /// Single-use, for `<public URL>/channel`, 2 minutes (the server allows 5).
    pub fn channel_auth(&self, url: &str) -> Result<String, String> {
        sign(
            &self.key,
            Claims::new(ChannelAuth {})
                .audience(format!("{url}/channel"))
                .valid_for(now(), 120),
        )
    }

    /// The signed approval of `req`, picking `number`.
    fn approval(&self, req: &SignInRequest, number: u16) -> Result<String, String> {
        let mut claims = Map::new();
        claims.insert("email".into(), json!(self.email));
        claims.insert("name".into(), json!("Bench User"));
        let body = SignInResponse {
            decision: Decision::Approve,
            nonce: req.nonce.clone(),
            number: Some(number),
            scope: ANSWER_SCOPE.into(),
            claims,
            grants: vec![self.grant.clone()],
            push_token: None,
            report: false,
        };
        sign(
            &self.key,
            Claims::new(body)
                .audience(req.session.clone())
                .valid_for(now(), 60),
        )
    }
}

/// A sign-in the browser is waiting on: the number its page shows, and
/// where to say how the device's answer went.
#[derive(Debug)]
pub struct Pending {
    pub number: u16,
    /// The instance the browser's page is at.
    pub page_at: usize,
    pub done: oneshot::Sender<Result<(), String>>,
}

/// Sign-ins waiting for the device, by session URI.
pub type PendingMap = Arc<Mutex<HashMap<String, Pending>>>;

/// What the approvers saw.
#[derive(Debug, Default)]
pub struct ApproverStats {
    pub sign_in_events: AtomicUsize,
    pub other_events: AtomicUsize,
    pub approved: AtomicUsize,
    /// Events for a session no browser waits on (any more).
    pub unmatched: AtomicUsize,
    pub bad_events: AtomicUsize,
    pub answer_failed: AtomicUsize,
    /// Channels that ended (each stops its device).
    pub channels_lost: AtomicUsize,
    /// Answers posted to an instance other than the one the page is at.
    pub answers_elsewhere: AtomicUsize,
}

/// What every approver shares.
#[derive(Debug)]
pub struct Approvers {
    pub http: reqwest::Client,
    /// Every instance's public URL (the session URIs' origin).
    pub public: String,
    /// The instances' own URLs: answers go round-robin over them, as a
    /// load balancer in front of them would send the app's requests.
    pub urls: Vec<String>,
    pub next_answer: AtomicUsize,
    /// The issuer's Ed25519 key, from `/jwks`: events are verified as the app does.
    pub issuer_key: VerifyingKey,
    pub pending: PendingMap,
    pub stats: ApproverStats,
    pub last_channel_error: Mutex<Option<String>>,
}

impl Approvers {
    /// Reads `channel` until it ends, answering each `sign-in` event on its own task.
    pub fn spawn(self: &Arc<Self>, device: Arc<Device>, mut channel: Channel) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let ev = match channel.next_event().await {
                    Ok(ev) => ev,
                    Err(e) => {
                        this.stats.channels_lost.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut last) = this.last_channel_error.lock() {
                            *last = Some(e);
                        }
                        return;
                    }
                };
                if ev.event.as_deref() != Some("sign-in") {
                    this.stats.other_events.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                this.stats.sign_in_events.fetch_add(1, Ordering::Relaxed);
                let (this, device) = (Arc::clone(&this), Arc::clone(&device));
                tokio::spawn(async move { this.answer(&device, &ev.data).await });
            }
        });
    }

    fn take_pending(&self, session: &str) -> Option<Pending> {
        self.pending.lock().ok()?.remove(session)
    }

    async fn answer(&self, device: &Device, token: &str) {
        let v = Validation::at(now())
            .typ(DeviceEvent::TYP)
            .audience(device.pk.clone());
        let req = match jwt::verify::<DeviceEvent>(token, &self.issuer_key, None, &v) {
            Ok(Claims {
                body: DeviceEvent::SignIn(req),
                ..
            }) => req,
            _ => {
                self.stats.bad_events.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let Some(pending) = self.take_pending(&req.session) else {
            self.stats.unmatched.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let n = self.urls.len().max(1);
        let at = self.next_answer.fetch_add(1, Ordering::Relaxed) % n;
        if at != pending.page_at {
            self.stats.answers_elsewhere.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = self.approve(device, &req, pending.number, at).await;
        if outcome.is_ok() {
            self.stats.approved.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.answer_failed.fetch_add(1, Ordering::Relaxed);
        }
        // The browser may have given up already.
        let _ = pending.done.send(outcome);
    }

    async fn approve(
        &self,
        device: &Device,
        req: &SignInRequest,
        number: u16,
        at: usize,
    ) -> Result<(), String> {
        if !req.numbers.contains(&number) {
            return Err(format!(
                "the pushed request offers {:?}, not the page's {number}",
                req.numbers
            ));
        }
        let token = device.approval(req, number)?;
        let base = self.urls.get(at).unwrap_or(&self.public);
        let url = crate::instances::on(&req.session, &self.public, base);
        let res = post_jwt(&self.http, &url, token)
            .await
            .map_err(|e| format!("device answer: {e}"))?;
        expect_status(res, reqwest::StatusCode::OK)
            .await
            .map_err(|e| format!("device answer: {e}"))
    }
}
