//! The accounts API (seed 004) at `/authentiq/v1/…`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const PW: &str = "a good long password";

impl TestServer {
    fn api(&self, path: &str) -> String {
        self.url(&format!("/authentiq/v1/{path}"))
    }

    async fn register_account(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.api("user/register"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.api("user/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Registers (if needed) and logs in; the token.
    async fn account(&self, email: &str) -> String {
        self.register_account(email, PW).await;
        let res = self.login(email, PW).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// An admin's token (the store makes the first admin, as the CLI does).
    async fn admin(&self, email: &str) -> String {
        let token = self.account(email).await;
        let e = email.to_string();
        self.state
            .db
            .call(move |s| {
                let mut a = s.find_account_by_email(&e)?;
                a.role = "admin".into();
                s.update_account(&a)
            })
            .await
            .unwrap();
        token
    }

    async fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.api(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn heartbeat_register_login_validate() {
    let s = TestServer::start().await;
    let res = s.http.get(s.api("heartbeat")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = s.register_account("Ann@Example.com", PW).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["email"].as_str(), body["role"].as_str()),
        (Some("ann@example.com"), Some("user"))
    );
    assert_problem(
        s.register_account("ann@example.com", PW).await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        s.register_account("not-an-email", PW).await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(
        s.register_account("b@example.com", "short").await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(
        s.register_account("b@example.com", &"x".repeat(1025)).await,
        400,
        "bad-request",
    )
    .await;
    let res = s
        .http
        .post(s.api("user/register"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported-media-type").await;
    let res = s
        .http
        .post(s.api("user/register"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad-request").await;

    assert_problem(
        s.login("ann@example.com", "wrong password!").await,
        401,
        "auth-error",
    )
    .await;
    assert_problem(s.login("nobody@example.com", PW).await, 401, "auth-error").await;
    let res = s.login("ANN@example.com", PW).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let header = token.split('.').next().unwrap();
    assert!(!token.contains(PW) && !header.is_empty());
    let res = s
        .with_token(reqwest::Method::GET, "validate/token", &token, None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["email"], "ann@example.com");
    assert!(v["expires_at"].as_i64().unwrap() > now() + 3000);
    let res = s.http.get(s.api("validate/token")).send().await.unwrap();
    assert_problem(res, 401, "auth-error").await;
    let res = s
        .with_token(reqwest::Method::GET, "validate/token", "a.b.c", None)
        .await;
    assert_eq!(res.status().as_u16() / 100, 4);
    // A token expires with its hour.
    s.state.clock.advance(3601);
    let res = s
        .with_token(reqwest::Method::GET, "validate/token", &token, None)
        .await;
    assert_problem(res, 401, "auth-error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_failures_are_refused_per_account_and_per_address() {
    let s = TestServer::start_with(|c| {
        c.accounts.login_failures_per_account = 3;
        c.accounts.login_failures_per_ip = 6;
    })
    .await;
    s.register_account("tries@example.com", PW).await;
    // A success takes its attempt back: many good logins are fine.
    for _ in 0..4 {
        assert_eq!(
            s.login("tries@example.com", PW).await.status(),
            StatusCode::OK
        );
    }
    // Wrong passwords sent at once still count, however many.
    let all = futures_util::future::join_all(
        (0..10).map(|_| s.login("tries@example.com", "not the password")),
    )
    .await;
    let refused = all
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(refused >= 7, "{refused} of 10 refused");
    let res = s.login("tries@example.com", PW).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password, until the window passes"
    );
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "rate-limit").await;
    // Per address: other accounts, the same client.
    for i in 0..3 {
        s.login(&format!("other{i}@example.com"), "not the password")
            .await;
    }
    assert_eq!(
        s.login("fresh@example.com", "not the password")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    s.state.clock.advance(901);
    assert_eq!(
        s.login("tries@example.com", PW).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unknown_email_costs_about_what_a_wrong_password_costs() {
    let s = TestServer::start_with(|c| c.accounts.login_failures_per_ip = 1000).await;
    s.register_account("timing@example.com", PW).await;
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        s.login("timing@example.com", &format!("wrong password {i}"))
            .await;
        wrong.push(t.elapsed());
        let t = Instant::now();
        s.login(&format!("nobody{i}@example.com"), "wrong password")
            .await;
        unknown.push(t.elapsed());
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[2], unknown[2]);
    // Both spend an Argon2 verification (tens of milliseconds); without the
    // dummy hash an unknown email would answer in well under a millisecond.
    assert!(
        u * 2 > w && w * 2 > u,
        "wrong password {w:?}, unknown email {u:?}"
    );
    assert!(u > Duration::from_millis(5), "{u:?}");
}

#[tokio::test]
async fn password_change_logout_and_delete_end_tokens_at_once() {
    let s = TestServer::start().await;
    let a = s.account("pw@example.com").await;
    let b = s.account("pw@example.com").await;
    let change = |current: &str, new: &str| json!({ "password": current, "newPassword": new });
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/password",
            &a,
            Some(change("wrong one!", "the new password")),
        )
        .await;
    assert_problem(res, 401, "auth-error").await;
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/password",
            &a,
            Some(change(PW, "short")),
        )
        .await;
    assert_problem(res, 400, "bad-request").await;
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/password",
            &a,
            Some(change(PW, "the new password")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The other session ended; this one goes on.
    assert_eq!(
        s.with_token(reqwest::Method::GET, "validate/token", &b, None)
            .await
            .status(),
        401
    );
    assert_eq!(
        s.with_token(reqwest::Method::GET, "validate/token", &a, None)
            .await
            .status(),
        200
    );
    assert_eq!(s.login("pw@example.com", PW).await.status(), 401);
    assert_eq!(
        s.login("pw@example.com", "the new password").await.status(),
        200
    );
    // Logout.
    assert_eq!(
        s.with_token(reqwest::Method::DELETE, "user/logout", &a, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        s.with_token(reqwest::Method::GET, "validate/token", &a, None)
            .await
            .status(),
        401
    );
    // Delete.
    let c = s
        .login("pw@example.com", "the new password")
        .await
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = s
        .with_token(
            reqwest::Method::DELETE,
            "user/delete",
            &c,
            Some(json!({ "password": "wrong one!" })),
        )
        .await;
    assert_problem(res, 401, "auth-error").await;
    let res = s
        .with_token(
            reqwest::Method::DELETE,
            "user/delete",
            &c,
            Some(json!({ "password": "the new password" })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        s.with_token(reqwest::Method::GET, "validate/token", &c, None)
            .await
            .status(),
        401
    );
    assert_eq!(
        s.login("pw@example.com", "the new password").await.status(),
        401
    );
}

#[tokio::test]
async fn roles_lists_and_the_last_admin() {
    let s = TestServer::start().await;
    let admin = s.admin("root@example.com").await;
    let user = s.account("user@example.com").await;
    let res = s
        .with_token(reqwest::Method::GET, "user/list", &user, None)
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = s
        .with_token(reqwest::Method::GET, "user/list", &admin, None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Vec<Value> = res.json().await.unwrap();
    let mut emails: Vec<&str> = list.iter().map(|a| a["email"].as_str().unwrap()).collect();
    emails.sort_unstable();
    assert_eq!(emails, ["root@example.com", "user@example.com"]);
    assert!(
        list.iter()
            .all(|a| a["id"].is_string() && a["role"].is_string())
    );
    let res = s
        .with_token(reqwest::Method::GET, "user/role", &user, None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "user");

    let set = |email: &str, role: &str| json!({ "email": email, "role": role });
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/role",
            &user,
            Some(set("user@example.com", "admin")),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/role",
            &admin,
            Some(set("nobody@example.com", "admin")),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/role",
            &admin,
            Some(set("root@example.com", "user")),
        )
        .await;
    assert_problem(res, 409, "conflict").await;
    let res = s
        .with_token(
            reqwest::Method::DELETE,
            "user/delete",
            &admin,
            Some(json!({ "password": PW })),
        )
        .await;
    assert_problem(res, 409, "conflict").await;
    // The role change takes effect at once, on the token already held.
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/role",
            &admin,
            Some(set("user@example.com", "admin")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        s.with_token(reqwest::Method::GET, "user/list", &user, None)
            .await
            .status(),
        200
    );
    // Two admins: one may step down.
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/role",
            &user,
            Some(set("root@example.com", "guest")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        s.with_token(reqwest::Method::GET, "user/list", &admin, None)
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn a_deactivated_account_cannot_sign_in_and_its_clients_stop() {
    let s = TestServer::start().await;
    let admin = s.admin("root@example.com").await;
    let owner = s.account("owner@example.com").await;
    // The owner registers a client over HTTP.
    let res = s
        .http
        .post(s.url("/client"))
        .bearer_auth(&owner)
        .json(&json!({ "redirect_uris": [REDIRECT], "client_name": "Owned" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let client: Value = res.json().await.unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let authorize = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(s.url("/authorize"))
            .query(&[
                ("client_id", id),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ])
            .send()
    };
    assert_eq!(authorize().await.unwrap().status(), StatusCode::SEE_OTHER);
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/active",
            &admin,
            Some(json!({ "email": "owner@example.com", "active": false })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        s.with_token(reqwest::Method::GET, "validate/token", &owner, None)
            .await
            .status(),
        401
    );
    assert_problem(s.login("owner@example.com", PW).await, 401, "auth-error").await;
    let res = authorize().await.unwrap();
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("error=unauthorized_client"), "{loc}");
    let res = s
        .http
        .post(s.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    // Reactivated: back to work.
    s.with_token(
        reqwest::Method::PUT,
        "user/active",
        &admin,
        Some(json!({ "email": "owner@example.com", "active": true })),
    )
    .await;
    assert_eq!(authorize().await.unwrap().status(), StatusCode::SEE_OTHER);
    // A non-admin cannot deactivate anyone.
    let other = s.account("other@example.com").await;
    let res = s
        .with_token(
            reqwest::Method::PUT,
            "user/active",
            &other,
            Some(json!({ "email": "owner@example.com", "active": false })),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn guests_wait_for_an_admin_before_owning_clients() {
    let s = TestServer::start_with(|c| {
        c.accounts.default_role = authentiq_server::accounts::Role::Guest
    })
    .await;
    let guest = s.account("guest@example.com").await;
    let res = s
        .with_token(reqwest::Method::GET, "user/role", &guest, None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "guest");
    let res = s
        .http
        .post(s.url("/client"))
        .bearer_auth(&guest)
        .json(&json!({ "redirect_uris": [REDIRECT] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "access_denied");
}
