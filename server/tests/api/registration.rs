//! Client registration over HTTP: RFC 7591 at `POST /client`, RFC 7592 at
//! `/client/{id}`, `GET /client`.

use authentiq_server::config::RegistrationMode;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const PW: &str = "a good long password";

async fn account_token(s: &TestServer, email: &str, admin: bool) -> String {
    s.http
        .post(s.url("/authentiq/v1/user/register"))
        .json(&json!({ "email": email, "password": PW }))
        .send()
        .await
        .unwrap();
    if admin {
        let e = email.to_string();
        s.state
            .db
            .call(move |st| {
                let mut a = st.find_account_by_email(&e)?;
                a.role = "admin".into();
                st.update_account(&a)
            })
            .await
            .unwrap();
    }
    let res = s
        .http
        .post(s.url("/authentiq/v1/user/login"))
        .json(&json!({ "email": email, "password": PW }))
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn register(s: &TestServer, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = s.http.post(s.url("/client")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn oauth_error(res: reqwest::Response, status: u16, error: &str) {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

fn basic_metadata() -> Value {
    json!({
        "redirect_uris": [REDIRECT],
        "client_name": "My Shop",
        "client_uri": "https://rp.example/",
        "contacts": ["ops@rp.example"],
        "post_logout_redirect_uris": ["https://rp.example/bye"],
        "id_token_signed_response_alg": "EdDSA",
        "software_statement_of_something_unknown": "ignored",
    })
}

#[tokio::test]
async fn an_account_registers_a_client_it_can_use() {
    let s = TestServer::start().await;
    let token = account_token(&s, "dev@example.com", false).await;
    let res = register(&s, Some(&token), basic_metadata()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let c: Value = res.json().await.unwrap();
    let id = c["client_id"].as_str().unwrap();
    assert!(c["client_secret"].as_str().unwrap().len() >= 32);
    assert_eq!(c["client_secret_expires_at"], 0);
    assert!(c["client_id_issued_at"].as_i64().unwrap() >= now() - 5);
    assert!(c["registration_access_token"].is_string());
    assert_eq!(
        c["registration_client_uri"],
        s.url(&format!("/client/{id}"))
    );
    assert_eq!(c["client_name"], "My Shop");
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        c["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(
        c.get("software_statement_of_something_unknown").is_none(),
        "unknown metadata is not echoed"
    );
    // It is a client: /authorize knows it, /token authenticates it.
    let res = reqwest::Client::builder()
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
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = s
        .http
        .post(s.url("/token"))
        .basic_auth(id, c["client_secret"].as_str())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "authenticated, then refused"
    );
    // The owner lists it; another account does not see it; an admin does.
    let list = |t: String| {
        let s = &s;
        async move {
            s.http
                .get(s.url("/client"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .json::<Vec<Value>>()
                .await
                .unwrap()
        }
    };
    let mine = list(token.clone()).await;
    assert_eq!(mine.len(), 1);
    assert!(
        mine[0].get("client_secret").is_none()
            && mine[0].get("registration_access_token").is_none()
    );
    assert!(
        list(account_token(&s, "other@example.com", false).await)
            .await
            .is_empty()
    );
    assert_eq!(
        list(account_token(&s, "root@example.com", true).await)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn invalid_metadata_gets_the_rfc_7591_errors() {
    let s = TestServer::start().await;
    let token = account_token(&s, "dev@example.com", false).await;
    oauth_error(
        register(&s, Some(&token), json!({})).await,
        400,
        "invalid_redirect_uri",
    )
    .await;
    oauth_error(
        register(
            &s,
            Some(&token),
            json!({ "redirect_uris": ["https://rp.example/cb#f"] }),
        )
        .await,
        400,
        "invalid_redirect_uri",
    )
    .await;
    oauth_error(
        register(
            &s,
            Some(&token),
            json!({ "redirect_uris": [REDIRECT], "grant_types": ["password"] }),
        )
        .await,
        400,
        "invalid_client_metadata",
    )
    .await;
    oauth_error(
        register(&s, Some(&token), json!({ "redirect_uris": "not a list" })).await,
        400,
        "invalid_client_metadata",
    )
    .await;
    let res = s
        .http
        .post(s.url("/client"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    oauth_error(res, 400, "invalid_client_metadata").await;
}

#[tokio::test]
async fn who_may_register_depends_on_the_mode() {
    // account (the default): an account token, nothing else.
    let s = TestServer::start().await;
    oauth_error(
        register(&s, None, basic_metadata()).await,
        401,
        "invalid_token",
    )
    .await;
    oauth_error(
        register(&s, Some("made-up"), basic_metadata()).await,
        401,
        "invalid_token",
    )
    .await;
    // token: an initial access token with its uses.
    let s = TestServer::start_with(|c| c.registration = RegistrationMode::Token).await;
    let iat = "an-initial-access-token-of-enough-length-0123";
    let hash = authentiq_server::secrets::hash_secret_b64(iat);
    s.state
        .db
        .call(move |st| st.insert_initial_access_token(&hash, 1, now(), now() + 600))
        .await
        .unwrap();
    let res = register(&s, Some(iat), basic_metadata()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.json::<Value>().await.unwrap().get("owner").is_none());
    oauth_error(
        register(&s, Some(iat), basic_metadata()).await,
        401,
        "invalid_token",
    )
    .await;
    let account = account_token(&s, "dev@example.com", false).await;
    assert_eq!(
        register(&s, Some(&account), basic_metadata())
            .await
            .status(),
        StatusCode::CREATED
    );
    // open: anyone, limited per address.
    let s = TestServer::start_with(|c| {
        c.registration = RegistrationMode::Open;
        c.rate.registrations_per_ip_per_hour = 2;
    })
    .await;
    assert_eq!(
        register(&s, None, basic_metadata()).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        register(&s, None, basic_metadata()).await.status(),
        StatusCode::CREATED
    );
    let res = register(&s, None, basic_metadata()).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
}

#[tokio::test]
async fn rfc_7592_read_update_rotate_and_delete() {
    let s = TestServer::start().await;
    let owner = account_token(&s, "dev@example.com", false).await;
    let c: Value = register(&s, Some(&owner), basic_metadata())
        .await
        .json()
        .await
        .unwrap();
    let id = c["client_id"].as_str().unwrap().to_string();
    let rat = c["registration_access_token"].as_str().unwrap().to_string();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    let uri = c["registration_client_uri"].as_str().unwrap().to_string();
    // Read: with its registration access token, or its owner's token.
    for t in [&rat, &owner] {
        let res = s.http.get(&uri).bearer_auth(t).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["client_name"], "My Shop");
    }
    let stranger = account_token(&s, "stranger@example.com", false).await;
    oauth_error(
        s.http
            .get(&uri)
            .bearer_auth(&stranger)
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
    oauth_error(
        s.http
            .get(s.url("/client/nope"))
            .bearer_auth(&rat)
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
    // Update replaces the metadata: what is left out goes.
    let put = |body: Value| s.http.put(&uri).bearer_auth(&rat).json(&body).send();
    oauth_error(
        put(json!({ "redirect_uris": [REDIRECT] })).await.unwrap(),
        400,
        "invalid_client_metadata",
    )
    .await;
    oauth_error(
        put(json!({ "client_id": id, "client_secret": "not it", "redirect_uris": [REDIRECT] }))
            .await
            .unwrap(),
        400,
        "invalid_client_metadata",
    )
    .await;
    let res =
        put(json!({ "client_id": id, "client_name": "Renamed", "redirect_uris": [REDIRECT] }))
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["client_name"], "Renamed");
    assert!(updated.get("client_uri").is_none() && updated.get("client_secret").is_none());
    assert_eq!(
        updated["id_token_signed_response_alg"], "RS256",
        "back to the default"
    );
    // Rotate the secret: the old one stops working.
    let token_with = |secret: String| {
        let (s, id) = (&s, id.clone());
        async move {
            s.http
                .post(s.url("/token"))
                .basic_auth(id, Some(secret))
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
    };
    let res = put(json!({ "client_id": id, "redirect_uris": [REDIRECT], "rotate_secret": true }))
        .await
        .unwrap();
    let new_secret = res.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(token_with(secret).await, "invalid_client");
    assert_eq!(token_with(new_secret.clone()).await, "invalid_grant");
    // Delete: gone, and its credentials with it.
    let res = s
        .http
        .delete(&uri)
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    oauth_error(
        s.http.get(&uri).bearer_auth(&rat).send().await.unwrap(),
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(token_with(new_secret).await, "invalid_client");
    // Clients of the configuration file are not managed over HTTP.
    let s = TestServer::start_with(|c| c.clients = vec![test_client("from-config")]).await;
    let admin = account_token(&s, "root@example.com", true).await;
    oauth_error(
        s.http
            .get(s.url("/client/from-config"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_registered_hs256_client_keeps_its_secret_sealed() {
    let s = TestServer::start().await;
    let owner = account_token(&s, "dev@example.com", false).await;
    let mut meta = basic_metadata();
    meta["id_token_signed_response_alg"] = json!("HS256");
    let res = register(&s, Some(&owner), meta).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let c: Value = res.json().await.unwrap();
    let (id, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    // At rest: no secret in the clear.
    let owned = id.clone();
    let stored = s
        .state
        .db
        .call(move |st| st.get_client(&owned))
        .await
        .unwrap();
    assert!(!stored.contains(&secret), "{stored}");
    assert!(stored.contains("client_secret_sealed"));
    // Loaded: the secret itself, to key HS256 ID tokens with.
    let client = authentiq_server::oidc::clients::find(&s.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.client_secret.as_deref(), Some(secret.as_str()));
}
