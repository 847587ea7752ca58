//! `/scope` and `/scope/{job}`.

use authentiq_protocol::jwt::{self, Claims};
use authentiq_protocol::payloads::{ClaimScope, ScopeGrant};
use authentiq_protocol::{AuthentiqId, Validation};
use authentiq_server::config::{Authority, DeliveryMode};
use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn start_job(s: &TestServer, d: &Device, scope: ClaimScope, value: &str) -> String {
    let res = s.post_jwt("/scope", &d.claim_request(scope, value)).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "waiting");
    let job = body["job"].as_str().unwrap().to_string();
    assert_eq!(job.len(), 20);
    job
}

async fn post_code(s: &TestServer, job: &str, code: &str) -> reqwest::Response {
    s.http
        .post(s.url(&format!("/scope/{job}")))
        .json(&serde_json::json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test]
async fn email_verification_issues_a_grant_that_verifies_with_jwks() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Email, "Eve@Example.com").await;
    let path = format!("/scope/{job}");
    // Waiting for the code.
    assert_eq!(s.get(&path).await.status(), StatusCode::ACCEPTED);
    let code = s.code_for("eve@example.com");
    let res = post_code(&s, &job, &code).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "confirmed");

    let res = s.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/jwt");
    let grant = res.text().await.unwrap();
    let jwks: Value = s.get("/jwks").await.json().await.unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["crv"], "Ed25519");
    let key: AuthentiqId = jwk["x"].as_str().unwrap().parse().unwrap();
    let claims: Claims<ScopeGrant> = jwt::verify(
        &grant,
        key.verifying_key(),
        Some(jwk["kid"].as_str().unwrap()),
        &Validation::at(now()),
    )
    .unwrap();
    assert_eq!(claims.registered.sub.as_deref(), Some(d.pk.as_str()));
    assert_eq!(claims.registered.iss.as_deref(), Some(s.url.as_str()));
    assert_eq!(claims.body.email.as_deref(), Some("eve@example.com"));

    let res = s
        .http
        .get(s.url(&path))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["jwt"], grant.as_str());
    assert_eq!(body["sub"], d.pk.as_str());
    assert_eq!(body["field"], "email");

    assert_eq!(
        s.http.head(s.url(&path)).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn phone_verification_goes_to_the_sms_outbox() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Phone, "+31 6 1234 5678").await;
    let msg = s.outbox().latest_to("+31612345678").unwrap().unwrap();
    assert_eq!(msg.channel, authentiq_server::delivery::Channel::Sms);
    let code = s.code_for("+31612345678");
    // Confirming with a query parameter works too.
    let res = s
        .http
        .post(s.url(&format!("/scope/{job}?code={code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn wrong_codes_are_refused_then_cancel_the_job() {
    let s = TestServer::start_with(|c| c.rate.code_attempts = 3).await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Email, "w@example.com").await;
    let code = s.code_for("w@example.com");
    for _ in 0..2 {
        assert_problem(post_code(&s, &job, wrong(&code)).await, 401, "auth-error").await;
    }
    let body = assert_problem(post_code(&s, &job, wrong(&code)).await, 401, "auth-error").await;
    assert!(body["detail"].as_str().unwrap().contains("cancelled"));
    assert_problem(post_code(&s, &job, &code).await, 404, "unknown-job").await;
}

#[tokio::test]
async fn posting_a_jwt_to_a_job_is_not_supported() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Email, "j@example.com").await;
    assert_problem(
        s.post_jwt(&format!("/scope/{job}"), &d.registration())
            .await,
        405,
        "not-supported",
    )
    .await;
    let res = s
        .http
        .post(s.url(&format!("/scope/{job}")))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad-request").await;
}

#[tokio::test]
async fn unknown_jobs_and_delete() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    assert_problem(
        s.get("/scope/AAAAAAAAAAAAAAAAAAAA").await,
        404,
        "unknown-job",
    )
    .await;
    assert_problem(
        post_code(&s, "AAAAAAAAAAAAAAAAAAAA", "123456").await,
        404,
        "unknown-job",
    )
    .await;
    assert_problem(
        s.delete("/scope/AAAAAAAAAAAAAAAAAAAA").await,
        404,
        "unknown-job",
    )
    .await;
    let job = start_job(&s, &d, ClaimScope::Email, "del@example.com").await;
    let res = s.delete(&format!("/scope/{job}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "done");
    assert_problem(s.get(&format!("/scope/{job}")).await, 404, "unknown-job").await;
}

#[tokio::test]
async fn jobs_expire() {
    let s = TestServer::start().await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Email, "late@example.com").await;
    let code = s.code_for("late@example.com");
    s.state.clock.advance(31 * 60);
    assert_problem(post_code(&s, &job, &code).await, 404, "unknown-job").await;
}

#[tokio::test]
async fn claim_requests_are_rate_limited_per_address() {
    let s = TestServer::start_with(|c| c.rate.scope_per_address = 2).await;
    let d = Device::new();
    s.register(&d).await;
    start_job(&s, &d, ClaimScope::Email, "busy@example.com").await;
    start_job(&s, &d, ClaimScope::Email, "BUSY@example.com").await;
    let res = s
        .post_jwt(
            "/scope",
            &d.claim_request(ClaimScope::Email, "busy@example.com"),
        )
        .await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 3600, "{retry}");
    assert_problem(res, 429, "rate-limit").await;
    // Another address is not affected.
    start_job(&s, &d, ClaimScope::Email, "calm@example.com").await;
}

