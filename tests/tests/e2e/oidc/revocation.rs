//! A revoked Authentiq ID stops working everywhere, at once.

use serde_json::Value;

use super::common::*;

async fn userinfo(p: &Provider, access: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(format!("{}/userinfo", p.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_revoked_id_ends_its_tokens_sessions_codes_and_pushes() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "gone@example.com").await;
    let basic = Some(("rs256-basic", SECRET));
    // Signed in: tokens, and this browser's SSO session.
    let (code, browser) = approved_code(&p, &mut device, "rs256-basic").await;
    let res = token(&p, &code_form(&code, VERIFIER), basic).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let (access, refresh) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );
    // A second sign-in approved, its code not exchanged yet.
    let (pending_code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let silent = auth_url(&p, "rs256-basic", &[("prompt", "none")]);
    let res = browser.get(&silent).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(param(&loc, "code").is_some(), "signed in: {loc}");

    let res = reqwest::Client::new()
        .delete(format!("{}/key/{}", p.url, device.pk))
        .bearer_auth(&device.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    oauth_error(token(&p, &form, basic).await, 400, "invalid_grant").await;
    oauth_error(
        token(&p, &code_form(&pending_code, VERIFIER), basic).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(userinfo(&p, access).await, 401);
    let res = browser.get(&silent).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("login_required"),
        "{loc}"
    );
    // No more pushes: a relying party's push token is refused...
    let res = reqwest::Client::new()
        .post(format!(
            "{}/login?callback=http%3A%2F%2F127.0.0.1%3A9%2Fcb",
            p.url
        ))
        .header("content-type", "application/jwt")
        .body(device.push_token("http://127.0.0.1:9/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // ...and the device was told, its channel closing after the event.
    assert!(device.try_next_request(&p).await.is_err());
    let events = p
        .state
        .db
        .call(|s| s.list_security_events(&Default::default(), 20))
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "key-revoked"), "{events:?}");
}

/// The store's revocation alone (whichever way it was asked for) ends the
/// SSO session: nothing depends on the HTTP handler remembering to.
#[tokio::test]
async fn the_stores_revocation_alone_ends_the_sso_session() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "lost@example.com").await;
    let (_, browser) = approved_code(&p, &mut device, "rs256-basic").await;
    let pk = device.pk.clone();
    p.state
        .db
        .call(move |s| s.revoke_key(&pk, now()))
        .await
        .unwrap();
    let silent = auth_url(&p, "rs256-basic", &[("prompt", "none")]);
    let res = browser.get(&silent).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("login_required"),
        "{loc}"
    );
}
