//! CIBA (OpenID Connect Client-Initiated Backchannel Authentication Core
//! 1.0): `/bc-authorize` names a user the client already signed in, the
//! request is pushed to their device without number matching, and the
//! client polls `/token` — or is pinged, in ping mode.

use authentiq_protocol::jwt::Claims;
use authentiq_protocol::payloads::{Decision, SignInResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

pub const ID: &str = "ciba-rp";
pub const GRANT: &str = "urn:openid:params:grant-type:ciba";

async fn server_with(
    tweak: impl FnOnce(&mut authentiq_server::oidc::clients::Client),
) -> TestServer {
    let mut c = test_client(ID);
    c.grant_types = vec![GRANT.into(), "refresh_token".into()];
    c.redirect_uris = vec![];
    c.response_types = vec![];
    tweak(&mut c);
    TestServer::start_with(|cfg| cfg.clients = vec![c]).await
}

/// A registered device whose user the client knows (by the sub it was
/// given when it signed them in), its channel, and that sub.
pub async fn known_user(s: &TestServer) -> (Device, SseReader, String) {
    let d = Device::new();
    s.register(&d).await;
    let client = authentiq_server::oidc::clients::find(&s.state, ID)
        .await
        .unwrap()
        .unwrap();
    let sub = authentiq_server::oidc::tokens::subject(&s.state, &client, &d.pk);
    let (pk, owned) = (d.pk.clone(), sub.clone());
    s.state
        .db
        .call(move |st| st.remember_subject(ID, &owned, &pk, now()))
        .await
        .unwrap();
    let channel = SseReader::new(open_channel(s, &d, None).await);
    (d, channel, sub)
}

impl TestServer {
    async fn bc_authorize(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/bc-authorize"))
            .basic_auth(ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn poll_ciba(&self, auth_req_id: &str) -> reqwest::Response {
        self.http
            .post(self.url("/token"))
            .basic_auth(ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", GRANT), ("auth_req_id", auth_req_id)])
            .send()
            .await
            .unwrap()
    }
}

pub async fn oauth_error(res: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

/// The device's answer to a pushed request: no number when it is backchannel.
pub fn answer_pushed(d: &Device, req: &Value, number: Option<u16>, decision: Decision) -> String {
    d.sign(
        Claims::new(SignInResponse {
            decision,
            nonce: req["nonce"].as_str().unwrap().into(),
            number,
            scope: "openid".into(),
            claims: Default::default(),
            grants: vec![],
            push_token: None,
            report: false,
        })
        .audience(req["session"].as_str().unwrap())
        .valid_for(now(), 60),
    )
}

fn sid_of(req: &Value) -> String {
    req["session"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn poll_mode_pushes_without_a_number_and_issues_tokens_once() {
    let s = server_with(|_| {}).await;
    let (d, mut channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    let res = s
        .bc_authorize(&[
            ("scope", "openid"),
            ("login_hint", sub),
            ("binding_message", "Order 1234"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let started: Value = res.json().await.unwrap();
    let id = started["auth_req_id"].as_str().unwrap().to_string();
    assert!(id.len() >= 40, "{started}");
    assert_eq!(started["expires_in"], 300);
    assert_eq!(started["interval"], 5);

    let ev = channel.next_within(5).await.expect("the push");
    let req = jwt_payload(&ev.data);
    assert_eq!(req["event"], "sign-in");
    assert_eq!(req["backchannel"], true);
    assert_eq!(req["binding_message"], "Order 1234");

    oauth_error(s.poll_ciba(&id).await, 400, "authorization_pending").await;
    // Again at once: too fast.
    oauth_error(s.poll_ciba(&id).await, 400, "slow_down").await;

    let sid = sid_of(&req);
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer_pushed(&d, &req, None, Decision::Approve),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // The interval grew to 10 s after the slow_down.
    s.state.clock.advance(11);
    let res = s.poll_ciba(&id).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], sub);
    assert_eq!(id_token["aud"], ID);
    // The grant is spent.
    s.state.clock.advance(11);
    oauth_error(s.poll_ciba(&id).await, 400, "invalid_grant").await;
    // The access token works at /userinfo.
    let info: Value = s
        .http
        .get(s.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], sub);
}

#[tokio::test]
async fn a_denial_is_access_denied_and_an_unanswered_request_expires() {
    let s = server_with(|_| {}).await;
    let (d, mut channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    let started: Value = s
        .bc_authorize(&[("scope", "openid"), ("login_hint", sub)])
        .await
        .json()
        .await
        .unwrap();
    let id = started["auth_req_id"].as_str().unwrap();
    let req = jwt_payload(&channel.next_within(5).await.unwrap().data);
    assert_eq!(req["backchannel"], true);
    assert!(req.get("binding_message").is_none());
    let sid = sid_of(&req);
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer_pushed(&d, &req, None, Decision::Deny),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    oauth_error(s.poll_ciba(id).await, 400, "access_denied").await;

    // A short requested_expiry, not answered.
    let started: Value = s
        .bc_authorize(&[
            ("scope", "openid"),
            ("login_hint", sub),
            ("requested_expiry", "30"),
        ])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(started["expires_in"], 30);
    let id = started["auth_req_id"].as_str().unwrap();
    s.state.clock.advance(31);
    oauth_error(s.poll_ciba(id).await, 400, "expired_token").await;
}

#[tokio::test]
async fn bad_requests_get_the_ciba_errors() {
    let s = server_with(|_| {}).await;
    let (_d, _channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    for (form, status, error) in [
        (vec![("scope", "openid")], 400, "invalid_request"),
        (
            vec![("scope", "openid"), ("login_hint", "nobody")],
            400,
            "unknown_user_id",
        ),
        (
            vec![("scope", "email"), ("login_hint", sub)],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", sub),
                ("id_token_hint", "x.y.z"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![("scope", "openid"), ("login_hint_token", "x")],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", sub),
                ("binding_message", &"x".repeat(65)),
            ],
            400,
            "invalid_binding_message",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", sub),
                ("binding_message", "line\nbreak"),
            ],
            400,
            "invalid_binding_message",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", sub),
                ("requested_expiry", "9999"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", sub),
                ("user_code", "1234"),
            ],
            400,
            "invalid_request",
        ),
    ] {
        let body = oauth_error(s.bc_authorize(&form).await, status, error).await;
        assert!(body["error_description"].is_string(), "{body}");
    }
    // Unauthenticated, or with a wrong secret.
    let res = s
        .http
        .post(s.url("/bc-authorize"))
        .form(&[("scope", "openid"), ("login_hint", sub), ("client_id", ID)])
        .send()
        .await
        .unwrap();
    oauth_error(res, 401, "invalid_client").await;
    let res = s
        .http
        .post(s.url("/bc-authorize"))
        .basic_auth(ID, Some("wrong"))
        .form(&[("scope", "openid"), ("login_hint", sub)])
        .send()
        .await
        .unwrap();
    oauth_error(res, 401, "invalid_client").await;
    // Another client's auth_req_id is not this one's.
    oauth_error(s.poll_ciba("made-up").await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_client_without_the_grant_type_may_not_use_it() {
    let s = server_with(|c| {
        c.grant_types = vec!["authorization_code".into()];
        c.redirect_uris = vec![REDIRECT.into()];
    })
    .await;
    let (_d, _channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    oauth_error(
        s.bc_authorize(&[("scope", "openid"), ("login_hint", sub)])
            .await,
        400,
        "unauthorized_client",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_hint_names_the_user_too() {
    let s = server_with(|_| {}).await;
    let (d, mut channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    // Get an ID token through CIBA first, then use it as the hint.
    let started: Value = s
        .bc_authorize(&[("scope", "openid"), ("login_hint", sub)])
        .await
        .json()
        .await
        .unwrap();
    let req = jwt_payload(&channel.next_within(5).await.unwrap().data);
    s.post_jwt(
        &format!("/sign-in/{}", sid_of(&req)),
        &answer_pushed(&d, &req, None, Decision::Approve),
    )
    .await;
    let tokens: Value = s
        .poll_ciba(started["auth_req_id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    let res = s
        .bc_authorize(&[("scope", "openid"), ("id_token_hint", hint)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let again = jwt_payload(&channel.next_within(5).await.unwrap().data);
    assert_eq!(again["backchannel"], true);
}

#[tokio::test]
async fn a_revoked_key_is_an_unknown_user() {
    let s = server_with(|_| {}).await;
    let (d, _channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    let pk = d.pk.clone();
    s.state
        .db
        .call(move |st| st.revoke_key(&pk, now()))
        .await
        .unwrap();
    oauth_error(
        s.bc_authorize(&[("scope", "openid"), ("login_hint", sub)])
            .await,
        400,
        "unknown_user_id",
    )
    .await;
}

#[tokio::test]
async fn ping_mode_tells_the_client_with_its_token() {
    use axum::routing::post;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Option<String>, Value)>();
    let app = axum::Router::new().route(
        "/ping",
        post(
            move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let tx = tx.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let _ = tx.send((auth, body.0));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/ping", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let s = server_with(|c| {
        c.backchannel_token_delivery_mode = Some("ping".into());
        c.backchannel_client_notification_endpoint = Some(endpoint);
    })
    .await;
    let (d, mut channel, sub) = known_user(&s).await;
    let sub = sub.as_str();
    // Ping mode needs the client's token.
    oauth_error(
        s.bc_authorize(&[("scope", "openid"), ("login_hint", sub)])
            .await,
        400,
        "invalid_request",
    )
    .await;
    let started: Value = s
        .bc_authorize(&[
            ("scope", "openid"),
            ("login_hint", sub),
            ("client_notification_token", "tok-8d6f1b2e"),
        ])
        .await
        .json()
        .await
        .unwrap();
    assert!(started.get("interval").is_none(), "{started}");
    let id = started["auth_req_id"].as_str().unwrap();
    let req = jwt_payload(&channel.next_within(5).await.unwrap().data);
    s.post_jwt(
        &format!("/sign-in/{}", sid_of(&req)),
        &answer_pushed(&d, &req, None, Decision::Approve),
    )
    .await;
    let (auth, body) = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("the ping")
        .unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer tok-8d6f1b2e"));
    assert_eq!(body, json!({ "auth_req_id": id }));
    let res = s.poll_ciba(id).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// A registered device with a verified, bound email, and its channel.
async fn user_with_email(s: &TestServer, email: &str) -> (Device, SseReader) {
    use authentiq_protocol::payloads::ClaimScope;
    let d = Device::new();
    s.register(&d).await;
    s.verify(&d, ClaimScope::Email, email).await;
    let res = s
        .put_jwt(&format!("/key/{}", d.pk), &d.binding(Some(email), None))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let channel = SseReader::new(open_channel(s, &d, None).await);
    (d, channel)
}

/// The next sign-in pushed on `channel` (skipping the claim events that
/// verifying the email left there).
async fn next_sign_in(channel: &mut SseReader, secs: u64) -> Option<Value> {
    while let Some(ev) = channel.next_within(secs).await {
        if ev.event.as_deref() == Some("sign-in") {
            return Some(jwt_payload(&ev.data));
        }
    }
    None
}

/// An unsigned JWT (`alg: none`) with these claims, as a login_hint_token.
fn hint_token(claims: Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims))
}

#[tokio::test]
async fn a_verified_email_names_the_user_and_an_unknown_one_gets_the_same_answer() {
    let s = server_with(|_| {}).await;
    let (d, mut channel) = user_with_email(&s, "ciba@example.com").await;
    // Any case: addresses are compared normalised.
    let res = s
        .bc_authorize(&[("scope", "openid"), ("login_hint", "CIBA@Example.com")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let known: Value = res.json().await.unwrap();
    let req = next_sign_in(&mut channel, 5).await.expect("the push");
    assert_eq!(req["backchannel"], true);

    // Nobody has this address: the same answer, no push, and it expires.
    let res = s
        .bc_authorize(&[("scope", "openid"), ("login_hint", "nobody@example.com")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let unknown: Value = res.json().await.unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known), keys(&unknown));
    assert_eq!(known["expires_in"], unknown["expires_in"]);
    assert_eq!(
        known["auth_req_id"].as_str().unwrap().len(),
        unknown["auth_req_id"].as_str().unwrap().len()
    );
    let unknown_id = unknown["auth_req_id"].as_str().unwrap();
    oauth_error(s.poll_ciba(unknown_id).await, 400, "authorization_pending").await;
    assert!(
        channel.next_within(1).await.is_none(),
        "nothing else pushed"
    );

    // The known one is approved and yields the user's tokens.
    let res = s
        .post_jwt(
            &format!("/sign-in/{}", sid_of(&req)),
            &answer_pushed(&d, &req, None, Decision::Approve),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    s.state.clock.advance(6);
    let res = s.poll_ciba(known["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    let client = authentiq_server::oidc::clients::find(&s.state, ID)
        .await
        .unwrap()
        .unwrap();
    let sub = authentiq_server::oidc::tokens::subject(&s.state, &client, &d.pk);
    assert_eq!(
        jwt_payload(tokens["id_token"].as_str().unwrap())["sub"],
        sub
    );

    // The unknown one never completes.
    s.state.clock.advance(300);
    oauth_error(s.poll_ciba(unknown_id).await, 400, "expired_token").await;

    // A revoked key's address is unknown too (the same answer).
    let pk = d.pk.clone();
    s.state
        .db
        .call(move |st| st.revoke_key(&pk, now()))
        .await
        .unwrap();
    let res = s
        .bc_authorize(&[("scope", "openid"), ("login_hint", "ciba@example.com")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Not an address at all.
    oauth_error(
        s.bc_authorize(&[("scope", "openid"), ("login_hint", "a@b@c")])
            .await,
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_login_hint_token_names_the_user_by_an_rfc_9493_subject_identifier() {
    let s = server_with(|_| {}).await;
    let (_d, mut channel, sub) = known_user(&s).await;
    let (_e, mut by_mail) = user_with_email(&s, "token@example.com").await;
    let issuer = s.state.config.base_url().to_string();
    let later = now() + 300;

    for (sub_id, pushed_to_first) in [
        (
            json!({"format": "iss_sub", "iss": issuer, "sub": sub}),
            true,
        ),
        (json!({"format": "opaque", "id": sub}), true),
        (
            json!({"format": "email", "email": "token@example.com"}),
            false,
        ),
    ] {
        let token = hint_token(json!({"sub_id": sub_id, "exp": later}));
        let res = s
            .bc_authorize(&[("scope", "openid"), ("login_hint_token", &token)])
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{sub_id}");
        let reader = if pushed_to_first {
            &mut channel
        } else {
            &mut by_mail
        };
        let req = next_sign_in(reader, 5).await.expect("the push");
        assert_eq!(req["backchannel"], true, "{sub_id}");
    }

    let expired = hint_token(json!({
        "sub_id": {"format": "opaque", "id": sub}, "exp": now() - 1
    }));
    let other_issuer = hint_token(json!({
        "sub_id": {"format": "iss_sub", "iss": "https://elsewhere.example", "sub": sub}
    }));
    let unknown_sub = hint_token(json!({"sub_id": {"format": "opaque", "id": "nobody"}}));
    let no_sub_id = hint_token(json!({"sub": sub}));
    let phone = hint_token(json!({"sub_id": {"format": "phone_number", "phone_number": "+1"}}));
    for (token, status, error) in [
        (expired.as_str(), 400, "expired_login_hint_token"),
        (other_issuer.as_str(), 400, "invalid_request"),
        (unknown_sub.as_str(), 400, "unknown_user_id"),
        (no_sub_id.as_str(), 400, "invalid_request"),
        (phone.as_str(), 400, "invalid_request"),
        ("not a jwt", 400, "invalid_request"),
    ] {
        oauth_error(
            s.bc_authorize(&[("scope", "openid"), ("login_hint_token", token)])
                .await,
            status,
            error,
        )
        .await;
    }
}
