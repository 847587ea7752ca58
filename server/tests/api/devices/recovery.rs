//! Recovery when every device is lost: the recovery secret and the email
//! code, a delay any device may cut short by cancelling, the same `sub`
//! afterwards.

use authentiq_protocol::devices::{RecoveryAction, RecoveryConfirm, RecoveryStart};
use authentiq_protocol::jwt::Claims;
use authentiq_protocol::payloads::ClaimScope;
use reqwest::StatusCode;
use serde_json::Value;

use super::*;

const EMAIL: &str = "lost@example.com";

/// A registered device with a verified, bound email: its secret.
async fn enrolled(s: &TestServer, d: &Device) -> String {
    let secret = s.register(d).await;
    s.verify(d, ClaimScope::Email, EMAIL).await;
    let res = s
        .put_jwt(&format!("/key/{}", d.pk), &d.binding(Some(EMAIL), None))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    secret
}

async fn start(
    s: &TestServer,
    new: &Device,
    id: &str,
    secret: &str,
    email: &str,
) -> reqwest::Response {
    let token = new.sign(
        Claims::new(RecoveryStart {
            id: id.into(),
            name: "New laptop".into(),
            email: email.into(),
            phone: None,
        })
        .audience(s.url("/recovery"))
        .valid_for(s.state.now(), 60),
    );
    s.http
        .post(s.url("/recovery"))
        .bearer_auth(secret)
        .header("content-type", "application/jwt")
        .body(token)
        .send()
        .await
        .unwrap()
}

/// Posts a token of `new`'s key to `<recovery>/<step>`.
async fn step<T: serde::Serialize>(
    s: &TestServer,
    new: &Device,
    recovery: &str,
    step: &str,
    body: T,
) -> reqwest::Response {
    let url = format!("{recovery}/{step}");
    let token = new.sign(
        Claims::new(body)
            .audience(url.clone())
            .valid_for(s.state.now(), 60),
    );
    s.http
        .post(url)
        .header("content-type", "application/jwt")
        .body(token)
        .send()
        .await
        .unwrap()
}

fn codes(email_code: &str) -> RecoveryConfirm {
    RecoveryConfirm {
        email_code: email_code.into(),
        phone_code: None,
    }
}

/// Starts a recovery with the right secret and confirms the code: its URL.
async fn waiting(s: &TestServer, new: &Device, id: &str, secret: &str) -> String {
    let res = start(s, new, id, secret, EMAIL).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let recovery = res.json::<Value>().await.unwrap()["recovery"]
        .as_str()
        .unwrap()
        .to_string();
    let res = step(s, new, &recovery, "confirm", codes(&s.code_for(EMAIL))).await;
    assert_eq!(res.status(), StatusCode::OK);
    recovery
}

