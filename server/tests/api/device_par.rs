//! The device authorization grant (RFC 8628) and pushed authorization
//! requests (RFC 9126), with a browser played by reqwest.

use authentiq_protocol::payloads::Decision;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::ciba::{answer_pushed, oauth_error};
use crate::common::*;

const TV: &str = "tv-app";
const RP: &str = "par-rp";
const STRICT: &str = "par-only-rp";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn server() -> TestServer {
    use authentiq_server::oidc::clients::AuthMethod;
    let mut tv = test_client(TV);
    tv.token_endpoint_auth_method = AuthMethod::None;
    tv.client_secret_sha256 = None;
    tv.grant_types = vec![DEVICE_GRANT.into()];
    tv.redirect_uris = vec![];
    tv.response_types = vec![];
    let rp = test_client(RP);
    let mut strict = test_client(STRICT);
    strict.require_pushed_authorization_requests = true;
    TestServer::start_with(|c| {
        c.clients = vec![tv, rp, strict];
        c.rate.device_codes_per_ip_per_minute = 4;
    })
    .await
}

/// A browser: no redirects followed, cookies carried by hand.
struct Browser {
    http: reqwest::Client,
    cookies: Vec<String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: vec![],
        }
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for c in res.headers().get_all(SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let res = self
            .http
            .get(url)
            .header(COOKIE, self.cookies.join("; "))
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let res = self
            .http
            .post(url)
            .header(COOKIE, self.cookies.join("; "))
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        res
    }
}

