//! Response modes and types beyond the plain code flow, the remembered
//! device, and the abuse limits.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{Decision, PushToken, SignInResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::common::*;

fn url_for(p: &Provider, client_id: &str, response_type: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("response_type", response_type)
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "s")
        .append_pair("nonce", "nonce-1");
    if response_type.contains("code") {
        // PKCE is required for every client (the verifier is not needed
        // where these tests stop short of redeeming the code).
        q.append_pair("code_challenge", &challenge())
            .append_pair("code_challenge_method", "S256");
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("{}/authorize?{}", p.url, q.finish())
}

/// Approves a sign-in started at `url`; returns the browser's response to `continue`.
async fn approve(
    p: &Provider,
    device: &mut Device,
    b: &reqwest::Client,
    url: &str,
) -> reqwest::Response {
    let page = open_sign_in(p, b, url).await;
    send_to_device(p, b, &page, &device.email).await;
    let req = device.next_request(p).await;
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), "openid email"),
        )
        .await;
    assert_eq!(res.status(), 200);
    b.get(format!("{}/sign-in/{}/continue", p.url, page.sid))
        .send()
        .await
        .unwrap()
}

fn payload(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

fn half(v: &str) -> String {
    let d = Sha256::digest(v.as_bytes());
    URL_SAFE_NO_PAD.encode(&d[..16])
}

#[tokio::test]
async fn hybrid_code_id_token_in_the_fragment_with_c_hash() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "hybrid@example.com").await;
    let b = browser();
    let res = approve(
        &p,
        &mut device,
        &b,
        &url_for(&p, "rs256-basic", "code id_token", &[]),
    )
    .await;
    assert_eq!(res.status(), 302);
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.query().is_none(), "nothing in the query: {loc}");
    let code = param(&loc, "code").unwrap();
    let id_token = param(&loc, "id_token").unwrap();
    let claims = payload(&id_token);
    assert_eq!(claims["c_hash"], half(&code));
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["aud"], "rs256-basic");
    assert_eq!(param(&loc, "iss").as_deref(), Some(p.url.as_str()));
}

#[tokio::test]
async fn implicit_id_token_token_with_at_hash() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "implicit@example.com").await;
    let b = browser();
    let res = approve(
        &p,
        &mut device,
        &b,
        &url_for(&p, "rs256-basic", "id_token token", &[]),
    )
    .await;
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let access = param(&loc, "access_token").unwrap();
    let claims = payload(&param(&loc, "id_token").unwrap());
    assert_eq!(claims["at_hash"], half(&access));
    assert_eq!(param(&loc, "token_type").as_deref(), Some("Bearer"));
    // Implicit needs a nonce.
    let no_nonce = url_for(&p, "rs256-basic", "id_token token", &[]).replace("&nonce=nonce-1", "");
    let res = b.get(no_nonce).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn form_post_answers_with_an_auto_submitting_form_to_the_client_only() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "formpost@example.com").await;
    let b = browser();
    let res = approve(
        &p,
        &mut device,
        &b,
        &url_for(&p, "rs256-basic", "code", &[("response_mode", "form_post")]),
    )
    .await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("form-action http://127.0.0.1:9"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"code\""));
    assert!(html.contains("name=\"iss\""));
    assert!(html.contains("name=\"state\" value=\"s\""));
}

#[tokio::test]
async fn a_remembered_device_gets_the_next_sign_in_pushed_by_itself() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "remember@example.com").await;
    let b = browser();
    let url = url_for(&p, "rs256-basic", "code", &[])
        .replace("scope=openid+email", "scope=openid+email+aq%3Apush");
    let page = open_sign_in(&p, &b, &url).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let push_token = jwt::sign_self(
        Claims::new(PushToken {})
            .audience(format!("{}/sign-in", p.url))
            .valid_for(now(), 30 * 24 * 3600),
        &device.key,
    )
    .unwrap();
    let mut claims = Map::new();
    claims.insert("email".into(), json!(device.email));
    let answer = SignInResponse {
        decision: Decision::Approve,
        nonce: req.nonce.clone(),
        number: Some(page.number),
        scope: "openid email aq:push".into(),
        claims,
        grants: vec![device.grant.clone()],
        push_token: Some(push_token),
        report: false,
    };
    let t = jwt::sign_self(
        Claims::new(answer)
            .audience(req.session.clone())
            .valid_for(now(), 60),
        &device.key,
    )
    .unwrap();
    assert_eq!(device.send(&req, t).await.status(), 200);
    let res = b
        .get(format!("{}/sign-in/{}/continue", p.url, page.sid))
        .send()
        .await
        .unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("aq_push_"))
        .expect("a push cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    // Next time, with prompt=login (no silent SSO), the device is asked by itself,
    // and number matching still applies.
    let again = open_sign_in(&p, &b, &format!("{url}&prompt=login")).await;
    let req = device.next_request(&p).await;
    assert!(req.numbers.contains(&again.number));
    assert!(req.session.ends_with(&again.sid));
}

#[tokio::test]
async fn sign_in_attempts_per_ip_are_limited() {
    let p = provider().await;
    let b = browser();
    let url = url_for(&p, "rs256-basic", "code", &[]);
    let limit = p.state.config.rate.sign_ins_per_ip_per_minute;
    for _ in 0..limit {
        assert_eq!(b.get(&url).send().await.unwrap().status(), 303);
    }
    let res = b.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("temporarily_unavailable")
    );
}

#[tokio::test]
async fn pushes_to_a_key_are_limited_against_push_bombing() {
    let p = provider().await;
    let device = Device::enrol(&p, "bomb@example.com").await;
    let b = browser();
    let limit = p.state.config.rate.pushes_per_key_per_minute;
    let url = url_for(&p, "rs256-basic", "code", &[]);
    let mut sent = 0;
    for _ in 0..limit + 3 {
        let page = open_sign_in(&p, &b, &url).await;
        send_to_device(&p, &b, &page, &device.email).await;
        sent += 1;
    }
    assert_eq!(sent, limit + 3);
    // Only `limit` events were stored for the device.
    let pk = device.pk.clone();
    let now = now();
    let events = p
        .state
        .db
        .call(move |s| s.events_after(&pk, 0, now))
        .await
        .unwrap();
    let sign_ins = events.iter().filter(|e| e.kind == "sign-in").count();
    assert_eq!(sign_ins as u32, limit);
}