#[tokio::test]
async fn recovery_needs_the_secret_and_the_email_code_and_keeps_the_sub() {
    let s = server().await;
    let (a, b, new) = (Device::new(), Device::new(), Device::new());
    let secret = enrolled(&s, &a).await;
    let id = a.pk.clone();
    link(&s, &a, &b, &id).await;
    let sub = known_sub(&s, &id).await;
    let mut a_channel = SseReader::new(open_channel(&s, &a, None).await);
    let mut b_channel = SseReader::new(channel_for(&s, &b, &id).await);

    // Without the secret, or the wrong one, or the wrong email: refused.
    assert_problem(
        start(&s, &new, &id, "not-the-secret", EMAIL).await,
        401,
        "auth-error",
    )
    .await;
    assert_problem(
        start(&s, &new, &id, &secret, "other@example.com").await,
        401,
        "auth-error",
    )
    .await;
    let res = start(&s, &new, &id, &secret, EMAIL).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["status"], "codes-sent");
    let recovery = started["recovery"].as_str().unwrap().to_string();
    // With the secret but without the email code: nothing completes.
    assert_problem(
        step(&s, &new, &recovery, "complete", RecoveryAction {}).await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        step(&s, &new, &recovery, "confirm", codes("000000")).await,
        401,
        "auth-error",
    )
    .await;
    // Another key cannot use this recovery's code.
    let code = s.code_for(EMAIL);
    assert_problem(
        step(&s, &Device::new(), &recovery, "confirm", codes(&code)).await,
        401,
        "auth-error",
    )
    .await;
    let res = step(&s, &new, &recovery, "confirm", codes(&code)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let confirmed: Value = res.json().await.unwrap();
    assert_eq!(confirmed["status"], "waiting");
    assert_eq!(confirmed["completes_at"], s.state.now() + 3600);

    // Announced to the existing devices at once.
    let announced = next_event(&mut a_channel, "recovery-started").await;
    assert_eq!(announced["recovery"], recovery.as_str());
    assert_eq!(announced["device"], new.pk.as_str());
    // Not before the delay; the old devices still work meanwhile.
    assert_problem(
        step(&s, &new, &recovery, "complete", RecoveryAction {}).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(list(&s, &b, &id).await.status(), StatusCode::OK);

    s.state.clock.advance(3601);
    let res = step(&s, &new, &recovery, "complete", RecoveryAction {}).await;
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["status"], "completed");
    let new_secret = done["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    // Done once.
    assert_problem(
        step(&s, &new, &recovery, "complete", RecoveryAction {}).await,
        409,
        "conflict",
    )
    .await;

    // The old keys are gone: each old device hears its own removal (after
    // the other's, in either order), then its channel ends.
    for (channel, d) in [(&mut a_channel, &a), (&mut b_channel, &b)] {
        while next_event(channel, "device-removed").await["device"] != d.pk.as_str() {}
        assert!(channel.next_within(3).await.is_none(), "the channel ends");
    }
    // The new one is the identity, same sub.
    assert_problem(channel_for(&s, &a, &id).await, 410, "revoked-key").await;
    assert_problem(channel_for(&s, &b, &id).await, 410, "revoked-key").await;
    let mut new_channel = SseReader::new(channel_for(&s, &new, &id).await);
    s.state.clock.advance(10);
    assert_eq!(sign_in(&s, &sub, &mut new_channel, &new, &id).await, sub);
    // The old secret is spent; the new one revokes the ID.
    let res = s
        .http
        .delete(s.url(&format!("/key/{id}")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "auth-error").await;
    let res = s
        .http
        .delete(s.url(&format!("/key/{id}")))
        .bearer_auth(&new_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let kinds = logged(&s, &id).await;
    for k in ["recovery-started", "recovery-completed", "key-revoked"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_cancelled_recovery_never_completes() {
    let s = server().await;
    let (a, new) = (Device::new(), Device::new());
    let secret = enrolled(&s, &a).await;
    let id = a.pk.clone();
    let sub = known_sub(&s, &id).await;
    let recovery = waiting(&s, &new, &id, &secret).await;
    // Only a device of the ID may cancel: not the new key, not a stranger.
    assert_problem(
        step(&s, &new, &recovery, "cancel", RecoveryAction {}).await,
        404,
        "unknown-key",
    )
    .await;
    let stranger = Device::new();
    s.register(&stranger).await;
    assert_problem(
        step(&s, &stranger, &recovery, "cancel", RecoveryAction {}).await,
        401,
        "auth-error",
    )
    .await;
    let mut a_channel = SseReader::new(open_channel(&s, &a, None).await);
    let res = step(&s, &a, &recovery, "cancel", RecoveryAction {}).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");
    let withdrawn = next_event(&mut a_channel, "withdrawn").await;
    assert_eq!(withdrawn["request"], recovery.as_str());
    assert_eq!(withdrawn["outcome"], "cancelled");

    s.state.clock.advance(3601);
    assert_problem(
        step(&s, &new, &recovery, "complete", RecoveryAction {}).await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        step(&s, &new, &recovery, "confirm", codes("123456")).await,
        409,
        "conflict",
    )
    .await;
    assert_problem(channel_for(&s, &new, &id).await, 404, "unknown-key").await;
    // A is still the identity's device, with the same sub.
    assert_eq!(sign_in(&s, &sub, &mut a_channel, &a, &id).await, sub);
    let kinds = logged(&s, &id).await;
    assert!(kinds.iter().any(|k| k == "recovery-cancelled"), "{kinds:?}");
}

#[tokio::test]
async fn wrong_codes_are_counted_atomically_and_the_secret_attempts_are_limited() {
    let s = server().await;
    let (a, new) = (Device::new(), Device::new());
    let secret = enrolled(&s, &a).await;
    let id = a.pk.clone();
    let res = start(&s, &new, &id, &secret, EMAIL).await;
    let recovery = res.json::<Value>().await.unwrap()["recovery"]
        .as_str()
        .unwrap()
        .to_string();
    let code = s.code_for(EMAIL);
    let max = s.state.config.rate.code_attempts as usize;
    // Many wrong codes at once: at most `max` are compared, then it fails.
    let attempts = (0..max + 3).map(|_| step(&s, &new, &recovery, "confirm", codes("000000")));
    let results = futures_util::future::join_all(attempts).await;
    let wrong = results
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        wrong,
        max,
        "{:?}",
        results.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert_problem(
        step(&s, &new, &recovery, "confirm", codes(&code)).await,
        409,
        "conflict",
    )
    .await;
    assert!(
        logged(&s, &id)
            .await
            .iter()
            .any(|k| k == "code-limit-reached")
    );

    // Secret attempts per ID are limited (5 an hour by default).
    for _ in 0..4 {
        let other = Device::new();
        assert_problem(
            start(&s, &other, &id, "wrong", EMAIL).await,
            401,
            "auth-error",
        )
        .await;
    }
    assert_problem(
        start(&s, &Device::new(), &id, &secret, EMAIL).await,
        429,
        "rate-limit",
    )
    .await;
}

#[tokio::test]
async fn an_id_without_a_verified_email_cannot_be_recovered() {
    let s = server().await;
    let (a, new) = (Device::new(), Device::new());
    let secret = s.register(&a).await;
    assert_problem(
        start(&s, &new, &a.pk, &secret, EMAIL).await,
        409,
        "confirm-first",
    )
    .await;
    let res = s
        .http
        .post(s.url("/recovery"))
        .header("content-type", "application/jwt")
        .body("not.a.jwt")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "auth-error").await;
}

#[tokio::test]
async fn with_a_phone_bound_both_codes_are_needed() {
    const PHONE: &str = "+31612345678";
    let s = server().await;
    let (a, new) = (Device::new(), Device::new());
    let secret = enrolled(&s, &a).await;
    s.verify(&a, ClaimScope::Phone, PHONE).await;
    let res = s
        .put_jwt(&format!("/key/{}", a.pk), &a.binding(None, Some(PHONE)))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The phone must be given, and be the bound one.
    assert_problem(
        start(&s, &new, &a.pk, &secret, EMAIL).await,
        400,
        "bad-request",
    )
    .await;
    let with_phone = |phone: &'static str| {
        new.sign(
            Claims::new(RecoveryStart {
                id: a.pk.clone(),
                name: "New laptop".into(),
                email: EMAIL.into(),
                phone: Some(phone.into()),
            })
            .audience(s.url("/recovery"))
            .valid_for(s.state.now(), 60),
        )
    };
    let post = |token: String| {
        s.http
            .post(s.url("/recovery"))
            .bearer_auth(&secret)
            .header("content-type", "application/jwt")
            .body(token)
            .send()
    };
    assert_problem(
        post(with_phone("+31600000000")).await.unwrap(),
        401,
        "auth-error",
    )
    .await;
    let res = post(with_phone(PHONE)).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let recovery = res.json::<Value>().await.unwrap()["recovery"]
        .as_str()
        .unwrap()
        .to_string();
    let (email_code, phone_code) = (s.code_for(EMAIL), s.code_for(PHONE));
    // The email code alone is not enough.
    assert_problem(
        step(&s, &new, &recovery, "confirm", codes(&email_code)).await,
        401,
        "auth-error",
    )
    .await;
    let both = RecoveryConfirm {
        email_code,
        phone_code: Some(phone_code),
    };
    let res = step(&s, &new, &recovery, "confirm", both).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "waiting");
}
