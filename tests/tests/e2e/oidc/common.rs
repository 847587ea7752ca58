//! The provider with the test clients, and a browser (the device and the
//! provider itself are `crate::support`).

use authentiq_protocol::payloads::Decision;
use authentiq_server::config::Config;
use authentiq_server::oidc::clients::{AuthMethod, Client, SubjectType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use crate::support::device::Device;
pub use crate::support::provider::{Provider, Server, now};

pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// Registered for every test client as its post-logout redirect URI.
pub const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";
pub const SECRET: &str = "a-long-client-secret-for-the-tests-0123456789";

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
            "token".into(),
        ],
        id_token_signed_response_alg: alg.into(),
        subject_type: SubjectType::Pairwise,
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        ..Client::default()
    }
}

/// The provider with one client per signing algorithm and auth method.
pub async fn provider() -> Provider {
    provider_with(|_| {}).await
}

/// [`provider`], with its configuration changed by `configure`.
pub async fn provider_with(configure: impl FnOnce(&mut Config)) -> Provider {
    Provider::start_with(|c| {
        c.clients = vec![
            client("rs256-basic", "RS256", AuthMethod::ClientSecretBasic),
            client("eddsa-post", "EdDSA", AuthMethod::ClientSecretPost),
            client("es256-basic", "ES256", AuthMethod::ClientSecretBasic),
            client("hs256-basic", "HS256", AuthMethod::ClientSecretBasic),
            client("public-pkce", "RS256", AuthMethod::None),
            // Another sector (the host of its first redirect URI).
            Client {
                redirect_uris: vec!["http://rp2.localhost/cb".into(), REDIRECT.into()],
                ..client("other-sector", "EdDSA", AuthMethod::ClientSecretBasic)
            },
            Client {
                subject_type: SubjectType::Public,
                ..client("public-sub-a", "EdDSA", AuthMethod::ClientSecretBasic)
            },
            Client {
                subject_type: SubjectType::Public,
                ..client("public-sub-b", "EdDSA", AuthMethod::ClientSecretBasic)
            },
        ];
        configure(c);
    })
    .await
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

pub async fn open_sign_in(p: &impl Server, browser: &reqwest::Client, auth_url: &str) -> Page {
    let res = browser.get(auth_url).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let sid = loc.trim_start_matches("/sign-in/").to_string();
    let html = browser
        .get(format!("{}{loc}", p.url()))
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
pub async fn continue_to_client(
    p: &impl Server,
    browser: &reqwest::Client,
    page: &Page,
) -> url::Url {
    let res = browser
        .get(format!("{}/sign-in/{}/continue", p.url(), page.sid))
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

pub const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

pub fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

pub fn auth_url(p: &Provider, client_id: &str, extra: &[(&str, &str)]) -> String {
    let c = challenge();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email~rs")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", &c)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("{}/authorize?{}", p.url, q.finish())
}

/// Replaces parameters of a URL.
pub fn with(url: &str, key: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != key)
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(key, v);
        }
    }
    u.to_string()
}

/// Signs in all the way to the redirect; returns the code.
pub async fn approved_code(
    p: &Provider,
    device: &mut Device,
    client_id: &str,
) -> (String, reqwest::Client) {
    let browser = browser();
    let back = approve_in(
        p,
        device,
        &browser,
        &auth_url(p, client_id, &[]),
        "openid email",
    )
    .await;
    (param(&back, "code").unwrap(), browser)
}

/// Signs in at `url` in `browser`, the device sharing `scope`; returns
/// where the browser lands.
pub async fn approve_in(
    p: &Provider,
    device: &mut Device,
    browser: &reqwest::Client,
    url: &str,
    scope: &str,
) -> url::Url {
    let page = open_sign_in(p, browser, url).await;
    send_to_device(p, browser, &page, &device.email).await;
    let req = device.next_request(p).await;
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), scope),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    continue_to_client(p, browser, &page).await
}

/// The code exchanged (PKCE with [`VERIFIER`]) by a Basic-auth client.
pub async fn exchange(p: &Provider, client_id: &str, code: &str) -> Value {
    let res = token(p, &code_form(code, VERIFIER), Some((client_id, SECRET))).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub async fn token(
    p: &Provider,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/token", p.url))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.unwrap()
}

pub async fn oauth_error(res: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

pub fn code_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// npm `openid-client` (panva's certified relying-party library), one
/// command of `tests/interop/openid-client.mjs`; its JSON answer.
pub async fn openid_client(args: &[&str]) -> Value {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        authentiq_tests::node_json("openid-client.mjs", &args)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("openid-client: {e}"))
}

/// The sign-in page at `location` (`/sign-in/{sid}`, where `/authorize` or
/// `/device` sent the browser).
pub async fn sign_in_page(p: &Provider, browser: &reqwest::Client, location: &str) -> Page {
    let sid = location.trim_start_matches("/sign-in/").to_string();
    let html = browser
        .get(format!("{}{location}", p.url))
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
