//! Dynamic client registration with an ordinary client library: npm
//! `openid-client` registers through discovery's `registration_endpoint`
//! (with an account token, and with an initial access token), then signs
//! a user in with the client it got.

use authentiq_server::config::RegistrationMode;
use serde_json::{Value, json};

use super::common::*;

/// An account's token, through the accounts API.
async fn account_token(p: &Provider) -> String {
    let http = reqwest::Client::new();
    let creds = json!({ "email": "owner@example.com", "password": "a long enough password" });
    let res = http
        .post(format!("{}/authentiq/v1/user/register", p.url))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(format!("{}/authentiq/v1/user/login", p.url))
        .json(&creds)
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Registers with `bearer`, signs `device` in with the new client, and
/// checks what openid-client makes of the ID token.
async fn register_and_sign_in(p: &Provider, bearer: &str, email: &str) {
    let client = openid_client(&["register", &p.url, REDIRECT, bearer]).await;
    let id = client["client_id"]
        .as_str()
        .expect("a client_id")
        .to_string();
    let secret = client["client_secret"]
        .as_str()
        .expect("a client_secret")
        .to_string();
    assert_eq!(client["redirect_uris"], json!([REDIRECT]));
    let auth = openid_client(&["authorize", &p.url, &id, &secret, REDIRECT]).await;
    let mut device = Device::enrol(p, email).await;
    let back = approve_in(
        p,
        &mut device,
        &browser(),
        auth["url"].as_str().unwrap(),
        "openid email",
    )
    .await;
    let out = openid_client(&[
        "exchange",
        &p.url,
        &id,
        &secret,
        back.as_str(),
        auth["verifier"].as_str().unwrap(),
        auth["state"].as_str().unwrap(),
        auth["nonce"].as_str().unwrap(),
    ])
    .await;
    let claims = &out["claims"];
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(claims["iss"], p.url.as_str());
    assert_eq!(claims["email"], email);
    assert_eq!(claims["email_verified"], true);
    assert!(out["access_token"].is_string() && out["refresh_token"].is_string());
}

#[tokio::test]
async fn openid_client_registers_with_an_account_token_and_signs_in() {
    let p = provider().await;
    let token = account_token(&p).await;
    register_and_sign_in(&p, &token, "dcr-account@example.com").await;
    // The client belongs to the account: it lists it.
    let list: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/client", p.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["client_name"], "openid-client test");
}

#[tokio::test]
async fn openid_client_registers_with_an_initial_access_token_and_signs_in() {
    let p = provider_with(|c| c.registration = RegistrationMode::Token).await;
    let token = "an-initial-access-token-for-the-openid-client-test";
    let hash = authentiq_server::secrets::hash_secret_b64(token);
    p.state
        .db
        .call(move |s| s.insert_initial_access_token(&hash, 1, now(), now() + 600))
        .await
        .unwrap();
    register_and_sign_in(&p, token, "dcr-iat@example.com").await;
}
