//! A provider with clients, a device with a verified email, and a browser.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    ChannelAuth, ClaimRequest, ClaimScope, Decision, DeviceEvent, Registration, SignInRequest,
    SignInResponse,
};
use authentiq_protocol::{AuthentiqId, Validation};
use authentiq_server::AppState;
use authentiq_server::config::Config;
use authentiq_server::delivery::outbox::{Outbox, find_code};
use authentiq_server::oidc::clients::{AuthMethod, Client, SubjectType};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
pub const SECRET: &str = "a-long-client-secret-for-the-tests-0123456789";

pub struct Provider {
    pub url: String,
    #[allow(dead_code)] // used by the negative tests
    pub state: AppState,
    pub dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn client(id: &str, alg: &str, method: AuthMethod) -> Client {
    let public = method == AuthMethod::None;
    Client {
        client_id: id.into(),
        client_secret: (!public).then(|| SECRET.to_string()),
        client_secret_sha256: None,
        name: format!("Test RP {id}"),
        redirect_uris: vec![REDIRECT.into()],
        client_uri: Some("http://127.0.0.1:9/".into()),
        logo_uri: None,
        token_endpoint_auth_method: method,
        response_types: vec![
            "code".into(),
            "code id_token".into(),
            "id_token token".into(),
        ],
        id_token_signed_response_alg: alg.into(),
        subject_type: SubjectType::Pairwise,
    }
}

impl Provider {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            public_url: format!("http://{addr}"),
            clients: vec![
                client("rs256-basic", "RS256", AuthMethod::ClientSecretBasic),
                client("eddsa-post", "EdDSA", AuthMethod::ClientSecretPost),
                client("es256-basic", "ES256", AuthMethod::ClientSecretBasic),
                client("hs256-basic", "HS256", AuthMethod::ClientSecretBasic),
                client("public-pkce", "RS256", AuthMethod::None),
            ],
            ..Config::default()
        };
        let state = AppState::open(config).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(authentiq_server::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            state,
            dir,
            _stop: tx,
        }
    }
}

pub fn now() -> i64 {
    authentiq_server::clock::Clock::default().now()
}

