//! What stops push fatigue and a reported attacker: too many wrong numbers
//! stop pushes to the key for the hour; a reported sign-in blocks pushes
//! from its address for an hour.

use authentiq_protocol::payloads::Decision;
use serde_json::Value;

use super::common::*;

const CALLBACK: &str = "http%3A%2F%2F127.0.0.1%3A9%2Fcb";

/// `POST /login` with the device's push token, from `xff` (through the
/// trusted proxy 127.0.0.1) or from 127.0.0.1 itself.
async fn push_login(p: &Provider, device: &Device, xff: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/login?callback={CALLBACK}", p.url))
        .header("content-type", "application/jwt")
        .body(device.push_token("http://127.0.0.1:9/"));
    if let Some(ip) = xff {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

/// Opens a sign-in, pushes it to the device, and answers with a wrong number.
async fn wrong_number(p: &Provider, device: &mut Device) {
    let b = browser();
    let page = open_sign_in(p, &b, &auth_url(p, "rs256-basic", &[])).await;
    send_to_device(p, &b, &page, &device.email).await;
    let req = device.next_request(p).await;
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
}

#[tokio::test]
async fn too_many_wrong_numbers_stop_pushes_to_the_key_for_the_hour() {
    let p = provider_with(|c| c.rate.wrong_numbers_per_key_per_hour = 2).await;
    let mut device = Device::enrol(&p, "fatigue@example.com").await;
    wrong_number(&p, &mut device).await;
    assert_eq!(
        push_login(&p, &device, None).await.status(),
        200,
        "one is not enough"
    );
    device.next_request(&p).await;
    wrong_number(&p, &mut device).await;
    let res = push_login(&p, &device, None).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("wrong numbers"),
        "{body}"
    );
    // The sign-in page's "send to my device" pushes nothing either (and
    // says nothing different: no enumeration).
    let b = browser();
    let page = open_sign_in(&p, &b, &auth_url(&p, "rs256-basic", &[])).await;
    send_to_device(&p, &b, &page, &device.email).await;
    assert!(push_login(&p, &device, None).await.status() == 429);
    // An hour later the key gets sign-in requests again.
    p.state.clock.advance(3601);
    assert_eq!(push_login(&p, &device, None).await.status(), 200);
    let req = device.next_request(&p).await;
    assert!(
        req.session.ends_with("/cb"),
        "the /login push, not the blocked page's: {}",
        req.session
    );
}

#[tokio::test]
async fn a_reported_sign_in_blocks_pushes_from_its_address_for_an_hour() {
    let p = provider_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let mut device = Device::enrol(&p, "reported@example.com").await;
    let b = browser();
    let url = auth_url(&p, "rs256-basic", &[]);
    // The attacker's browser, behind the proxy.
    let res = b
        .get(&url)
        .header("x-forwarded-for", "203.0.113.66")
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let sid = loc.trim_start_matches("/sign-in/");
    let html = b
        .get(format!("{}{loc}", p.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let res = b
        .post(format!("{}/sign-in/{sid}/push", p.url))
        .header("x-forwarded-for", "203.0.113.66")
        .form(&[("email", device.email.as_str()), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let req = device.next_request(&p).await;
    assert_eq!(req.requester.ip, "203.0.113.66");
    assert_eq!(device.send(&req, device.report(&req)).await.status(), 200);
    // From that address: refused, with the reason.
    let res = push_login(&p, &device, Some("203.0.113.66")).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "push-blocked");
    // From another: fine.
    assert_eq!(
        push_login(&p, &device, Some("198.51.100.1")).await.status(),
        200
    );
    let events = p
        .state
        .db
        .call(|s| s.list_security_events(&Default::default(), 20))
        .await
        .unwrap();
    let reported = events
        .iter()
        .find(|e| e.kind == "sign-in-reported")
        .unwrap();
    assert_eq!(reported.ip.as_deref(), Some("203.0.113.66"));
    assert_eq!(reported.client_id.as_deref(), Some("rs256-basic"));
    assert_eq!(reported.pk.as_deref(), Some(device.pk.as_str()));
    p.state.clock.advance(3601);
    assert_eq!(
        push_login(&p, &device, Some("203.0.113.66")).await.status(),
        200
    );
}
