//! `/key` and `/key/{PK}`.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{ClaimScope, Registration};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn register_then_retrieve_and_head() {
    let s = TestServer::start().await;
    let d = Device::new();
    let res = s.post_jwt("/key", &d.registration()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "registered");
    assert_eq!(body["secret"].as_str().unwrap().len(), 43);

    let res = s.get(&format!("/key/{}", d.pk)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["sub"], d.pk.as_str());
    assert_eq!(info["status"], "registered");
    assert!(info["since"].as_str().unwrap().contains('T'));

    let res = s
        .http
        .head(s.url(&format!("/key/{}", d.pk)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn duplicate_registration_is_409() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    assert_problem(
        s.post_jwt("/key", &d.registration()).await,
        409,
        "duplicate-key",
    )
    .await;
}

#[tokio::test]
async fn unknown_and_malformed_pks_are_404() {
    let s = TestServer::start().await;
    assert_problem(
        s.get(&format!("/key/{}", Device::new().pk)).await,
        404,
        "unknown-key",
    )
    .await;
    assert_problem(s.get("/key/not-a-key").await, 404, "unknown-key").await;
    let res = s
        .http
        .head(s.url(&format!("/key/{}", Device::new().pk)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_registration_jwts_are_refused_with_the_right_status() {
    let s = TestServer::start().await;
    let d = Device::new();
    // Malformed.
    assert_problem(s.post_jwt("/key", "not.a.jwt").await, 400, "invalid-jwt").await;
    assert_problem(s.post_jwt("/key", "abc").await, 400, "invalid-jwt").await;
    assert_problem(s.post_jwt("/key", "").await, 400, "invalid-jwt").await;
    // Expired.
    let expired = d.sign(Claims::new(Registration::default()).valid_for(now() - 1000, 300));
    assert_problem(s.post_jwt("/key", &expired).await, 401, "auth-error").await;
    // Signed by another key than its kid/sub.
    let other = Device::new();
    let claims = Claims::new(Registration::default())
        .subject(d.pk.clone())
        .valid_for(now(), 300);
    let forged = jwt::sign(&claims, &other.key, &d.pk).unwrap();
    assert_problem(s.post_jwt("/key", &forged).await, 401, "auth-error").await;
    // alg none.
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(r#"{{"sub":"{}","exp":{}}}"#, d.pk, now() + 60))
    );
    assert_problem(s.post_jwt("/key", &none).await, 401, "auth-error").await;
    // Too long a lifetime for an action token.
    let long = d.sign(Claims::new(Registration::default()).valid_for(now(), 86_400));
    assert_problem(s.post_jwt("/key", &long).await, 401, "auth-error").await;
    // Oversized.
    let big = "a".repeat(9000);
    assert_problem(s.post_jwt("/key", &big).await, 413, "payload-too-large").await;
    // Wrong media type.
    let res = s
        .http
        .post(s.url("/key"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported-media-type").await;
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn a_replayed_jwt_is_refused() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let t = d.binding(Some("a@example.com"), None);
    // First use: refused for lack of verification, but the jti is spent.
    assert_problem(
        s.put_jwt(&format!("/key/{}", d.pk), &t).await,
        409,
        "confirm-first",
    )
    .await;
    let body = assert_problem(
        s.put_jwt(&format!("/key/{}", d.pk), &t).await,
        401,
        "auth-error",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("already used"),
        "{body}"
    );
}

#[tokio::test]
async fn revoke_with_secret() {
    let s = TestServer::start().await;
    let d = Device::new();
    let secret = s.register(&d).await;
    let path = format!("/key/{}", d.pk);
    assert_problem(
        s.delete(&format!("{path}?secret=wrong")).await,
        401,
        "auth-error",
    )
    .await;
    assert_problem(s.delete(&path).await, 400, "bad-request").await;
    assert_problem(
        s.delete(&format!("/key/{}?secret={secret}", Device::new().pk))
            .await,
        404,
        "unknown-key",
    )
    .await;
    let res = s.delete(&format!("{path}?secret={secret}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "done");
    // Revoked answers 410 everywhere.
    assert_problem(s.get(&path).await, 410, "revoked-key").await;
    let res = s.http.head(s.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert_problem(
        s.delete(&format!("{path}?secret={secret}")).await,
        410,
        "revoked-key",
    )
    .await;
    assert_problem(
        s.put_jwt(&path, &d.binding(Some("a@example.com"), None))
            .await,
        410,
        "revoked-key",
    )
    .await;
    assert_problem(
        s.post_jwt(
            "/scope",
            &d.claim_request(ClaimScope::Email, "a@example.com"),
        )
        .await,
        410,
        "revoked-key",
    )
    .await;
    // And it cannot be registered again.
    assert_problem(
        s.post_jwt("/key", &d.registration()).await,
        409,
        "duplicate-key",
    )
    .await;
}

#[tokio::test]
async fn bind_needs_verification_and_is_unique() {
    let s = TestServer::start().await;
    let a = Device::new();
    let b = Device::new();
    s.register(&a).await;
    s.register(&b).await;
    let path = format!("/key/{}", a.pk);
    assert_problem(
        s.put_jwt(&path, &a.binding(Some("a@example.com"), None))
            .await,
        409,
        "confirm-first",
    )
    .await;
    s.verify(&a, ClaimScope::Email, "a@example.com").await;
    let res = s
        .put_jwt(&path, &a.binding(Some("A@Example.com"), None))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // b verifies the same address, but a holds the binding.
    s.verify(&b, ClaimScope::Email, "a@example.com").await;
    assert_problem(
        s.put_jwt(
            &format!("/key/{}", b.pk),
            &b.binding(Some("a@example.com"), None),
        )
        .await,
        409,
        "duplicate-hash",
    )
    .await;
    // Signed by a, for b's path.
    assert_problem(
        s.put_jwt(
            &format!("/key/{}", b.pk),
            &a.binding(Some("a@example.com"), None),
        )
        .await,
        401,
        "auth-error",
    )
    .await;
    assert_problem(
        s.put_jwt(&path, &a.binding(None, None)).await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(
        s.put_jwt(&path, &a.binding(Some("nope"), None)).await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(
        s.put_jwt(
            &format!("/key/{}", Device::new().pk),
            &a.binding(Some("a@example.com"), None),
        )
        .await,
        401,
        "auth-error",
    )
    .await;
}

#[tokio::test]
async fn update_records_grants_and_binds() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let email_grant = s.verify(&d, ClaimScope::Email, "d@example.com").await;
    let phone_grant = s.verify(&d, ClaimScope::Phone, "+31612345678").await;
    let path = format!("/key/{}", d.pk);
    let res = s
        .post_jwt(&path, &d.key_update(vec![email_grant.clone(), phone_grant]))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "confirmed");
    // A grant for someone else is refused.
    let other = Device::new();
    s.register(&other).await;
    assert_problem(
        s.post_jwt(
            &format!("/key/{}", other.pk),
            &other.key_update(vec![email_grant]),
        )
        .await,
        401,
        "auth-error",
    )
    .await;
    // A grant signed by the device itself is not an issuer grant.
    let fake = d.sign(
        Claims::new(authentiq_protocol::payloads::ScopeGrant {
            scope: ClaimScope::Email,
            email: Some("x@example.com".into()),
            phone_number: None,
        })
        .valid_for(now(), 60),
    );
    assert_problem(
        s.post_jwt(&path, &d.key_update(vec![fake])).await,
        401,
        "auth-error",
    )
    .await;
    assert_problem(
        s.post_jwt(&path, &d.key_update(vec![])).await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(
        s.post_jwt(
            &format!("/key/{}", Device::new().pk),
            &d.key_update(vec!["x".into()]),
        )
        .await,
        401,
        "auth-error",
    )
    .await;
}

#[tokio::test]
async fn revoke_by_email_and_phone_with_a_code() {
    let s = TestServer::start().await;
    let email = "lost@example.com";
    let (d, q) = bound_key(&s, email, "+31600000001").await;
    assert_eq!(q, "/key?email=lost%40example.com&phone=%2B31600000001");
    let q = q.as_str();
    assert_problem(
        s.delete(&format!("{q}&code=123456")).await,
        409,
        "confirm-first",
    )
    .await;
    let res = s.delete(q).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "pending");
    let code = s.code_for(email);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_problem(
        s.delete(&format!("{q}&code={wrong}")).await,
        401,
        "auth-error",
    )
    .await;
    let res = s.delete(&format!("{q}&code={code}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "done");
    assert_problem(s.get(&format!("/key/{}", d.pk)).await, 410, "revoked-key").await;
    // Unknown binding now.
    assert_problem(s.delete(q).await, 404, "unknown-key").await;
    assert_problem(
        s.delete("/key?email=bad&phone=%2B31600000001").await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(s.delete("/key").await, 400, "bad-request").await;
}

#[tokio::test]
async fn wrong_revocation_codes_are_limited() {
    let s = TestServer::start_with(|c| c.rate.code_attempts = 2).await;
    let (_d, q) = bound_key(&s, "x@example.com", "+31600000002").await;
    let q = q.as_str();
    s.delete(q).await;
    let code = s.code_for("x@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_problem(
        s.delete(&format!("{q}&code={wrong}")).await,
        401,
        "auth-error",
    )
    .await;
    let body = assert_problem(
        s.delete(&format!("{q}&code={wrong}")).await,
        401,
        "auth-error",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("too many"));
    // The right code no longer works: the pending code is gone.
    assert_problem(
        s.delete(&format!("{q}&code={code}")).await,
        409,
        "confirm-first",
    )
    .await;
}

/// A key with a verified and bound email and phone; the revocation query.
async fn bound_key(s: &TestServer, email: &str, phone: &str) -> (Device, String) {
    let d = Device::new();
    s.register(&d).await;
    s.verify(&d, ClaimScope::Email, email).await;
    s.verify(&d, ClaimScope::Phone, phone).await;
    let res = s
        .put_jwt(
            &format!("/key/{}", d.pk),
            &d.binding(Some(email), Some(phone)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let q = format!(
        "/key?email={}&phone={}",
        url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(phone.as_bytes()).collect::<String>()
    );
    (d, q)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_revocation_code_guesses_are_bounded() {
    let s = TestServer::start_with(|c| c.rate.code_attempts = 5).await;
    let (d, q) = bound_key(&s, "par@example.com", "+31600000003").await;
    s.delete(&q).await;
    let code = s.code_for("par@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let guess = format!("{q}&code={wrong}");
    // Exactly code_attempts wrong guesses at once...
    let answers = futures_util::future::join_all((0..5).map(|_| s.delete(&guess))).await;
    let mut compared = 0;
    for res in answers {
        let body: Value = res.json().await.unwrap();
        if body["detail"].as_str().unwrap().starts_with("wrong code") {
            compared += 1;
        }
    }
    assert!(compared <= 5, "{compared} guesses compared");
    // ...and the right code comes too late: nothing is revoked.
    let res = s.delete(&format!("{q}&code={code}")).await;
    assert!(
        matches!(res.status().as_u16(), 401 | 409),
        "{}",
        res.status()
    );
    assert_eq!(
        s.get(&format!("/key/{}", d.pk)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_revocation_secret_can_stay_out_of_the_url() {
    let s = TestServer::start().await;
    let path = |d: &Device| s.url(&format!("/key/{}", d.pk));
    // As a Bearer token.
    let d = Device::new();
    let secret = s.register(&d).await;
    let res = s
        .http
        .delete(path(&d))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "auth-error").await;
    let res = s
        .http
        .delete(path(&d))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_problem(s.get(&format!("/key/{}", d.pk)).await, 410, "revoked-key").await;
    // As JSON.
    let d = Device::new();
    let secret = s.register(&d).await;
    let res = s
        .http
        .delete(path(&d))
        .json(&serde_json::json!({ "secret": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // As a form.
    let d = Device::new();
    let secret = s.register(&d).await;
    let res = s
        .http
        .delete(path(&d))
        .form(&[("secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Two ways at once, or a body without it: refused, nothing revoked.
    let d = Device::new();
    let secret = s.register(&d).await;
    let res = s
        .http
        .delete(format!("{}?secret={secret}", path(&d)))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad-request").await;
    let res = s
        .http
        .delete(path(&d))
        .json(&serde_json::json!({ "nope": 1 }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad-request").await;
    assert_eq!(
        s.get(&format!("/key/{}", d.pk)).await.status(),
        StatusCode::OK
    );
}
