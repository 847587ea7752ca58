//! Each refusal, with its exact error.

use authentiq_protocol::payloads::Decision;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::common::*;

#[tokio::test]
async fn wrong_redirect_uri_and_unknown_client_get_a_page_never_a_redirect() {
    let p = provider().await;
    let b = browser();
    for url in [
        with(
            &auth_url(&p, "rs256-basic", &[]),
            "redirect_uri",
            Some("http://127.0.0.1:9/cb/evil"),
        ),
        with(
            &auth_url(&p, "rs256-basic", &[]),
            "redirect_uri",
            Some("https://evil.example/cb"),
        ),
        auth_url(&p, "no-such-client", &[]),
    ] {
        let res = b.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(
            res.headers().get("location").is_none(),
            "no redirect for {url}"
        );
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
}

/// The error an authorization request comes back with.
async fn authorize_error(p: &Provider, url: &str) -> (String, Option<String>) {
    let res = browser().get(url).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
    assert_eq!(param(&loc, "iss").as_deref(), Some(p.url.as_str()));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-1"));
    (
        param(&loc, "error").unwrap(),
        param(&loc, "error_description"),
    )
}

#[tokio::test]
async fn pkce_is_s256_only_and_required_for_public_clients() {
    let p = provider().await;
    let plain = with(
        &auth_url(&p, "public-pkce", &[]),
        "code_challenge_method",
        Some("plain"),
    );
    let (e, d) = authorize_error(&p, &plain).await;
    assert_eq!(e, "invalid_request");
    assert!(d.unwrap().contains("plain"));
    let none = with(
        &with(&auth_url(&p, "public-pkce", &[]), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    assert_eq!(authorize_error(&p, &none).await.0, "invalid_request");
    let no_openid = with(&auth_url(&p, "rs256-basic", &[]), "scope", Some("email"));
    assert_eq!(authorize_error(&p, &no_openid).await.0, "invalid_scope");
    let unknown_rt = with(
        &auth_url(&p, "rs256-basic", &[]),
        "response_type",
        Some("token code_and_more"),
    );
    assert_eq!(
        authorize_error(&p, &unknown_rt).await.0,
        "unsupported_response_type"
    );
    let not_allowed = with(
        &auth_url(&p, "rs256-basic", &[]),
        "response_type",
        Some("code token"),
    );
    assert_eq!(
        authorize_error(&p, &not_allowed).await.0,
        "unauthorized_client"
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required_and_with_one_is_silent() {
    let p = provider().await;
    let url = auth_url(&p, "rs256-basic", &[("prompt", "none")]);
    assert_eq!(authorize_error(&p, &url).await.0, "login_required");
    // After a sign-in, the same browser gets a code silently.
    let mut device = Device::enrol(&p, "sso@example.com").await;
    let (_, b) = approved_code(&p, &mut device, "rs256-basic").await;
    let res = b.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(param(&loc, "code").is_some(), "{loc}");
    // max_age=0 demands a fresh sign-in.
    let stale = auth_url(&p, "rs256-basic", &[("prompt", "none"), ("max_age", "0")]);
    p.state.clock.advance(2);
    let res = b.get(&stale).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn code_reuse_fails_and_revokes_the_first_tokens() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "reuse@example.com").await;
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let basic = Some(("rs256-basic", SECRET));
    let res = token(&p, &code_form(&code, VERIFIER), basic).await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let userinfo = |t: String| {
        let url = format!("{}/userinfo", p.url);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(userinfo(access.to_string()).await.status(), 200);
    oauth_error(
        token(&p, &code_form(&code, VERIFIER), basic).await,
        400,
        "invalid_grant",
    )
    .await;
    let res = userinfo(access.to_string()).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let refresh = first["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    oauth_error(token(&p, &form, basic).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn pkce_mismatch_wrong_secret_wrong_redirect_and_expired_code() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "neg@example.com").await;
    let basic = Some(("rs256-basic", SECRET));
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    oauth_error(
        token(&p, &code_form(&code, &format!("{VERIFIER}x")), basic).await,
        400,
        "invalid_grant",
    )
    .await;

    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let res = token(
        &p,
        &code_form(&code, VERIFIER),
        Some(("rs256-basic", "wrong-secret")),
    )
    .await;
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    oauth_error(res, 401, "invalid_client").await;
    let mut form = code_form(&code, VERIFIER);
    form[2] = ("redirect_uri", "http://127.0.0.1:9/other");
    oauth_error(token(&p, &form, basic).await, 400, "invalid_grant").await;

    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    p.state.clock.advance(61);
    oauth_error(
        token(&p, &code_form(&code, VERIFIER), basic).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "refresh@example.com").await;
    let (code, _) = approved_code(&p, &mut device, "eddsa-post").await;
    let mut form = code_form(&code, VERIFIER);
    form.extend([("client_id", "eddsa-post"), ("client_secret", SECRET)]);
    let first: Value = token(&p, &form, None).await.json().await.unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |r: String| {
        let p = &p;
        async move {
            token(
                p,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &r),
                    ("client_id", "eddsa-post"),
                    ("client_secret", SECRET),
                ],
                None,
            )
            .await
        }
    };
    let second: Value = refresh(r1.clone()).await.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    assert!(second["expires_at"].as_i64().unwrap() > now());
    // The spent token's record keeps its family (to catch its reuse), not
    // the grant.
    let (id, at) = (authentiq_server::oidc::records::token_id(&r1), now());
    let spent = p
        .state
        .db
        .call(move |s| s.get_record(authentiq_server::oidc::records::REFRESH, &id, at))
        .await
        .unwrap();
    assert!(spent.used && spent.data.is_empty(), "{spent:?}");
    // Reusing the old one revokes the whole family, the new one included.
    oauth_error(refresh(r1).await, 400, "invalid_grant").await;
    oauth_error(refresh(r2).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn wrong_number_denies_and_the_client_gets_access_denied() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "wrong@example.com").await;
    let b = browser();
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let wrong = req
        .numbers
        .iter()
        .copied()
        .find(|n| *n != page.number)
        .unwrap();
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(wrong), "openid email"),
        )
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "wrong-number");
    // The right number afterwards no longer helps.
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), "openid email"),
        )
        .await;
    assert_eq!(res.status(), 409);
    let back = continue_to_client(&p, &b, &page).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
}

