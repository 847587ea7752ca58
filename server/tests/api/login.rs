//! `POST /login?callback=`.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{DeviceEvent, PushToken};
use authentiq_protocol::{AuthentiqId, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

const CB: &str = "/login?callback=https%3A%2F%2Frp.example%2Fauth%2Fcallback";

#[tokio::test]
async fn a_push_reaches_the_device_channel_signed_by_the_issuer() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let res = open_channel(&s, &d, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut events = SseReader::new(res);
    let res = s
        .http
        .post(s.url(CB))
        .header("content-type", "application/jwt")
        .header("user-agent", "TestBrowser/1.0")
        .body(d.push_token("https://rp.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "sent");
    let ev = events.next_within(5).await.expect("an event");
    assert_eq!(ev.event.as_deref(), Some("sign-in"));
    let jwks: Value = s.get("/jwks").await.json().await.unwrap();
    let key: AuthentiqId = jwks["keys"][0]["x"].as_str().unwrap().parse().unwrap();
    let v = Validation::at(now())
        .typ(DeviceEvent::TYP)
        .audience(d.pk.clone());
    let claims: Claims<DeviceEvent> = jwt::verify(&ev.data, key.verifying_key(), None, &v).unwrap();
    let DeviceEvent::SignIn(req) = claims.body else {
        panic!("not a sign-in")
    };
    assert_eq!(req.session, "https://rp.example/auth/callback");
    assert_eq!(req.client.name, "rp.example");
    assert_eq!(req.requester.ip, "127.0.0.1");
    assert_eq!(req.requester.user_agent.as_deref(), Some("TestBrowser/1.0"));
    assert_eq!(
        claims.registered.exp.unwrap() - claims.registered.iat.unwrap(),
        300
    );
}

#[tokio::test]
async fn the_audience_must_cover_the_callback() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    assert_problem(
        s.post_jwt(CB, &d.push_token("https://other.example/"))
            .await,
        401,
        "aud-error",
    )
    .await;
    assert_problem(
        s.post_jwt(CB, &d.push_token("https://rp.example/admin"))
            .await,
        401,
        "aud-error",
    )
    .await;
    let no_aud = d.sign(Claims::new(PushToken {}).valid_for(now(), 60));
    assert_problem(s.post_jwt(CB, &no_aud).await, 401, "aud-error").await;
}

#[tokio::test]
async fn only_registered_unrevoked_keys_may_push() {
    let s = TestServer::start().await;
    let d = Device::new();
    assert_problem(
        s.post_jwt(CB, &d.push_token("https://rp.example/")).await,
        401,
        "auth-error",
    )
    .await;
    let secret = s.register(&d).await;
    s.delete(&format!("/key/{}?secret={secret}", d.pk)).await;
    assert_problem(
        s.post_jwt(CB, &d.push_token("https://rp.example/")).await,
        401,
        "auth-error",
    )
    .await;
    // Not self-signed: kid names d, signature by another key.
    let other = Device::new();
    let c = Claims::new(PushToken {})
        .subject(d.pk.clone())
        .audience("https://rp.example/")
        .valid_for(now(), 60);
    let forged = jwt::sign(&c, &other.key, &d.pk).unwrap();
    assert_problem(s.post_jwt(CB, &forged).await, 401, "auth-error").await;
    assert_problem(
        s.post_jwt("/login", &d.push_token("https://rp.example/"))
            .await,
        400,
        "bad-request",
    )
    .await;
}

#[tokio::test]
async fn pushes_per_key_are_rate_limited() {
    let s = TestServer::start_with(|c| c.rate.pushes_per_key_per_minute = 2).await;
    let d = Device::new();
    s.register(&d).await;
    let t = d.push_token("https://rp.example/");
    assert_eq!(s.post_jwt(CB, &t).await.status(), StatusCode::OK);
    assert_eq!(
        s.post_jwt(CB, &t).await.status(),
        StatusCode::OK,
        "push tokens are reusable"
    );
    assert_problem(s.post_jwt(CB, &t).await, 429, "rate-limit").await;
}
