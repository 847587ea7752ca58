//! The owners' dashboard at `/dashboard`, as a browser uses it: forms
//! posted with the session cookie and the CSRF token of the page. This
//! file is the browser and the helpers; the tests are in [`sign_in`]
//! (sessions, CSRF, the account page), [`authentiq`] (signing in with an
//! Authentiq ID, linking one), [`admin`] and [`clients`].

mod admin;
mod authentiq;
mod clients;
mod sign_in;

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::*;

const PW: &str = "a good long password";

/// A browser without script: a cookie jar, no redirects followed.
struct Browser<'a> {
    s: &'a TestServer,
    http: reqwest::Client,
    jar: Mutex<HashMap<String, String>>,
}

/// A response, read.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body with the template's entities decoded (`/` is `&#x2f;`).
    fn text(&self) -> String {
        self.body
            .replace("&#x2f;", "/")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    /// The CSRF token of the page's (first) form.
    fn csrf(&self) -> String {
        between(&self.body, "name=\"csrf\" value=\"", "\"").to_string()
    }

    fn set_cookie(&self, name: &str) -> String {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie set"))
            .to_string()
    }
}

/// The text between `start` and the next `end` in `s`.
fn between<'s>(s: &'s str, start: &str, end: &str) -> &'s str {
    let from = s
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in the page:\n{s}"))
        + start.len();
    let len = s[from..].find(end).unwrap();
    &s[from..from + len]
}

impl<'a> Browser<'a> {
    fn new(s: &'a TestServer) -> Self {
        Self {
            s,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Mutex::new(HashMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    fn set(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    async fn read(&self, res: reqwest::Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if attrs.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        Page {
            status,
            headers,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        let res = self
            .http
            .get(self.s.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(self.s.url(path))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.read(res).await
    }

    /// Signs in (the account must exist); the clients page.
    async fn sign_in(&self, email: &str) -> Page {
        let form = self.get("/dashboard").await;
        assert_eq!(form.status, StatusCode::OK);
        let res = self
            .post(
                "/dashboard/sign-in",
                &[("csrf", &form.csrf()), ("email", email), ("password", PW)],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(res.location(), "/dashboard/clients");
        let page = self.get("/dashboard/clients").await;
        assert_eq!(page.status, StatusCode::OK);
        page
    }
}

/// Registers an account through the accounts API; `admin` makes it one.
async fn account(s: &TestServer, email: &str, admin: bool) -> String {
    let res = s
        .http
        .post(s.url("/authentiq/v1/user/register"))
        .json(&json!({ "email": email, "password": PW }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    if admin {
        set_role(s, &id, "admin").await;
    }
    id
}

async fn set_role(s: &TestServer, id: &str, role: &str) {
    let role = role.to_string();
    change_account(s, id, move |a| a.role = role).await;
}

/// The account as stored.
async fn stored_account(s: &TestServer, id: &str) -> authentiq_server::store::Account {
    let id = id.to_string();
    s.state
        .db
        .call(move |st| st.get_account(&id))
        .await
        .unwrap()
}

/// Changes the stored account with `change`.
async fn change_account(
    s: &TestServer,
    id: &str,
    change: impl FnOnce(&mut authentiq_server::store::Account) + Send + 'static,
) {
    let id = id.to_string();
    s.state
        .db
        .call(move |st| {
            let mut a = st.get_account(&id)?;
            change(&mut a);
            st.update_account(&a)
        })
        .await
        .unwrap();
}

async fn role_of(s: &TestServer, id: &str) -> String {
    stored_account(s, id).await.role
}

/// What `/token` says to `client_id` with `secret` (an unknown refresh
/// token: `invalid_grant` once authenticated, `invalid_client` if not).
async fn token_error(s: &TestServer, client_id: &str, secret: &str) -> Value {
    s.http
        .post(s.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["error"]
        .clone()
}

fn assert_strict_page(p: &Page) {
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self'")
            && csp.contains("style-src 'self'")
            && csp.contains("form-action 'self'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        p.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
    );
    // Raw markup: a `<script` anywhere else would be an injection.
    for tag in p.body.split("<script").skip(1) {
        assert!(
            tag.trim_start()
                .starts_with("src=\"&#x2f;static&#x2f;dashboard.js?v="),
            "only the dashboard's own script: {tag}"
        );
    }
    assert!(!p.body.contains("style=\""), "no inline style");
}

/// Creates a client from the dashboard; its id and secret from the page.
async fn create(b: &Browser<'_>, csrf: &str, name: &str) -> (String, String, Page) {
    let p = b
        .post(
            "/dashboard/clients",
            &[
                ("csrf", csrf),
                ("name", name),
                (
                    "redirect_uris",
                    "https://shop.example/cb\r\nhttps://shop.example/cb2",
                ),
                ("auth_method", "client_secret_basic"),
                ("alg", "EdDSA"),
                ("subject_type", "pairwise"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let id = between(&p.body, "<code id=\"client-id\">", "<").to_string();
    let secret = between(
        &p.body,
        "<code id=\"client-secret\" class=\"dash-secret\">",
        "<",
    )
    .to_string();
    (id, secret, p)
}
