//! One browser's full sign-in, timed step by step: `/authorize` → the
//! sign-in page → "send to my device" → the device approves → `/continue`
//! → the relying party redeems the code at `/token`.
//!
//! With several instances the requests cross them on purpose, as a
//! round-robin load balancer would: the browser's steps at one instance
//! ([`Browsers::browser_at`]), the device's channel wherever it enrolled
//! (device d at instance d mod N), its answer round-robin
//! ([`crate::device::Approvers`]), the code exchange at the next instance
//! after the browser's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::device::{Device, Pending, PendingMap};
use crate::server::request_error;

/// Registered for both clients; nothing listens there (the flow stops at the redirect).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
/// What the browser asks for: a verified email (required) and a name.
const SCOPE: &str = "openid email~rs aq:name";

/// A confidential relying party (`client_secret_basic`).
#[derive(Debug, Clone)]
pub struct Rp {
    pub client_id: String,
    pub secret: String,
    /// Its `id_token_signed_response_alg`.
    pub alg: &'static str,
}

/// How the browser learns that the device approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Told by the device task the moment its answer is accepted: measures
    /// the server's work, not the page's polling.
    Device,
    /// As the sign-in page does: `GET /sign-in/{sid}/events`, opened when
    /// the page has loaded, until it says `approved`.
    Events,
}

/// The step names, in order (see [`Flow::steps`]).
pub const STEPS: [&str; 6] = ["authorize", "page", "push", "approval", "continue", "token"];

/// What a successful sign-in leaves.
#[derive(Debug)]
pub struct Flow {
    /// Index into the clients.
    pub rp: usize,
    /// Time of each step in [`STEPS`].
    pub steps: [Duration; 6],
    pub refresh_token: String,
}

/// What every browser shares.
#[derive(Debug)]
pub struct Browsers {
    /// No cookie store (each flow keeps its own cookie), no redirects followed.
    pub http: reqwest::Client,
    /// The relying party's back channel, for `/token`.
    pub rp_http: reqwest::Client,
    /// Every instance's public URL (the issuer; session URIs name it).
    pub public: String,
    /// Each instance's own URL.
    pub urls: Vec<String>,
    pub rps: Vec<Rp>,
    pub devices: Vec<Arc<Device>>,
    pub pending: PendingMap,
    /// Pushes sent from an instance other than the one holding the device's channel.
    pub pushes_elsewhere: AtomicUsize,
    /// Pushes sent.
    pub pushes: AtomicUsize,
}

/// Takes the pending entry out again however the flow ends (also when its
/// future is dropped at the timeout).
struct PendingGuard<'a> {
    map: &'a PendingMap,
    key: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&self.key);
        }
    }
}

pub fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

