//! Starting servers and playing the device's part with the protocol crate.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    Binding, ChannelAuth, ClaimRequest, ClaimScope, KeyUpdate, PushToken, Registration,
};
use authentiq_server::AppState;
use authentiq_server::config::Config;
use authentiq_server::delivery::outbox::{Outbox, find_code};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// Dropping the server (and this sender) shuts it down.
    _stop: oneshot::Sender<()>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            public_url: format!("http://{addr}"),
            ..Config::default()
        };
        tweak(&mut config);
        let state = AppState::open(config).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(authentiq_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            state,
            dir,
            http: reqwest::Client::new(),
            _stop: tx,
        }
    }

    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.dir.path()).unwrap()
    }

    /// The newest code sent to `to`.
    pub fn code_for(&self, to: &str) -> String {
        let msg = self
            .outbox()
            .latest_to(to)
            .unwrap()
            .expect("a message was sent");
        find_code(&msg.text).expect("the message holds a code")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn post_jwt(&self, path: &str, jwt: &str) -> Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/jwt")
            .body(jwt.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn put_jwt(&self, path: &str, jwt: &str) -> Response {
        self.http
            .put(self.url(path))
            .header("content-type", "application/jwt")
            .body(jwt.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http.delete(self.url(path)).send().await.unwrap()
    }

    /// Registers `device` and returns its revocation secret.
    pub async fn register(&self, device: &Device) -> String {
        let res = self.post_jwt("/key", &device.registration()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Runs a whole email or phone verification; returns the grant.
    pub async fn verify(&self, device: &Device, scope: ClaimScope, value: &str) -> String {
        let res = self
            .post_jwt("/scope", &device.claim_request(scope, value))
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        let job = res.json::<Value>().await.unwrap()["job"]
            .as_str()
            .unwrap()
            .to_string();
        let code = self.code_for(value);
        let res = self
            .http
            .post(self.url(&format!("/scope/{job}")))
            .form(&[("code", code)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        let res = self.get(&format!("/scope/{job}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }
}

/// Asserts a problem body: status, `type`, and the shape.
pub async fn assert_problem(res: Response, status: u16, kind: &str) -> Value {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "status; body {body}");
    assert_eq!(ct, "application/problem+json", "content type; body {body}");
    assert_eq!(body["error"], status, "{body}");
    assert_eq!(body["type"], kind, "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    body
}

/// The app's side, played with the protocol crate.
pub struct Device {
    pub key: SigningKey,
    pub pk: String,
}

pub fn now() -> i64 {
    authentiq_server::clock::Clock::default().now()
}

impl Device {
    pub fn new() -> Self {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let pk = authentiq_protocol::AuthentiqId::from_verifying_key(key.verifying_key())
            .unwrap()
            .to_string();
        Self { key, pk }
    }

    pub fn sign<T: serde::Serialize>(&self, claims: Claims<T>) -> String {
        jwt::sign_self(claims, &self.key).unwrap()
    }

    pub fn registration(&self) -> String {
        self.sign(Claims::new(Registration::default()).valid_for(now(), 300))
    }

    pub fn claim_request(&self, scope: ClaimScope, value: &str) -> String {
        let (email, phone_number) = match scope {
            ClaimScope::Email => (Some(value.to_string()), None),
            ClaimScope::Phone => (None, Some(value.to_string())),
        };
        self.sign(
            Claims::new(ClaimRequest {
                scope,
                email,
                phone_number,
                kind: None,
            })
            .valid_for(now(), 300),
        )
    }

    pub fn binding(&self, email: Option<&str>, phone: Option<&str>) -> String {
        self.sign(
            Claims::new(Binding {
                email: email.map(str::to_string),
                phone: phone.map(str::to_string),
            })
            .valid_for(now(), 300),
        )
    }

    pub fn key_update(&self, grants: Vec<String>) -> String {
        self.sign(Claims::new(KeyUpdate { grants }).valid_for(now(), 300))
    }

    pub fn push_token(&self, aud: &str) -> String {
        self.sign(
            Claims::new(PushToken {})
                .audience(aud)
                .valid_for(now(), 3600),
        )
    }

    pub fn channel_auth(&self, server: &TestServer) -> String {
        self.sign(
            Claims::new(ChannelAuth {})
                .audience(format!("{}/channel", server.url))
                .valid_for(now(), 60),
        )
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Reads events from an SSE response.
pub struct SseReader {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseReader {
    pub fn new(res: Response) -> Self {
        Self {
            stream: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped), or `None` at the end.
    pub async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut ev = Sse {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        ev.data.push_str(v.trim());
                    }
                }
                if ev.event.is_some() || !ev.data.is_empty() {
                    return Some(ev);
                }
                continue;
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next event within `secs`, or `None`.
    pub async fn next_within(&mut self, secs: u64) -> Option<Sse> {
        tokio::time::timeout(std::time::Duration::from_secs(secs), self.next())
            .await
            .ok()
            .flatten()
    }
}

/// Opens the device channel of `device`.
pub async fn open_channel(server: &TestServer, device: &Device, last: Option<&str>) -> Response {
    let mut req = server
        .http
        .get(server.url("/channel"))
        .bearer_auth(device.channel_auth(server));
    if let Some(id) = last {
        req = req.header("last-event-id", id);
    }
    req.send().await.unwrap()
}

pub const REDIRECT: &str = "https://rp.example/cb";
pub const CLIENT_SECRET: &str = "a-long-client-secret-for-the-api-tests-0123456789";

/// A confidential test client (`EdDSA` ID tokens: cheap to sign).
pub fn test_client(id: &str) -> authentiq_server::oidc::clients::Client {
    use authentiq_server::oidc::clients::{AuthMethod, Client, SubjectType};
    Client {
        client_id: id.into(),
        client_secret: None,
        client_secret_sha256: Some(authentiq_server::secrets::hash_secret_b64(CLIENT_SECRET)),
        name: format!("Test RP {id}"),
        redirect_uris: vec![REDIRECT.into()],
        client_uri: None,
        logo_uri: None,
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        response_types: vec!["code".into()],
        id_token_signed_response_alg: "EdDSA".into(),
        subject_type: SubjectType::Pairwise,
        ..Client::default()
    }
}

/// A refresh token the provider issued to `client_id` for `pk`, stored
/// directly (the sign-in that would have produced it is tested elsewhere).
pub fn seed_refresh(
    store: &dyn authentiq_server::store::Store,
    client_id: &str,
    pk: &str,
) -> String {
    use authentiq_server::oidc::records;
    use authentiq_server::oidc::tokens::{Grant, REFRESH_TTL};
    let token = records::new_token();
    let family = authentiq_server::secrets::new_job_id();
    let grant = Grant {
        client_id: client_id.into(),
        pk: pk.into(),
        // Offline access: the refresh token does not end with an SSO session.
        scope: "openid offline_access".into(),
        requested_scope: "openid offline_access".into(),
        claims: Default::default(),
        auth_time: now(),
        nonce: None,
        sid: family.clone(),
        jkt: None,
        family: family.clone(),
    };
    let record = records::new(
        records::REFRESH,
        &records::token_id(&token),
        &family,
        Some(pk),
        &grant,
        now() + REFRESH_TTL,
    )
    .unwrap()
    .granted(client_id, &family);
    store.put_record(&record).unwrap();
    token
}

/// `POST /token` with a refresh token, as `client_id` (Basic auth).
pub async fn refresh(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    token: &str,
) -> reqwest::Result<Response> {
    http.post(format!("{base}/token"))
        .basic_auth(client_id, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
}

/// The claims of a JWT we trust already (issued by the server under test).
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