#[tokio::test]
async fn a_denial_gives_access_denied() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "deny@example.com").await;
    let b = browser();
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let res = device
        .send(&req, device.answer(&req, Decision::Deny, None, ""))
        .await;
    assert_eq!(res.status(), 200);
    let back = continue_to_client(&p, &b, &page).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn a_replayed_answer_and_an_answer_for_another_session_are_refused() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "replay@example.com").await;
    let b = browser();
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let answer = device.answer(&req, Decision::Approve, Some(page.number), "openid email");
    assert_eq!(device.send(&req, answer.clone()).await.status(), 200);
    let res = device.send(&req, answer.clone()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "auth-error");
    // Posted to another session: the audience does not match.
    let page2 = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    let res = reqwest::Client::new()
        .post(format!("{}/sign-in/{}", p.url, page2.sid))
        .header("content-type", "application/jwt")
        .body(device.answer(&req, Decision::Approve, Some(page.number), "openid email"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "aud-error");
}

#[tokio::test]
async fn a_revoked_key_cannot_approve() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "revoked@example.com").await;
    let b = browser();
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let pk = device.pk.clone();
    p.state
        .db
        .call(move |s| s.revoke_key(&pk, 1))
        .await
        .unwrap();
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), "openid email"),
        )
        .await;
    assert_eq!(res.status(), 410);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "revoked-key");
}

#[tokio::test]
async fn alg_none_is_never_accepted() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "none@example.com").await;
    let b = browser();
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let signed = device.answer(&req, Decision::Approve, Some(page.number), "openid email");
    let mut parts = signed.split('.');
    let _header = parts.next();
    let payload = parts.next().unwrap();
    for alg in ["none", "None", "HS256"] {
        let h = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#,
            device.pk
        ));
        let res = device.send(&req, format!("{h}.{payload}.")).await;
        assert_eq!(res.status(), 401, "{alg}");
    }
    // The discovery document never offers none.
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", p.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "none")
    );
}

/// A browser whose sign-in (as `rs256-basic`) the user's device approved,
/// not continued yet.
async fn approved_in_a_browser(p: &Provider, email: &str) -> (reqwest::Client, Page) {
    let mut device = Device::enrol(p, email).await;
    let b = browser();
    let page = open_sign_in(p, &b, &auth_url(p, "rs256-basic", &[])).await;
    send_to_device(p, &b, &page, &device.email).await;
    let req = device.next_request(p).await;
    device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), "openid email"),
        )
        .await;
    (b, page)
}

#[tokio::test]
async fn the_code_only_goes_to_the_browser_that_started_the_sign_in() {
    let p = provider().await;
    let (b, page) = approved_in_a_browser(&p, "bind@example.com").await;
    let other = browser();
    let res = other
        .get(format!("{}/sign-in/{}/continue", p.url, page.sid))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The right browser continues once, not twice.
    continue_to_client(&p, &b, &page).await;
    let res = b
        .get(format!("{}/sign-in/{}/continue", p.url, page.sid))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 302);
}

#[tokio::test]
async fn two_continues_at_once_complete_the_sign_in_once_and_its_code_works() {
    let p = provider().await;
    let (b, page) = approved_in_a_browser(&p, "twice@example.com").await;
    // Both carry the binding cookie: sent before either is answered.
    let url = format!("{}/sign-in/{}/continue", p.url, page.sid);
    let (one, two) = tokio::join!(b.get(&url).send(), b.get(&url).send());
    let mut statuses = Vec::new();
    let mut code = None;
    for res in [one.unwrap(), two.unwrap()] {
        statuses.push(res.status().as_u16());
        if res.status() == 302 {
            let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
            code = param(&back, "code");
        } else {
            assert!(res.text().await.unwrap().contains("Already used"));
        }
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [302, 409], "one completion, one refusal");
    // The winner's code was stored with the spend, and redeems.
    let t = token(
        &p,
        &code_form(&code.unwrap(), VERIFIER),
        Some(("rs256-basic", SECRET)),
    )
    .await;
    assert_eq!(t.status(), 200);
}

#[tokio::test]
async fn userinfo_accepts_the_token_in_each_documented_place_and_refuses_bad_ones() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "ui@example.com").await;
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let t: Value = token(
        &p,
        &code_form(&code, VERIFIER),
        Some(("rs256-basic", SECRET)),
    )
    .await
    .json()
    .await
    .unwrap();
    let access = t["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/userinfo", p.url);
    let a = http.get(&url).bearer_auth(access).send().await.unwrap();
    let b = http
        .post(&url)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    let c = http
        .get(format!("{url}?access_token={access}"))
        .send()
        .await
        .unwrap();
    for res in [a, b, c] {
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["email"], "ui@example.com");
        assert_eq!(body["email_verified"], true);
    }
    let res = http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
