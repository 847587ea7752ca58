//! The provider with the test clients, and a browser (the device and the
//! provider itself are `crate::support`).

use authentiq_server::oidc::clients::{AuthMethod, Client, SubjectType};

pub use crate::support::device::Device;
pub use crate::support::provider::{Provider, now};

pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
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
        ],
        id_token_signed_response_alg: alg.into(),
        subject_type: SubjectType::Pairwise,
    }
}

/// The provider with one client per signing algorithm and auth method.
pub async fn provider() -> Provider {
    Provider::start_with(|c| {
        c.clients = vec![
            client("rs256-basic", "RS256", AuthMethod::ClientSecretBasic),
            client("eddsa-post", "EdDSA", AuthMethod::ClientSecretPost),
            client("es256-basic", "ES256", AuthMethod::ClientSecretBasic),
            client("hs256-basic", "HS256", AuthMethod::ClientSecretBasic),
            client("public-pkce", "RS256", AuthMethod::None),
        ];
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
