//! The owners' dashboard at `/dashboard`, as a browser uses it: forms
//! posted with the session cookie and the CSRF token of the page.

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
    let (id, role) = (id.to_string(), role.to_string());
    s.state
        .db
        .call(move |st| {
            let mut a = st.get_account(&id)?;
            a.role = role;
            st.update_account(&a)
        })
        .await
        .unwrap();
}

async fn role_of(s: &TestServer, id: &str) -> String {
    let id = id.to_string();
    s.state
        .db
        .call(move |st| st.get_account(&id))
        .await
        .unwrap()
        .role
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

#[tokio::test]
async fn sign_in_session_cookie_and_sign_out() {
    let s = TestServer::start_with(|c| c.accounts.login_failures_per_account = 2).await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    // Not signed in: every screen sends to the sign-in page.
    for path in [
        "/dashboard/clients",
        "/dashboard/admin/accounts",
        "/dashboard/account",
    ] {
        let p = b.get(path).await;
        assert_eq!(
            (p.status, p.location()),
            (StatusCode::SEE_OTHER, "/dashboard"),
            "{path}"
        );
    }
    let form = b.get("/dashboard").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_strict_page(&form);
    let login_cookie = form.set_cookie("aq_dash_login");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(login_cookie.contains(attr), "{login_cookie}");
    }
    // A wrong password: the form again, 401.
    let p = b
        .post(
            "/dashboard/sign-in",
            &[
                ("csrf", &form.csrf()),
                ("email", "ann@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("The email or the password is not right."));
    assert!(b.cookie("aq_dash").is_none());
    // The right one: the session cookie, and the clients page.
    let page = b.sign_in("Ann@Example.com").await;
    assert!(page.body.contains("ann@example.com"));
    assert!(page.body.contains("My clients"));
    assert!(!page.body.contains("/dashboard/admin/"), "no admin links");
    assert_strict_page(&page);
    let token = b.cookie("aq_dash").unwrap();
    // The cookie is an account session: the API knows it.
    let res = s
        .http
        .get(s.url("/authentiq/v1/validate/token"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Sign out: the session ends, the cookie goes.
    let csrf = page.csrf();
    let p = b.post("/dashboard/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard")
    );
    assert!(p.set_cookie("aq_dash").contains("Max-Age=0"));
    assert!(b.cookie("aq_dash").is_none());
    b.set("aq_dash", &token);
    let p = b.get("/dashboard/clients").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "the old cookie is dead");
    // A password change through the API ends a dashboard session at once.
    let page = b.sign_in("ann@example.com").await;
    assert!(page.body.contains("ann@example.com"));
    let api = s
        .http
        .post(s.url("/authentiq/v1/user/login"))
        .json(&json!({ "email": "ann@example.com", "password": PW }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = s
        .http
        .put(s.url("/authentiq/v1/user/password"))
        .bearer_auth(&api)
        .json(&json!({ "password": PW, "newPassword": "another long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        b.get("/dashboard/clients").await.status,
        StatusCode::SEE_OTHER
    );
    // The login limits are the API's: two failures, then 429 here and there.
    account(&s, "bob@example.com", false).await;
    let b = Browser::new(&s);
    for _ in 0..2 {
        let f = b.get("/dashboard").await;
        let p = b
            .post(
                "/dashboard/sign-in",
                &[
                    ("csrf", &f.csrf()),
                    ("email", "bob@example.com"),
                    ("password", "wrong password"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let f = b.get("/dashboard").await;
    let p = b
        .post(
            "/dashboard/sign-in",
            &[
                ("csrf", &f.csrf()),
                ("email", "bob@example.com"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.headers.contains_key("retry-after"));
    assert!(p.body.contains("Too many failed sign-ins"), "{}", p.body);
    let res = s
        .http
        .post(s.url("/authentiq/v1/user/login"))
        .json(&json!({ "email": "bob@example.com", "password": PW }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Bad input is a page, not a server error.
    let f = b.get("/dashboard").await;
    let p = b
        .post(
            "/dashboard/sign-in",
            &[
                ("csrf", &f.csrf()),
                ("email", "not an email"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("Enter the email address"));
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let s = TestServer::start().await;
    let id = account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    // The sign-in form: no token, a wrong one, or no cookie to match.
    let form = b.get("/dashboard").await;
    let good = form.csrf();
    for fields in [
        vec![("email", "ann@example.com"), ("password", PW)],
        vec![
            ("csrf", "wrong"),
            ("email", "ann@example.com"),
            ("password", PW),
        ],
    ] {
        let p = b.post("/dashboard/sign-in", &fields).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(b.cookie("aq_dash").is_none());
    }
    let cookieless = Browser::new(&s);
    let p = cookieless
        .post(
            "/dashboard/sign-in",
            &[
                ("csrf", &good),
                ("email", "ann@example.com"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Signed in: every form needs this session's token.
    let page = b.sign_in("ann@example.com").await;
    let csrf = page.csrf();
    assert!(!csrf.is_empty());
    let other = Browser::new(&s);
    let other_csrf = other.sign_in("ann@example.com").await.csrf();
    assert_ne!(csrf, other_csrf, "a token per session");
    let client = [
        ("name", "Shop"),
        ("redirect_uris", "https://shop.example/cb"),
        ("auth_method", "client_secret_basic"),
        ("alg", "RS256"),
        ("subject_type", "pairwise"),
    ];
    for token in [None, Some("wrong"), Some(""), Some(other_csrf.as_str())] {
        let mut fields = client.to_vec();
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        let p = b.post("/dashboard/clients", &fields).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(p.body.contains("The form could not be accepted"));
        let p = b.post("/dashboard/sign-out", &fields).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{token:?}");
        let p = b
            .post("/dashboard/account/sign-out-everywhere", &fields)
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{token:?}");
    }
    let owned = s
        .state
        .db
        .call(move |st| st.list_clients_of(&id))
        .await
        .unwrap();
    assert!(owned.is_empty(), "nothing was registered");
    assert_eq!(
        b.get("/dashboard/clients").await.status,
        StatusCode::OK,
        "still signed in"
    );
    // With the token, it works.
    let mut fields = client.to_vec();
    fields.push(("csrf", &csrf));
    assert_eq!(
        b.post("/dashboard/clients", &fields).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn admin_pages_and_actions_are_for_admins_only() {
    let s = TestServer::start().await;
    let admin_id = account(&s, "root@example.com", true).await;
    let user_id = account(&s, "ann@example.com", false).await;
    let user = Browser::new(&s);
    let csrf = user.sign_in("ann@example.com").await.csrf();
    for path in ["/dashboard/admin/accounts", "/dashboard/admin/clients"] {
        let p = user.get(path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(p.body.contains("Admins only"));
        assert!(!p.body.contains("root@example.com"));
    }
    // The action, with a good CSRF token: 403, nothing changed.
    for (who, role) in [(&user_id, "admin"), (&admin_id, "guest")] {
        let p = user
            .post(
                &format!("/dashboard/admin/accounts/{who}/role"),
                &[("csrf", &csrf), ("role", role)],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
        assert!(p.body.contains("Admins only"));
    }
    assert_eq!(role_of(&s, &user_id).await, "user");
    assert_eq!(role_of(&s, &admin_id).await, "admin");
    // An admin sees both and changes a role.
    let admin = Browser::new(&s);
    let page = admin.sign_in("root@example.com").await;
    assert!(page.body.contains("/dashboard/admin/accounts"));
    let p = admin.get("/dashboard/admin/accounts").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert!(p.body.contains("ann@example.com") && p.body.contains("root@example.com"));
    let admin_csrf = p.csrf();
    let p = admin
        .post(
            &format!("/dashboard/admin/accounts/{user_id}/role"),
            &[("csrf", &admin_csrf), ("role", "guest")],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard/admin/accounts?done=role")
    );
    assert_eq!(role_of(&s, &user_id).await, "guest");
    // The role is read on every request: the guest may not make clients.
    assert_eq!(
        user.post(
            "/dashboard/clients",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("redirect_uris", "https://x.example/cb")
            ]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // A bad role, an unknown account, the last admin: pages, not 500s.
    let p = admin
        .post(
            &format!("/dashboard/admin/accounts/{user_id}/role"),
            &[("csrf", &admin_csrf), ("role", "emperor")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let p = admin
        .post(
            "/dashboard/admin/accounts/nobody/role",
            &[("csrf", &admin_csrf), ("role", "user")],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = admin
        .post(
            &format!("/dashboard/admin/accounts/{admin_id}/role"),
            &[("csrf", &admin_csrf), ("role", "user")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("last active admin"), "{}", p.body);
    assert_eq!(role_of(&s, &admin_id).await, "admin");
    let p = admin.get("/dashboard/admin/clients").await;
    assert_eq!(p.status, StatusCode::OK);
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

#[tokio::test]
async fn create_edit_rotate_and_delete_a_client() {
    let s = TestServer::start().await;
    let owner_id = account(&s, "ann@example.com", false).await;
    account(&s, "eve@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let p = b.get("/dashboard/clients/new").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    let (id, secret, page) = create(&b, &csrf, "Shop").await;
    assert_strict_page(&page);
    assert!(page.body.contains("shown only this once"));
    assert!(
        page.body.contains("data-copy=\"client-secret\""),
        "a copy button"
    );
    assert_eq!(
        token_error(&s, &id, &secret).await,
        "invalid_grant",
        "it works"
    );
    // It is the one client model, owned by the account.
    let stored = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner.as_deref(), Some(owner_id.as_str()));
    assert_eq!(
        stored.redirect_uris,
        ["https://shop.example/cb", "https://shop.example/cb2"]
    );
    assert_eq!(stored.id_token_signed_response_alg, "EdDSA");
    // Listed; its page has the integration snippet, but not the secret.
    let list = b.get("/dashboard/clients").await;
    assert!(list.body.contains(&format!("/dashboard/clients/{id}")));
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    let text = p.text();
    assert!(text.contains(&format!("<code id=\"issuer\">{}</code>", s.url)));
    assert!(text.contains(&format!(
        "<code id=\"discovery\">{}/.well-known/openid-configuration</code>",
        s.url
    )));
    assert!(text.contains(&format!("client_id={id}\n")), "the snippet");
    assert!(!p.body.contains(&secret));
    // Another account does not see it.
    let eve = Browser::new(&s);
    let eve_csrf = eve.sign_in("eve@example.com").await.csrf();
    assert!(!eve.get("/dashboard/clients").await.body.contains(&id));
    assert_eq!(
        eve.get(&format!("/dashboard/clients/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let p = eve
        .post(
            &format!("/dashboard/clients/{id}/rotate"),
            &[("csrf", &eve_csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = eve
        .post(
            &format!("/dashboard/clients/{id}/delete"),
            &[("csrf", &eve_csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Edit: name, URIs, logout URIs.
    let edit = |name: &'static str, redirects: &'static str| {
        let (b, id, csrf) = (&b, id.clone(), csrf.clone());
        async move {
            b.post(
                &format!("/dashboard/clients/{id}"),
                &[
                    ("csrf", csrf.as_str()),
                    ("name", name),
                    ("redirect_uris", redirects),
                    ("post_logout_redirect_uris", "https://shop.example/bye"),
                    ("backchannel_logout_uri", "https://shop.example/bc"),
                    ("alg", "EdDSA"),
                    ("subject_type", "public"),
                ],
            )
            .await
        }
    };
    let p = edit("Shop 2", "https://shop.example/new").await;
    assert_eq!(
        (p.status, p.location().to_string()),
        (
            StatusCode::SEE_OTHER,
            format!("/dashboard/clients/{id}?done=saved")
        )
    );
    let c = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Shop 2");
    assert_eq!(c.redirect_uris, ["https://shop.example/new"]);
    assert_eq!(c.post_logout_redirect_uris, ["https://shop.example/bye"]);
    assert_eq!(
        c.backchannel_logout_uri.as_deref(),
        Some("https://shop.example/bc")
    );
    assert_eq!(c.owner.as_deref(), Some(owner_id.as_str()), "still Ann's");
    assert_eq!(
        token_error(&s, &id, &secret).await,
        "invalid_grant",
        "same secret"
    );
    // Bad input: the form again with the registration's reason, unchanged.
    let p = edit("Shop 3", "javascript:alert(1)").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("class=\"dash-error\""), "{}", p.body);
    assert!(
        p.body.contains("javascript:alert(1)"),
        "what was typed is kept"
    );
    let p = edit("Shop 3", "").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let c = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.name, "Shop 2");
    // Rotate: the old secret stops working at /token.
    let p = b
        .post(
            &format!("/dashboard/clients/{id}/rotate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let new_secret = between(
        &p.body,
        "<code id=\"client-secret\" class=\"dash-secret\">",
        "<",
    )
    .to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(token_error(&s, &id, &secret).await, "invalid_client");
    assert_eq!(token_error(&s, &id, &new_secret).await, "invalid_grant");
    // Delete: a confirmation page, and nothing without the confirmation.
    let p = b.get(&format!("/dashboard/clients/{id}/delete")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Delete Shop 2?"));
    assert!(p.body.contains("name=\"confirm\" value=\"yes\""));
    let p = b
        .post(
            &format!("/dashboard/clients/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(token_error(&s, &id, &new_secret).await, "invalid_grant");
    let p = b
        .post(
            &format!("/dashboard/clients/{id}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard/clients?done=deleted")
    );
    assert_eq!(token_error(&s, &id, &new_secret).await, "invalid_client");
    assert_eq!(
        b.get(&format!("/dashboard/clients/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let list = b.get("/dashboard/clients?done=deleted").await;
    assert!(list.body.contains("The client was deleted."));
    assert!(!list.body.contains(&id));
    // A public client has no secret to show or rotate.
    let p = b
        .post(
            "/dashboard/clients",
            &[
                ("csrf", csrf.as_str()),
                ("name", "App"),
                ("redirect_uris", "com.example.app:/cb"),
                ("auth_method", "none"),
                ("alg", "RS256"),
                ("subject_type", "pairwise"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    assert!(p.body.contains("public client") && !p.body.contains("client-secret"));
    let app = between(&p.body, "<code id=\"client-id\">", "<").to_string();
    let p = b
        .post(
            &format!("/dashboard/clients/{app}/rotate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    // An admin manages anyone's client.
    let root = account(&s, "root@example.com", true).await;
    assert!(!root.is_empty());
    let admin = Browser::new(&s);
    admin.sign_in("root@example.com").await;
    let all = admin.get("/dashboard/admin/clients").await;
    assert!(all.body.contains(&app) && all.body.contains("ann@example.com"));
    assert_eq!(
        admin.get(&format!("/dashboard/clients/{app}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn client_names_and_uris_are_escaped() {
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let name = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let (id, _, created) = create(&b, &csrf, name).await;
    let escaped =
        "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;";
    for page in [
        created,
        b.get("/dashboard/clients").await,
        b.get(&format!("/dashboard/clients/{id}")).await,
        b.get(&format!("/dashboard/clients/{id}/delete")).await,
    ] {
        assert_eq!(page.status.as_u16() / 100, 2);
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(page.body.contains(escaped), "{}", page.body);
        assert_strict_page(&page);
    }
    // A refused edit shows what was typed, escaped too.
    let p = b
        .post(
            &format!("/dashboard/clients/{id}"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "x"),
                (
                    "redirect_uris",
                    "https://a.example/\"><script>alert(3)</script>",
                ),
                ("alg", "RS256"),
                ("subject_type", "pairwise"),
            ],
        )
        .await;
    assert!(!p.body.contains("<script>alert(3)"), "{}", p.body);
}

#[tokio::test]
async fn client_page_counts_sign_ins_per_day_and_lists_recent_events() {
    use authentiq_server::store::SecurityEvent;
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let b = Browser::new(&s);
    let csrf = b.sign_in("ann@example.com").await.csrf();
    let (id, _, _) = create(&b, &csrf, "Shop").await;
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert!(p.body.contains("0 approved and 0 denied"), "{}", p.body);
    assert!(p.body.contains("Nothing yet"));
    // Events as the sign-in page records them; one of another client, one too old.
    let t = now();
    let day = 86_400;
    let seeded = [
        (t - 10, "sign-in-approved", id.as_str()),
        (t - 5, "sign-in-approved", id.as_str()),
        (t - 2 * day, "sign-in-denied", id.as_str()),
        (t - 2 * day, "sign-in-approved", "another-client"),
        (t - 40 * day, "sign-in-approved", id.as_str()),
    ];
    for (at, kind, client) in seeded {
        let e = SecurityEvent {
            id: 0,
            at,
            kind: kind.into(),
            pk: Some("AbCdEfGhIjKlMnOp".into()),
            client_id: Some(client.into()),
            ip: Some("192.0.2.7".into()),
            detail: None,
        };
        s.state
            .db
            .call(move |st| st.insert_security_event(&e))
            .await
            .unwrap();
    }
    let p = b.get(&format!("/dashboard/clients/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_strict_page(&p);
    assert!(p.body.contains("2 approved and 1 denied"), "{}", p.body);
    assert_eq!(p.body.matches("<g data-day=").count(), 30, "30 days");
    let text = p.text();
    let today = between(&text, "<g data-day=\"", "\"").to_string();
    assert!(
        text.contains("data-approved=\"2\" data-denied=\"0\"><title>")
            && text.contains("data-approved=\"0\" data-denied=\"1\"><title>"),
        "today's and two days ago's bars"
    );
    assert!(!today.is_empty());
    assert_eq!(p.body.matches("class=\"dash-bar-approved\"").count(), 1);
    assert_eq!(p.body.matches("class=\"dash-bar-denied\"").count(), 1);
    // The newest first.
    let recent = between(&p.body, "<tbody>", "</tbody>");
    assert_eq!(recent.matches("<tr>").count(), 3, "{recent}");
    assert!(recent.contains("Sign-in approved") && recent.contains("Sign-in denied"));
    assert!(recent.contains("AbCdEfGhIj…") && recent.contains("192.0.2.7"));
    assert!(recent.find("Sign-in approved") < recent.find("Sign-in denied"));
}

#[tokio::test]
async fn account_page_changes_the_password_and_signs_out_everywhere() {
    let s = TestServer::start().await;
    account(&s, "ann@example.com", false).await;
    let (b, other) = (Browser::new(&s), Browser::new(&s));
    b.sign_in("ann@example.com").await;
    other.sign_in("ann@example.com").await;
    let page = b.get("/dashboard/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_strict_page(&page);
    let csrf = page.csrf();
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let (b, csrf) = (&b, csrf.clone());
        async move {
            b.post(
                "/dashboard/account/password",
                &[
                    ("csrf", csrf.as_str()),
                    ("current", current),
                    ("new", new),
                    ("confirm", confirm),
                ],
            )
            .await
        }
    };
    let p = change(PW, "another long password", "a typo in it").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("differ"));
    let p = change(
        "not the password",
        "another long password",
        "another long password",
    )
    .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("The current password is not right."));
    let p = change(PW, "short", "short").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.get("/dashboard/clients").await.status, StatusCode::OK);
    let p = change(PW, "another long password", "another long password").await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard/account?done=password")
    );
    // This session goes on; the other one ended; the new password signs in.
    assert_eq!(b.get("/dashboard/clients").await.status, StatusCode::OK);
    assert_eq!(
        other.get("/dashboard/clients").await.status,
        StatusCode::SEE_OTHER
    );
    let res = s
        .http
        .post(s.url("/authentiq/v1/user/login"))
        .json(&json!({ "email": "ann@example.com", "password": "another long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let api_token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Sign out everywhere: the dashboard's session and the API's token end.
    let p = b
        .post("/dashboard/account/sign-out-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (p.status, p.location()),
        (StatusCode::SEE_OTHER, "/dashboard")
    );
    assert_eq!(
        b.get("/dashboard/clients").await.status,
        StatusCode::SEE_OTHER
    );
    let res = s
        .http
        .get(s.url("/authentiq/v1/validate/token"))
        .bearer_auth(&api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