#[tokio::test]
async fn bad_claim_requests() {
    let s = TestServer::start().await;
    let d = Device::new();
    assert_problem(
        s.post_jwt(
            "/scope",
            &d.claim_request(ClaimScope::Email, "x@example.com"),
        )
        .await,
        404,
        "unknown-key",
    )
    .await;
    s.register(&d).await;
    assert_problem(
        s.post_jwt(
            "/scope",
            &d.claim_request(ClaimScope::Email, "not-an-email"),
        )
        .await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(
        s.post_jwt("/scope", &d.claim_request(ClaimScope::Phone, "0612"))
            .await,
        400,
        "bad-request",
    )
    .await;
    assert_problem(s.post_jwt("/scope", "x.y.z").await, 400, "invalid-jwt").await;
    // A JWT of the wrong shape (no scope).
    assert_problem(
        s.post_jwt("/scope", &d.registration()).await,
        400,
        "invalid-jwt",
    )
    .await;
}

#[tokio::test]
async fn test_jobs_use_the_outbox_even_when_mail_is_configured() {
    // SMTP to a port nobody listens on: real sends fail, test sends don't.
    let s = TestServer::start_with(|c| {
        c.email.mode = DeliveryMode::Smtp;
        c.email.smtp_url = Some("smtp://127.0.0.1:9".into());
    })
    .await;
    let d = Device::new();
    s.register(&d).await;
    let res = s
        .post_jwt(
            "/scope",
            &d.claim_request(ClaimScope::Email, "real@example.com"),
        )
        .await;
    assert_problem(res, 502, "delivery-failed").await;
    let res = s
        .post_jwt(
            "/scope?test=1",
            &d.claim_request(ClaimScope::Email, "test@example.com"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(s.outbox().latest_to("test@example.com").unwrap().is_some());
}

#[tokio::test]
async fn an_external_authority_signs_confirmed_jobs() {
    let authority = SigningKey::from_bytes(&[42; 32]);
    let authority_pk = AuthentiqId::from_verifying_key(authority.verifying_key())
        .unwrap()
        .to_string();
    let apk = authority_pk.clone();
    let s = TestServer::start_with(move |c| {
        c.authorities.push(Authority {
            kid: "sms-authority".into(),
            public_key: apk,
            scopes: vec!["phone".into()],
        })
    })
    .await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Phone, "+31655555555").await;
    let path = format!("/scope/{job}");
    let grant = |sub: &str, phone: &str, key: &SigningKey| {
        let c = Claims::new(ScopeGrant {
            scope: ClaimScope::Phone,
            email: None,
            phone_number: Some(phone.into()),
        })
        .subject(sub)
        .valid_for(now(), 3600);
        jwt::sign(&c, key, "sms-authority").unwrap()
    };
    // Not confirmed yet.
    assert_problem(
        s.put_jwt(&path, &grant(&d.pk, "+31655555555", &authority))
            .await,
        409,
        "confirm-first",
    )
    .await;
    let code = s.code_for("+31655555555");
    assert_eq!(
        post_code(&s, &job, &code).await.status(),
        StatusCode::ACCEPTED
    );
    // Confirmed, waiting for the authority.
    assert_eq!(s.get(&path).await.status(), StatusCode::NO_CONTENT);
    // Someone else's signature, or a grant for another number, is refused.
    let impostor = SigningKey::from_bytes(&[7; 32]);
    assert_problem(
        s.put_jwt(&path, &grant(&d.pk, "+31655555555", &impostor))
            .await,
        401,
        "auth-error",
    )
    .await;
    assert_problem(
        s.put_jwt(&path, &grant(&d.pk, "+31600000000", &authority))
            .await,
        401,
        "auth-error",
    )
    .await;
    let good = grant(&d.pk, "+31655555555", &authority);
    let res = s.put_jwt(&path, &good).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let res = s.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), good);
    assert_problem(s.put_jwt(&path, &good).await, 409, "conflict").await;
    assert_problem(
        s.put_jwt("/scope/AAAAAAAAAAAAAAAAAAAA", &good).await,
        404,
        "unknown-job",
    )
    .await;
}

/// `n` wrong codes for `job`, all sent at once; the answers' details.
async fn parallel_wrong_codes(s: &TestServer, job: &str, code: &str, n: usize) -> Vec<String> {
    let answers =
        futures_util::future::join_all((0..n).map(|_| post_code(s, job, wrong(code)))).await;
    let mut details = Vec::new();
    for res in answers {
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
            "{status} {body}"
        );
        details.push(body["detail"].as_str().unwrap().to_string());
    }
    details
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_attempts_sent_at_once_still_cancel_the_job() {
    let s = TestServer::start_with(|c| c.rate.code_attempts = 5).await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Email, "race@example.com").await;
    let code = s.code_for("race@example.com");
    parallel_wrong_codes(&s, &job, &code, 5).await;
    // Exactly code_attempts wrong guesses, however they arrived: the job is over.
    let res = post_code(&s, &job, &code).await;
    assert!(
        matches!(res.status().as_u16(), 401 | 404),
        "the right code after the limit: {}",
        res.status()
    );
    let events = s
        .state
        .db
        .call(|st| st.list_security_events(&Default::default(), 10))
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "code-limit-reached")
            .count(),
        1,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_guesses_at_once_get_at_most_code_attempts_comparisons() {
    let s = TestServer::start_with(|c| c.rate.code_attempts = 5).await;
    let d = Device::new();
    s.register(&d).await;
    let job = start_job(&s, &d, ClaimScope::Email, "guess@example.com").await;
    let code = s.code_for("guess@example.com");
    let details = parallel_wrong_codes(&s, &job, &code, 50).await;
    // A compared guess is told its code was wrong; the rest never got that far.
    let compared = details
        .iter()
        .filter(|d| d.starts_with("wrong code"))
        .count();
    assert!(compared <= 5, "{compared} guesses compared: {details:?}");
    assert!(compared >= 1, "{details:?}");
    assert_problem(post_code(&s, &job, &code).await, 404, "unknown-job").await;
}