/// The user's device: a key, a verified email, an open channel.
pub struct Device {
    pub key: SigningKey,
    pub pk: String,
    pub email: String,
    pub grant: String,
    events: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Device {
    /// Registers, verifies and binds `email`, and opens the channel.
    pub async fn enrol(p: &Provider, email: &str) -> Self {
        let http = reqwest::Client::new();
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let pk = AuthentiqId::from_verifying_key(key.verifying_key())
            .unwrap()
            .to_string();
        let post = |path: &str, body: String| {
            http.post(format!("{}{path}", p.url))
                .header("content-type", "application/jwt")
                .body(body)
                .send()
        };
        let reg = jwt::sign_self(
            Claims::new(Registration::default()).valid_for(now(), 300),
            &key,
        )
        .unwrap();
        assert_eq!(post("/key", reg).await.unwrap().status(), 201);
        let req = ClaimRequest {
            scope: ClaimScope::Email,
            email: Some(email.into()),
            phone_number: None,
            kind: None,
        };
        let t = jwt::sign_self(Claims::new(req).valid_for(now(), 300), &key).unwrap();
        let res: Value = post("/scope", t).await.unwrap().json().await.unwrap();
        let job = res["job"].as_str().unwrap().to_string();
        let msg = Outbox::new(p.dir.path())
            .unwrap()
            .latest_to(email)
            .unwrap()
            .unwrap();
        let code = find_code(&msg.text).unwrap();
        let res = http
            .post(format!("{}/scope/{job}", p.url))
            .form(&[("code", code)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let grant = http
            .get(format!("{}/scope/{job}", p.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let bind = jwt::sign_self(
            Claims::new(authentiq_protocol::payloads::Binding {
                email: Some(email.into()),
                phone: None,
            })
            .valid_for(now(), 300),
            &key,
        )
        .unwrap();
        let res = http
            .put(format!("{}/key/{pk}", p.url))
            .header("content-type", "application/jwt")
            .body(bind)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let auth = jwt::sign_self(
            Claims::new(ChannelAuth {})
                .audience(format!("{}/channel", p.url))
                .valid_for(now(), 60),
            &key,
        )
        .unwrap();
        let res = http
            .get(format!("{}/channel", p.url))
            .bearer_auth(auth)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        Self {
            key,
            pk,
            email: email.into(),
            grant,
            events: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next sign-in request pushed to this device, verified against the
    /// provider's published issuer key.
    pub async fn next_request(&mut self, p: &Provider) -> SignInRequest {
        let data = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                if let Some(i) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..i + 2).collect();
                    if block.contains("event: sign-in") || block.contains("event:sign-in") {
                        let data = block
                            .lines()
                            .find_map(|l| l.strip_prefix("data:"))
                            .unwrap()
                            .trim()
                            .to_string();
                        return data;
                    }
                    continue;
                }
                let chunk = self.events.next().await.unwrap().unwrap();
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("a sign-in request reaches the device");
        let jwks: Value = reqwest::get(format!("{}/jwks", p.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let okp = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "OKP")
            .unwrap();
        let key: AuthentiqId = okp["x"].as_str().unwrap().parse().unwrap();
        let v = Validation::at(now())
            .typ(DeviceEvent::TYP)
            .audience(self.pk.clone());
        let claims: Claims<DeviceEvent> =
            jwt::verify(&data, key.verifying_key(), None, &v).unwrap();
        match claims.body {
            DeviceEvent::SignIn(r) => r,
            other => panic!("expected a sign-in, got {other:?}"),
        }
    }

    /// The signed answer to `req`.
    pub fn answer(
        &self,
        req: &SignInRequest,
        decision: Decision,
        number: Option<u16>,
        scope: &str,
    ) -> String {
        let mut claims = Map::new();
        claims.insert("email".into(), json!(self.email));
        claims.insert("name".into(), json!("Test User"));
        let body = SignInResponse {
            decision,
            nonce: req.nonce.clone(),
            number,
            scope: scope.into(),
            claims,
            grants: vec![self.grant.clone()],
            push_token: None,
            report: false,
        };
        jwt::sign_self(
            Claims::new(body)
                .audience(req.session.clone())
                .valid_for(now(), 60),
            &self.key,
        )
        .unwrap()
    }

    pub async fn send(&self, req: &SignInRequest, token: String) -> reqwest::Response {
        reqwest::Client::new()
            .post(&req.session)
            .header("content-type", "application/jwt")
            .body(token)
            .send()
            .await
            .unwrap()
    }
}

/// A browser: cookies kept, redirects not followed (we read them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The sign-in page a browser lands on after `/authorize`.
pub struct Page {
    pub sid: String,
    pub number: u16,
    pub csrf: String,
}

pub async fn open_sign_in(p: &Provider, browser: &reqwest::Client, auth_url: &str) -> Page {
    let res = browser.get(auth_url).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let sid = loc.trim_start_matches("/sign-in/").to_string();
    let html = browser
        .get(format!("{}{loc}", p.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let number = between(&html, "id=\"aq-number\">", "<")
        .trim()
        .parse()
        .unwrap();
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"").to_string();
    Page { sid, number, csrf }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in page"))
        + start.len();
    let j = s[i..].find(end).unwrap() + i;
    &s[i..j]
}

/// "Send to my device" on the page.
pub async fn send_to_device(p: &Provider, browser: &reqwest::Client, page: &Page, email: &str) {
    let res = browser
        .post(format!("{}/sign-in/{}/push", p.url, page.sid))
        .form(&[("email", email), ("csrf", page.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// After approval: the browser continues and lands on the redirect URI.
pub async fn continue_to_client(p: &Provider, browser: &reqwest::Client, page: &Page) -> url::Url {
    let res = browser
        .get(format!("{}/sign-in/{}/continue", p.url, page.sid))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap()
}

/// A parameter of an authorization response, from the query or the fragment.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .chain(url::form_urlencoded::parse(
            url.fragment().unwrap_or("").as_bytes(),
        ))
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
