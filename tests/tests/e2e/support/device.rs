//! The user's device played with the protocol crate: a key registered, an
//! email verified and bound, the device channel open; it reads the sign-in
//! requests pushed to it and answers them as the app would.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{
    Binding, ChannelAuth, ClaimRequest, ClaimScope, Decision, DeviceEvent, Registration,
    SignInRequest, SignInResponse,
};
use authentiq_protocol::{AuthentiqId, Validation};
use authentiq_server::delivery::outbox::{Outbox, find_code};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::provider::{Server, now};

/// The user's device: a key, a verified email, an open channel.
pub struct Device {
    pub key: SigningKey,
    pub pk: String,
    /// The revocation secret `POST /key` answered with.
    pub secret: String,
    pub email: String,
    pub grant: String,
    events: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Device {
    /// Registers, verifies and binds `email`, and opens the channel.
    pub async fn enrol(p: &impl Server, email: &str) -> Self {
        let http = reqwest::Client::new();
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let pk = AuthentiqId::from_verifying_key(key.verifying_key())
            .unwrap()
            .to_string();
        let post = |path: &str, body: String| {
            http.post(format!("{}{path}", p.url()))
                .header("content-type", "application/jwt")
                .body(body)
                .send()
        };
        let reg = jwt::sign_self(
            Claims::new(Registration::default()).valid_for(now(), 300),
            &key,
        )
        .unwrap();
        let res = post("/key", reg).await.unwrap();
        assert_eq!(res.status(), 201, "POST /key");
        let secret = res.json::<Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        let req = ClaimRequest {
            scope: ClaimScope::Email,
            email: Some(email.into()),
            phone_number: None,
            kind: None,
        };
        let t = jwt::sign_self(Claims::new(req).valid_for(now(), 300), &key).unwrap();
        let res: Value = post("/scope", t).await.unwrap().json().await.unwrap();
        let job = res["job"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /scope: {res}"))
            .to_string();
        let msg = Outbox::new(p.outbox_dir())
            .unwrap()
            .latest_to(email)
            .unwrap()
            .unwrap();
        let code = find_code(&msg.text).unwrap();
        let res = http
            .post(format!("{}/scope/{job}", p.url()))
            .form(&[("code", code)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let grant = http
            .get(format!("{}/scope/{job}", p.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let bind = jwt::sign_self(
            Claims::new(Binding {
                email: Some(email.into()),
                phone: None,
            })
            .valid_for(now(), 300),
            &key,
        )
        .unwrap();
        let res = http
            .put(format!("{}/key/{pk}", p.url()))
            .header("content-type", "application/jwt")
            .body(bind)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let auth = jwt::sign_self(
            Claims::new(ChannelAuth {})
                .audience(format!("{}/channel", p.public_url()))
                .valid_for(now(), 60),
            &key,
        )
        .unwrap();
        let res = http
            .get(format!("{}/channel", p.url()))
            .bearer_auth(auth)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        Self {
            key,
            pk,
            secret,
            email: email.into(),
            grant,
            events: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next sign-in request pushed to this device, verified against the
    /// provider's published issuer key.
    pub async fn next_request(&mut self, p: &impl Server) -> SignInRequest {
        self.try_next_request(p).await.unwrap()
    }

    /// [`Device::next_request`], as an error to report rather than a panic.
    pub async fn try_next_request(&mut self, p: &impl Server) -> anyhow::Result<SignInRequest> {
        let data = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                if let Some(i) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..i + 2).collect();
                    if block.contains("event: sign-in") || block.contains("event:sign-in") {
                        return block
                            .lines()
                            .find_map(|l| l.strip_prefix("data:"))
                            .map(|d| d.trim().to_string())
                            .ok_or_else(|| anyhow!("a sign-in event without data: {block}"));
                    }
                    continue;
                }
                let chunk = self
                    .events
                    .next()
                    .await
                    .ok_or_else(|| anyhow!("the device channel closed"))??;
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .context("no sign-in request reached the device within 15 s")??;
        let jwks: Value = reqwest::get(format!("{}/jwks", p.url()))
            .await?
            .json()
            .await?;
        // The issuer key that signed it (there are several after a rotation).
        let kid = jwt::peek_kid(&data, 64 * 1024)?;
        let okp = jwks["keys"]
            .as_array()
            .and_then(|keys| {
                keys.iter()
                    .find(|k| k["kty"] == "OKP" && kid.as_deref().is_none_or(|kid| k["kid"] == kid))
            })
            .ok_or_else(|| anyhow!("no OKP key {kid:?} in /jwks: {jwks}"))?;
        let key: AuthentiqId = okp["x"]
            .as_str()
            .ok_or_else(|| anyhow!("an OKP key without x"))?
            .parse()?;
        // By the provider's clock, which a test may have moved.
        let v = Validation::at(p.now())
            .typ(DeviceEvent::TYP)
            .audience(self.pk.clone());
        let claims: Claims<DeviceEvent> = jwt::verify(&data, key.verifying_key(), None, &v)?;
        match claims.body {
            DeviceEvent::SignIn(r) => Ok(r),
            other => bail!("expected a sign-in, got {other:?}"),
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
        self.signed_answer(req, decision, number, scope, false)
    }

    /// "Deny and report": this sign-in was not the user's.
    pub fn report(&self, req: &SignInRequest) -> String {
        self.signed_answer(req, Decision::Deny, None, "", true)
    }

    fn signed_answer(
        &self,
        req: &SignInRequest,
        decision: Decision,
        number: Option<u16>,
        scope: &str,
        report: bool,
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
            // No grant (a test emptied it): the email goes unverified.
            grants: Some(self.grant.clone())
                .filter(|g| !g.is_empty())
                .into_iter()
                .collect(),
            push_token: None,
            report,
        };
        jwt::sign_self(
            Claims::new(body)
                .audience(req.session.clone())
                .valid_for(now(), 60),
            &self.key,
        )
        .unwrap()
    }

    /// A push token for `aud` (as a relying party keeps for `POST /login`).
    pub fn push_token(&self, aud: &str) -> String {
        jwt::sign_self(
            Claims::new(authentiq_protocol::payloads::PushToken {})
                .audience(aud)
                .valid_for(now(), 24 * 3600),
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

    /// Answers `req` as the app would (signed, with the email grant), sends
    /// it, and checks the provider took it.
    pub async fn respond(
        &self,
        req: &SignInRequest,
        decision: Decision,
        number: Option<u16>,
        scope: &str,
    ) -> anyhow::Result<()> {
        let res = self
            .send(req, self.answer(req, decision, number, scope))
            .await;
        let status = res.status();
        let text = res.text().await?;
        if status != 200 {
            bail!("the provider answered {status} to the device's answer: {text}");
        }
        Ok(())
    }
}