/// The value of the hidden `csrf` field of a page.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// The number a sign-in page shows.
fn shown_number(html: &str) -> u16 {
    let at = html.find("id=\"aq-number\">").expect("a number") + 15;
    html[at..]
        .split('<')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn start_device(s: &TestServer) -> Value {
    let res = s
        .http
        .post(s.url("/device_authorization"))
        .form(&[("client_id", TV), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn poll_device(s: &TestServer, code: &str) -> reqwest::Response {
    s.http
        .post(s.url("/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", code),
            ("client_id", TV),
        ])
        .send()
        .await
        .unwrap()
}

/// Enters `code` at /device; the response to the POST.
async fn enter_code(s: &TestServer, b: &mut Browser, code: &str) -> reqwest::Response {
    let page = b.get(&s.url("/device")).await.text().await.unwrap();
    let csrf = csrf_field(&page);
    b.post(&s.url("/device"), &[("user_code", code), ("csrf", &csrf)])
        .await
}

#[tokio::test]
async fn a_device_is_signed_in_by_a_code_entered_in_a_browser() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let started = start_device(&s).await;
    let user_code = started["user_code"].as_str().unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{started}");
    assert_eq!(started["verification_uri"], s.url("/device"));
    assert_eq!(
        started["verification_uri_complete"],
        s.url(&format!("/device?user_code={user_code}"))
    );
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    oauth_error(
        poll_device(&s, device_code).await,
        400,
        "authorization_pending",
    )
    .await;

    // The browser: the complete URI fills the form in; lower case works.
    let mut b = Browser::new();
    let page = b
        .get(started["verification_uri_complete"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("value=\"{user_code}\"")));
    let res = enter_code(&s, &mut b, &user_code.to_lowercase()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/sign-in/"), "{to}");
    let sign_in = b.get(&s.url(&to)).await.text().await.unwrap();
    let number = shown_number(&sign_in);

    // The app scans the page's QR code: the request, with its number.
    let jwt = s
        .http
        .get(s.url(&to))
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let req = jwt_payload(&jwt);
    assert!(req.get("backchannel").is_none(), "number matching applies");
    // The wrong number denies it... so pick the right one.
    let res = s
        .post_jwt(
            &to,
            &answer_pushed(&d, &req, Some(number), Decision::Approve),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // The browser hears it went well; the device gets the tokens.
    let done = b.get(&s.url(&format!("{to}/continue"))).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("signed in on the device")
    );
    s.state.clock.advance(6);
    let res = poll_device(&s, device_code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    let id_token = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], TV);
    assert!(id_token["sub"].is_string());
    s.state.clock.advance(6);
    oauth_error(poll_device(&s, device_code).await, 400, "invalid_grant").await;

    // The code was used: entering it again is refused.
    let mut b2 = Browser::new();
    let res = enter_code(&s, &mut b2, user_code).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_wrong_number_or_a_denial_is_access_denied() {
    let s = server().await;
    let d = Device::new();
    s.register(&d).await;
    let started = start_device(&s).await;
    let mut b = Browser::new();
    let res = enter_code(&s, &mut b, started["user_code"].as_str().unwrap()).await;
    let to = res.headers()[LOCATION].to_str().unwrap().to_string();
    let jwt = s
        .http
        .get(s.url(&to))
        .header("accept", "application/jwt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let req = jwt_payload(&jwt);
    s.post_jwt(&to, &answer_pushed(&d, &req, None, Decision::Deny))
        .await;
    let res = poll_device(&s, started["device_code"].as_str().unwrap()).await;
    oauth_error(res, 400, "access_denied").await;
}

#[tokio::test]
async fn codes_are_checked_and_guesses_counted() {
    let s = server().await;
    let mut b = Browser::new();
    // No CSRF token: refused.
    let res = b
        .post(&s.url("/device"), &[("user_code", "BCDF-GHJK")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Wrong codes, until the limit (4 per minute here).
    for code in ["BCDF-GHJK", "not a code", "BCDF-GHJL"] {
        let res = enter_code(&s, &mut b, code).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{code}");
        assert!(res.text().await.unwrap().contains("not valid"));
    }
    let started = start_device(&s).await;
    // Even the right code, once the guesses are spent.
    enter_code(&s, &mut b, "BCDF-GHJM").await;
    let res = enter_code(&s, &mut b, started["user_code"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // Polling twice at once: too fast.
    let code = started["device_code"].as_str().unwrap();
    oauth_error(poll_device(&s, code).await, 400, "authorization_pending").await;
    oauth_error(poll_device(&s, code).await, 400, "slow_down").await;
    // Past its time: expired.
    s.state.clock.advance(601);
    oauth_error(poll_device(&s, code).await, 400, "expired_token").await;
    // Another client may not poll it.
    let res = s
        .http
        .post(s.url("/token"))
        .basic_auth(RP, Some(CLIENT_SECRET))
        .form(&[("grant_type", DEVICE_GRANT), ("device_code", code)])
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "invalid_grant").await;
    // A client without the grant may not start one.
    let res = s
        .http
        .post(s.url("/device_authorization"))
        .basic_auth(STRICT, Some(CLIENT_SECRET))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "empty grant_types allow every grant"
    );
    let res = s
        .http
        .post(s.url("/device_authorization"))
        .form(&[("client_id", TV), ("scope", "email")])
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "invalid_scope").await;
}

fn authorize_form(client: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", client.to_string()),
        ("response_type", "code".into()),
        ("scope", "openid".into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "st-1".into()),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        ),
        ("code_challenge_method", "S256".into()),
    ]
}

async fn push(s: &TestServer, client: &str, form: &[(&str, String)]) -> reqwest::Response {
    s.http
        .post(s.url("/par"))
        .basic_auth(client, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pushed_request_is_used_once_by_its_client() {
    let s = server().await;
    let res = push(&s, RP, &authorize_form(RP)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let pushed: Value = res.json().await.unwrap();
    let uri = pushed["request_uri"].as_str().unwrap().to_string();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{pushed}"
    );
    assert_eq!(pushed["expires_in"], 60);
    let authorize = |client: &str| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client)
            .append_pair("request_uri", &uri)
            .finish();
        s.url(&format!("/authorize?{q}"))
    };
    // Another client cannot use it (and it is spent by the try).
    let mut b = Browser::new();
    let res = b.get(&authorize(STRICT)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = push(&s, RP, &authorize_form(RP)).await;
    let uri: String = res.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .into();
    let q = format!("client_id={RP}&request_uri={}", urlencode(&uri));
    let res = b.get(&s.url(&format!("/authorize?{q}"))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/sign-in/")
    );
    // Once.
    let res = b.get(&s.url(&format!("/authorize?{q}"))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn pushed_requests_are_checked_when_pushed() {
    let s = server().await;
    let mut bad = authorize_form(RP);
    bad[3].1 = "https://evil.example/cb".into();
    oauth_error(push(&s, RP, &bad).await, 400, "invalid_request").await;
    let mut no_pkce = authorize_form(RP);
    no_pkce.truncate(5);
    oauth_error(push(&s, RP, &no_pkce).await, 400, "invalid_request").await;
    let mut bad_scope = authorize_form(RP);
    bad_scope[2].1 = "email".into();
    oauth_error(push(&s, RP, &bad_scope).await, 400, "invalid_scope").await;
    let mut nested = authorize_form(RP);
    nested.push(("request_uri", "urn:ietf:params:oauth:request_uri:x".into()));
    oauth_error(push(&s, RP, &nested).await, 400, "invalid_request").await;
    // Unauthenticated.
    let res = s
        .http
        .post(s.url("/par"))
        .form(&authorize_form(RP))
        .send()
        .await
        .unwrap();
    oauth_error(res, 401, "invalid_client").await;
    // A made-up reference.
    let mut b = Browser::new();
    let res = b
        .get(&s.url(&format!(
            "/authorize?client_id={RP}&request_uri={}",
            urlencode("urn:ietf:params:oauth:request_uri:made-up")
        )))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // A client that must push may not send a plain request.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(authorize_form(STRICT))
        .finish();
    let res = b.get(&s.url(&format!("/authorize?{q}"))).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = res.headers()[LOCATION].to_str().unwrap();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert!(to.contains("error=invalid_request"), "{to}");
    // ...but may push it.
    let res = push(&s, STRICT, &authorize_form(STRICT)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}
