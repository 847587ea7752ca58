//! What ordinary client libraries run into: the registered client
//! authentication method, PKCE for everyone, `response_type=token`, POST
//! `/authorize`, required and verified claims, pairwise (per sector) and
//! public `sub`.

use authentiq_protocol::payloads::Decision;
use serde_json::Value;

use super::common::*;

/// `sub` of the ID token `client_id` gets for `device`.
async fn sub_at(p: &Provider, device: &mut Device, client_id: &str) -> String {
    let (code, _) = approved_code(p, device, client_id).await;
    let tokens = exchange(p, client_id, &code).await;
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn each_client_authenticates_only_the_way_it_registered() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "method@example.com").await;
    // client_secret_basic, tried with the secret in the body.
    let (code, _) = approved_code(&p, &mut device, "rs256-basic").await;
    let mut form = code_form(&code, VERIFIER);
    form.extend([("client_id", "rs256-basic"), ("client_secret", SECRET)]);
    let body = oauth_error(token(&p, &form, None).await, 401, "invalid_client").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_secret_basic"),
        "{body}"
    );
    // The code was not spent by that: the right method still redeems it.
    let res = token(
        &p,
        &code_form(&code, VERIFIER),
        Some(("rs256-basic", SECRET)),
    )
    .await;
    assert_eq!(res.status(), 200);
    // client_secret_post, tried with Basic.
    let (code, _) = approved_code(&p, &mut device, "eddsa-post").await;
    oauth_error(
        token(
            &p,
            &code_form(&code, VERIFIER),
            Some(("eddsa-post", SECRET)),
        )
        .await,
        401,
        "invalid_client",
    )
    .await;
    // A public client presenting a secret.
    oauth_error(
        token(&p, &code_form("x", VERIFIER), Some(("public-pkce", SECRET))).await,
        401,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn pkce_is_required_of_confidential_clients_too() {
    let p = provider().await;
    let url = with(
        &with(&auth_url(&p, "rs256-basic", &[]), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let res = browser().get(&url).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert!(param(&loc, "error_description").unwrap().contains("PKCE"));
}

#[tokio::test]
async fn response_type_token_sends_an_access_token_in_the_fragment() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "implicit@example.com").await;
    let url = with(
        &auth_url(&p, "rs256-basic", &[]),
        "response_type",
        Some("token"),
    );
    let back = approve_in(&p, &mut device, &browser(), &url, "openid email").await;
    assert!(
        back.query().is_none_or(|q| !q.contains("access_token")),
        "never in the query: {back}"
    );
    let fragment: Vec<(String, String)> =
        url::form_urlencoded::parse(back.fragment().unwrap().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| {
        fragment
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("token_type").as_deref(), Some("Bearer"));
    assert!(get("id_token").is_none() && get("code").is_none());
    let res = reqwest::Client::new()
        .get(format!("{}/userinfo", p.url))
        .bearer_auth(get("access_token").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["email"],
        "implicit@example.com"
    );
}

#[tokio::test]
async fn authorize_takes_a_form_post() {
    let p = provider().await;
    let url = url::Url::parse(&auth_url(&p, "rs256-basic", &[])).unwrap();
    let b = browser();
    let res = b
        .post(format!("{}/authorize", p.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(url.query().unwrap().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/sign-in/")
    );
    // A repeated parameter is refused (RFC 6749 §3.1), with a page.
    let res = b
        .post(format!("{}/authorize", p.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{}&client_id=rs256-basic", url.query().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn a_required_claim_left_out_or_a_verified_one_without_its_grant_is_refused() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "claims@example.com").await;
    let b = browser();
    // email~rs: the device shares nothing.
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), "openid"),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("required")
    );
    // email~rs shared, but without the issuer's grant behind it.
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    let req = device.next_request(&p).await;
    device.grant = String::new();
    let answer = device.answer(&req, Decision::Approve, Some(page.number), "openid email");
    let res = device.send(&req, answer).await;
    assert_eq!(res.status(), 400, "unverified email for email~rs");
    let detail = res.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("verified"), "{detail}");
}

#[tokio::test]
async fn sub_is_pairwise_per_client_unless_public() {
    let p = provider().await;
    let mut device = Device::enrol(&p, "subject@example.com").await;
    let a = sub_at(&p, &mut device, "rs256-basic").await;
    let b = sub_at(&p, &mut device, "other-sector").await;
    assert_ne!(
        a, b,
        "pairwise subjects differ between clients of different sectors"
    );
    assert_ne!(a, device.pk);
    // Pairwise is per sector (OIDC Core §8.1): the host of the first
    // redirect URI. Two clients on one host see the same subject.
    assert_eq!(a, sub_at(&p, &mut device, "es256-basic").await);
    let pa = sub_at(&p, &mut device, "public-sub-a").await;
    let pb = sub_at(&p, &mut device, "public-sub-b").await;
    assert_eq!(pa, pb, "public subjects are the same everywhere");
    assert_eq!(pa, device.pk);
}