fn header(res: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Err` with the status (and a short reason) unless `res` is `want`.
async fn checked(step: &str, res: reqwest::Response, want: StatusCode) -> Result<String, String> {
    let status = res.status();
    let body = res
        .text()
        .await
        .map_err(|e| format!("{step}: reading the body: {e}"))?;
    if status == want {
        return Ok(body);
    }
    let reason = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v["error"]
                .as_str()
                .or_else(|| v["type"].as_str())
                .map(str::to_string)
        })
        .or_else(|| between(&body, "<title>", "</title>").map(str::to_string))
        .unwrap_or_default();
    Err(format!("{step}: HTTP {} {reason}", status.as_u16()))
}

/// The value of the cookie `name` in a `Set-Cookie` header.
fn cookie_value<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    let first = set_cookie.split(';').next()?;
    let (n, v) = first.split_once('=')?;
    (n.trim() == name).then_some(v.trim())
}

fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `alg` in a JWT's header.
fn jwt_alg(token: &str) -> Option<String> {
    let head = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&head).ok()?;
    v["alg"].as_str().map(str::to_string)
}

/// Checks a `/token` answer; returns the new refresh token.
pub fn check_tokens(body: &str, rp: &Rp) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("token: not JSON: {e}"))?;
    if v["access_token"].as_str().is_none_or(str::is_empty) {
        return Err("token: no access_token".into());
    }
    let id_token = v["id_token"].as_str().ok_or("token: no id_token")?;
    match jwt_alg(id_token) {
        Some(alg) if alg == rp.alg => {}
        other => {
            return Err(format!(
                "token: ID token signed with {other:?}, not {}",
                rp.alg
            ));
        }
    }
    v["refresh_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "token: no refresh_token".into())
}

impl Browsers {
    /// The instance sign-in `index`'s browser steps go to: `index mod N`,
    /// shifted by one instance for each round over the devices, so that
    /// every device is signed into from every instance in turn (with
    /// `--devices` a multiple of `--instances`, `index mod N` alone would
    /// always put the browser beside the device's channel).
    pub fn browser_at(&self, index: usize) -> usize {
        let n = self.urls.len().max(1);
        (index + index / self.devices.len().max(1)) % n
    }

    /// Sign-in number `index`: device `index % devices`, client `index % clients`.
    pub async fn sign_in(&self, index: usize, wait: Wait) -> Result<Flow, String> {
        let device = self
            .devices
            .get(index % self.devices.len().max(1))
            .ok_or("no device")?;
        let rp_index = index % self.rps.len().max(1);
        let rp = self.rps.get(rp_index).ok_or("no client")?;
        let n = self.urls.len().max(1);
        let at = self.browser_at(index);
        let url = self.urls.get(at).ok_or("no instance")?;
        let token_url = self.urls.get((at + 1) % n).ok_or("no instance")?;
        let mut steps = [Duration::ZERO; 6];
        let mut t = Instant::now();
        let mut lap = |i: usize| {
            let now = Instant::now();
            steps[i] = now - t;
            t = now;
        };

        // 1. The relying party sends the browser to /authorize.
        let verifier = random_b64(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_b64(16);
        let authorize = url::Url::parse_with_params(
            &format!("{url}/authorize"),
            &[
                ("client_id", rp.client_id.as_str()),
                ("response_type", "code"),
                ("scope", SCOPE),
                ("redirect_uri", REDIRECT_URI),
                ("state", state.as_str()),
                ("nonce", random_b64(16).as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        )
        .map_err(|e| format!("authorize URL: {e}"))?;
        let res = self
            .http
            .get(authorize)
            .send()
            .await
            .map_err(|e| format!("authorize: {}", request_error(&e)))?;
        let location = header(&res, LOCATION);
        let set_cookie: Vec<String> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        checked("authorize", res, StatusCode::SEE_OTHER).await?;
        let location = location.ok_or("authorize: no Location")?;
        let sid = location
            .strip_prefix("/sign-in/")
            .ok_or_else(|| format!("authorize: sent to {location}, not a sign-in page"))?
            .to_string();
        let cookie_name = format!("aq_b_{sid}");
        let binding = set_cookie
            .iter()
            .find_map(|c| cookie_value(c, &cookie_name))
            .ok_or("authorize: no browser-binding cookie")?;
        let cookie = format!("{cookie_name}={binding}");
        lap(0);

        // 2. The sign-in page: the number to match and the form's CSRF token.
        let res = self
            .http
            .get(format!("{url}{location}"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .map_err(|e| format!("page: {}", request_error(&e)))?;
        let html = checked("page", res, StatusCode::OK).await?;
        let number: u16 = between(&html, "id=\"aq-number\">", "<")
            .and_then(|n| n.trim().parse().ok())
            .ok_or("page: no number on the page")?;
        let csrf = between(&html, "name=\"csrf\" value=\"", "\"")
            .ok_or("page: no CSRF token on the page")?
            .to_string();
        let session = format!("{}/sign-in/{sid}", self.public);
        let (tx, mut rx) = oneshot::channel();
        let pending = Pending {
            number,
            page_at: at,
            done: tx,
        };
        self.pending
            .lock()
            .map_err(|_| "pending map poisoned")?
            .insert(session.clone(), pending);
        let _guard = PendingGuard {
            map: &self.pending,
            key: session,
        };
        // The page's script opens its status stream as soon as it loads.
        let mut events = match wait {
            Wait::Device => None,
            Wait::Events => {
                let res = self
                    .http
                    .get(format!("{url}/sign-in/{sid}/events"))
                    .header("accept", "text/event-stream")
                    .send()
                    .await
                    .map_err(|e| format!("events: {}", request_error(&e)))?;
                if res.status() != StatusCode::OK {
                    return Err(format!("events: HTTP {}", res.status().as_u16()));
                }
                Some(res)
            }
        };
        lap(1);

        // 3. "Send to my device".
        let res = self
            .http
            .post(format!("{url}/sign-in/{sid}/push"))
            .header(COOKIE, &cookie)
            .form(&[("email", device.email.as_str()), ("csrf", csrf.as_str())])
            .send()
            .await
            .map_err(|e| format!("push: {}", request_error(&e)))?;
        checked("push", res, StatusCode::OK).await?;
        self.pushes.fetch_add(1, Ordering::Relaxed);
        if device.home % n != at {
            self.pushes_elsewhere.fetch_add(1, Ordering::Relaxed);
        }
        lap(2);

        // 4. The device gets the event and approves with the page's number.
        match events.as_mut() {
            None => rx
                .await
                .map_err(|_| "approval: the device task dropped the sign-in".to_string())??,
            Some(stream) => {
                let approved = wait_approved(stream);
                tokio::select! {
                    r = approved => r?,
                    Ok(Err(e)) = &mut rx => return Err(e),
                }
            }
        }
        drop(events);
        lap(3);

        // 5. The browser continues to the client, with a code.
        let res = self
            .http
            .get(format!("{url}/sign-in/{sid}/continue"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .map_err(|e| format!("continue: {}", request_error(&e)))?;
        let location = header(&res, LOCATION);
        if res.status() == StatusCode::SEE_OTHER {
            return Err(self.why_pending(url, &sid, &cookie).await);
        }
        checked("continue", res, StatusCode::FOUND).await?;
        let back = url::Url::parse(&location.ok_or("continue: no Location")?)
            .map_err(|e| format!("continue: bad Location: {e}"))?;
        if !back.as_str().starts_with(REDIRECT_URI) {
            return Err(format!("continue: sent to {back}, not the client"));
        }
        if let Some(err) = query_param(&back, "error") {
            return Err(format!("continue: the client got error={err}"));
        }
        if query_param(&back, "state").as_deref() != Some(state.as_str()) {
            return Err("continue: state does not match".into());
        }
        let code = query_param(&back, "code").ok_or("continue: no code")?;
        lap(4);

        // 6. The relying party redeems the code (with PKCE), at the next instance.
        let res = self
            .rp_http
            .post(format!("{token_url}/token"))
            .basic_auth(&rp.client_id, Some(&rp.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("token: {}", request_error(&e)))?;
        let body = checked("token", res, StatusCode::OK).await?;
        let refresh_token = check_tokens(&body, rp)?;
        lap(5);
        Ok(Flow {
            rp: rp_index,
            steps,
            refresh_token,
        })
    }

    /// After the device's approval was accepted, `/continue` sent the
    /// browser back to the page (303): say whether the session is pending again.
    async fn why_pending(&self, url: &str, sid: &str, cookie: &str) -> String {
        let page = self
            .http
            .get(format!("{url}/sign-in/{sid}"))
            .header(COOKIE, cookie)
            .send()
            .await;
        let html = match page {
            Ok(res) => res.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if html.contains("id=\"aq-number\"") {
            "continue: 303 back to the page, whose session is pending again although the \
             device's approval was accepted (a lost update)"
                .into()
        } else {
            "continue: HTTP 303".into()
        }
    }
}

/// Reads the page's status stream until it says `approved`.
async fn wait_approved(res: &mut reqwest::Response) -> Result<(), String> {
    let mut buf = String::new();
    loop {
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                let v: serde_json::Value = serde_json::from_str(data.trim())
                    .map_err(|e| format!("events: bad status event: {e}"))?;
                match v["status"].as_str() {
                    Some("approved") => return Ok(()),
                    Some("pending") => {}
                    other => return Err(format!("events: status {other:?}")),
                }
            }
        }
        let chunk = res
            .chunk()
            .await
            .map_err(|e| format!("events: {}", request_error(&e)))?
            .ok_or("events: the stream ended before the approval")?;
        buf.push_str(&String::from_utf8_lossy(&chunk).replace('\r', ""));
    }
}
