//! Signing in and out, the session cookie, the login limits, CSRF
//! refusals, and the account page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::common::*;

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
