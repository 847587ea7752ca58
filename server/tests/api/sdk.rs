//! Single-use SDK tokens (seed 003): minting with client credentials,
//! spending on one operation, the result fetched once.

use authentiq_protocol::jwt::Claims;
use authentiq_protocol::payloads::{ClaimScope, Decision, SignInResponse};
use authentiq_server::oidc::clients::SdkFlow;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const ID: &str = "sdk-rp";

fn client() -> authentiq_server::oidc::clients::Client {
    let mut c = test_client(ID);
    c.id_token_signed_response_alg = "RS256".into();
    c.sdk_flows = vec![SdkFlow {
        slug: "kyc".into(),
        scope: "email~rs".into(),
    }];
    c
}

async fn server() -> TestServer {
    TestServer::start_with(|c| c.clients = vec![client()]).await
}

impl TestServer {
    async fn mint(&self, path: &str, slug: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url(path))
            .basic_auth(ID, Some(CLIENT_SECRET));
        if let Some(s) = slug {
            req = req.header("AQ-Flow-Slug", s);
        }
        req.send().await.unwrap()
    }

    async fn token(&self) -> String {
        let res = self
            .mint("/mobile-sdk/verification-token", Some("kyc"))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["accessToken"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn start_sdk(&self, token: &str) -> reqwest::Response {
        self.http
            .post(self.url("/mobile-sdk/sessions"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn result(&self, sid: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/mobile-sdk/sessions/{sid}/result")))
            .basic_auth(ID, Some(CLIENT_SECRET))
            .send()
            .await
            .unwrap()
    }
}

async fn sdk_error(res: reqwest::Response, status: u16, code: &str) {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["errorMessage"].is_string(), "{body}");
}

/// The request behind a session URI, as the app reads it after a scan.
async fn fetch_request(s: &TestServer, session_uri: &str) -> Value {
    let jwt = s
        .http
        .get(session_uri)
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    jwt_payload(&jwt)
}

/// The device's signed answer.
fn answer(d: &Device, req: &Value, number: u16, grants: Vec<String>, decision: Decision) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert("email".into(), json!("sdk@example.com"));
    d.sign(
        Claims::new(SignInResponse {
            decision,
            nonce: req["nonce"].as_str().unwrap().into(),
            number: Some(number),
            scope: "openid email".into(),
            claims,
            grants,
            push_token: None,
            report: false,
        })
        .audience(req["session"].as_str().unwrap())
        .valid_for(now(), 60),
    )
}

#[tokio::test]
async fn minting_errors_are_the_seeds() {
    let s = server().await;
    sdk_error(
        s.get("/mobile-sdk/verification-token").await,
        401,
        "API_KEYS_MISSING",
    )
    .await;
    let res = s
        .http
        .get(s.url("/mobile-sdk/verification-token"))
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    sdk_error(res, 401, "API_KEYS_MISSING").await;
    let res = s
        .http
        .get(s.url("/mobile-sdk/verification-token"))
        .basic_auth(ID, Some("wrong"))
        .send()
        .await
        .unwrap();
    sdk_error(res, 401, "INVALID_API_KEYS").await;
    sdk_error(
        s.mint("/mobile-sdk/verification-token", Some("nope")).await,
        404,
        "FLOW_NOT_FOUND",
    )
    .await;
    sdk_error(
        s.mint("/mobile-sdk/face-authentication-token", None).await,
        400,
        "SUB_REQUIRED",
    )
    .await;
    sdk_error(
        s.mint("/mobile-sdk/face-authentication-token?sub=nobody", None)
            .await,
        404,
        "SUBJECT_NOT_FOUND",
    )
    .await;
    // The token: a UUID; the deprecated path says it is.
    let res = s.mint("/mobile-sdk/verification-token", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t = res.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.len(), 36);
    let res = s.mint("/mobile-sdk/token", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["deprecation"], "true");
    let res = s
        .http
        .get(s.url("/mobile-sdk/verification-token"))
        .basic_auth(ID, Some(CLIENT_SECRET))
        .header("AQ-Multi-Document-Flow", "On")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the deprecated header is accepted"
    );
}

#[tokio::test]
async fn minting_is_rate_limited_per_client() {
    let s = TestServer::start_with(|c| {
        c.clients = vec![client()];
        c.sdk.mints_per_client_per_minute = 2;
    })
    .await;
    s.token().await;
    s.token().await;
    let res = s.mint("/mobile-sdk/verification-token", None).await;
    assert!(res.headers().contains_key("retry-after"));
    sdk_error(res, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn a_deactivated_account_mints_nothing() {
    let s = TestServer::start().await;
    let mut c = client();
    c.owner = Some("acct".into());
    let data = serde_json::to_string(&c).unwrap();
    s.state
        .db
        .call(move |st| {
            st.insert_account(&authentiq_server::store::Account {
                id: "acct".into(),
                email: "owner@example.com".into(),
                password_hash: "x".into(),
                role: "user".into(),
                deactivated_at: Some(1),
                authentiq_pk: None,
                created_at: 1,
            })?;
            st.insert_client(ID, &data, Some("acct"), now())
        })
        .await
        .unwrap();
    sdk_error(
        s.mint("/mobile-sdk/verification-token", None).await,
        403,
        "ACCOUNT_DEACTIVATED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_is_good_for_one_operation_once_and_for_a_while() {
    let s = server().await;
    sdk_error(
        s.http
            .post(s.url("/mobile-sdk/sessions"))
            .send()
            .await
            .unwrap(),
        401,
        "TOKEN_MISSING",
    )
    .await;
    sdk_error(s.start_sdk("made-up").await, 401, "INVALID_TOKEN").await;
    let t = s.token().await;
    assert_eq!(s.start_sdk(&t).await.status(), StatusCode::CREATED);
    sdk_error(s.start_sdk(&t).await, 409, "TOKEN_ALREADY_USED").await;
    // Two uses at once: exactly one.
    for _ in 0..5 {
        let t = s.token().await;
        let (a, b) = tokio::join!(s.start_sdk(&t), s.start_sdk(&t));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409]);
    }
    // Expired.
    let t = s.token().await;
    s.state.clock.advance(601);
    sdk_error(s.start_sdk(&t).await, 410, "TOKEN_EXPIRED").await;
}

#[tokio::test]
async fn a_verification_ends_in_a_signed_result_fetched_once() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let grant = s.verify(&d, ClaimScope::Email, "sdk@example.com").await;
    let t = s.token().await;
    let res = s.start_sdk(&t).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.unwrap();
    let sid = started["sessionId"].as_str().unwrap().to_string();
    assert!(
        started["deepLink"]
            .as_str()
            .unwrap()
            .starts_with("authentiq://sign-in?session=")
    );
    assert!(started["qrCodeSvg"].as_str().unwrap().contains("<svg"));
    // Not answered yet.
    assert_eq!(s.result(&sid).await.status(), StatusCode::ACCEPTED);
    let status: Value = s
        .get(&format!("/mobile-sdk/sessions/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "pending");
    // The user's app scans it: a verification, for the flow's claims.
    let req = fetch_request(&s, started["sessionUri"].as_str().unwrap()).await;
    assert_eq!(req["purpose"], "verification");
    assert_eq!(req["scope"], "openid email~rs");
    let number = started["number"].as_u64().unwrap() as u16;
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer(&d, &req, number, vec![grant], Decision::Approve),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // The backend fetches the result: signed, verifiable with /jwks, once.
    let res = s.result(&sid).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "approved");
    let jwt = body["result"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("sdk-result+jwt"));
    let jwks: Value = s.get("/jwks").await.json().await.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[ID]);
    v.set_issuer(&[s.url.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v).unwrap().claims;
    assert_eq!(claims["email"], "sdk@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(
        claims["sub"].is_string() && claims["sub"] != d.pk.as_str(),
        "pairwise"
    );
    assert!(claims["auth_time"].is_number() && claims["sdk_token"].is_string());
    sdk_error(s.result(&sid).await, 410, "RESULT_ALREADY_FETCHED").await;
    let status: Value = s
        .get(&format!("/mobile-sdk/sessions/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "approved");
}

#[tokio::test]
async fn a_face_authentication_goes_to_the_known_users_device_only() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    // The client signed this user in before, and knows them by this sub.
    let pk = d.pk.clone();
    s.state
        .db
        .call(move |st| st.remember_subject(ID, "the-sub-it-knows", &pk, now()))
        .await
        .unwrap();
    let mut channel = SseReader::new(open_channel(&s, &d, None).await);
    let res = s
        .mint(
            "/mobile-sdk/face-authentication-token?sub=the-sub-it-knows",
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let t = res.json::<Value>().await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let started: Value = s.start_sdk(&t).await.json().await.unwrap();
    let sid = started["sessionId"].as_str().unwrap().to_string();
    // Pushed at once, worded as a re-authentication.
    let ev = channel.next_within(5).await.expect("the push");
    let pushed = jwt_payload(&ev.data);
    assert_eq!(pushed["event"], "sign-in");
    assert_eq!(pushed["purpose"], "reauthentication");
    assert_eq!(pushed["session"], started["sessionUri"]);
    // Another key cannot answer for them.
    let other = Device::new();
    s.register(&other).await;
    let number = started["number"].as_u64().unwrap() as u16;
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer(&other, &pushed, number, vec![], Decision::Approve),
        )
        .await;
    assert_problem(res, 401, "auth-error").await;
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer(&d, &pushed, number, vec![], Decision::Approve),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = s.result(&sid).await.json().await.unwrap();
    let claims = jwt_payload(body["result"].as_str().unwrap());
    assert_eq!(claims["purpose"], "reauthentication");
    assert!(claims["sub"].is_string());
}

#[tokio::test]
async fn a_denial_is_a_result_too() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let started: Value = s.start_sdk(&s.token().await).await.json().await.unwrap();
    let sid = started["sessionId"].as_str().unwrap().to_string();
    let req = fetch_request(&s, started["sessionUri"].as_str().unwrap()).await;
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer(&d, &req, 0, vec![], Decision::Deny),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = s.result(&sid).await.json().await.unwrap();
    assert_eq!(body["status"], "denied");
    assert!(body.get("result").is_none());
}
