//! `/token` grants under load, replays and revocation (the full sign-in
//! that issues them is tested end to end in `tests/`).

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn server_with_client(grace: u64) -> TestServer {
    TestServer::start_with(|c| {
        c.clients = vec![test_client("rp")];
        c.oidc.refresh_reuse_grace_secs = grace;
    })
    .await
}

async fn seed(s: &TestServer, pk: &str) -> String {
    let pk = pk.to_string();
    s.state
        .db
        .call(move |st| Ok(seed_refresh(st, "rp", &pk)))
        .await
        .unwrap()
}

/// 16 clients refreshing at once while another process writes to the same
/// database (as `authentiq-server client add` does beside a running
/// server): a read-then-write that could not take the write lock used to
/// answer 500 `database is locked`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_never_fail() {
    let s = server_with_client(0).await;
    let d = Device::new();
    s.register(&d).await;
    let (workers, rounds) = (16, 500);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let mut token = seed(&s, &d.pk).await;
        let (http, base) = (s.http.clone(), s.url.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for _ in 0..rounds {
                let res = refresh(&http, &base, "rp", &token).await.unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap();
                if status.is_success() {
                    token = body["refresh_token"].as_str().unwrap().to_string();
                } else {
                    failures.push(format!("{status} {body}"));
                    break;
                }
            }
            failures
        }));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let side_writer = {
        let (stop, path) = (stop.clone(), s.dir.path().join("authentiq.sqlite3"));
        std::thread::spawn(move || {
            use authentiq_server::store::Store;
            let store = authentiq_server::store::SqliteStore::open(&path).unwrap();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.use_jti(&format!("side:{n}"), now() + 60).unwrap();
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            n
        })
    };
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let side_writes = side_writer.join().unwrap();
    assert!(failures.is_empty(), "non-2xx answers: {failures:?}");
    assert!(
        side_writes > 100,
        "the other writer wrote {side_writes} times"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_family_without_grace() {
    let s = server_with_client(0).await;
    let d = Device::new();
    s.register(&d).await;
    let first = seed(&s, &d.pk).await;
    let res = refresh(&s.http, &s.url, "rp", &first).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let second = res.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = refresh(&s.http, &s.url, "rp", &first).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The whole family went with it.
    let res = refresh(&s.http, &s.url, "rp", &second).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let events = s
        .state
        .db
        .call(|st| st.list_security_events(&Default::default(), 10))
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "token-reused" && e.pk.as_deref() == Some(d.pk.as_str()))
    );
}

#[tokio::test]
async fn within_the_grace_period_the_same_client_gets_the_same_tokens() {
    let s = server_with_client(60).await;
    let d = Device::new();
    s.register(&d).await;
    let first = seed(&s, &d.pk).await;
    let a: Value = refresh(&s.http, &s.url, "rp", &first)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The answer was lost; the client tries again with the same token.
    let res = refresh(&s.http, &s.url, "rp", &first).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(a["access_token"], b["access_token"]);
    let userinfo = s
        .http
        .get(s.url("/userinfo"))
        .bearer_auth(b["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);
    // Another client holding the token gets nothing, and the family goes.
    let next = b["refresh_token"].as_str().unwrap().to_string();
    let res = s
        .http
        .post(s.url("/token"))
        .basic_auth("other", Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &first)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "unknown client");
    // Once the successor is used, the old token is a reuse again.
    let c: Value = refresh(&s.http, &s.url, "rp", &next)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(c["refresh_token"].is_string(), "{c}");
    let res = refresh(&s.http, &s.url, "rp", &first).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = refresh(&s.http, &s.url, "rp", c["refresh_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the family is revoked"
    );
}

#[tokio::test]
async fn a_revoked_keys_refresh_tokens_stop_at_once() {
    let s = server_with_client(60).await;
    let d = Device::new();
    let secret = s.register(&d).await;
    let token = seed(&s, &d.pk).await;
    let res = refresh(&s.http, &s.url, "rp", &token).await.unwrap();
    let body: Value = res.json().await.unwrap();
    let (next, access) = (
        body["refresh_token"].as_str().unwrap().to_string(),
        body["access_token"].as_str().unwrap().to_string(),
    );
    let res = s
        .http
        .delete(s.url(&format!("/key/{}", d.pk)))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = refresh(&s.http, &s.url, "rp", &next).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // Not even a replay within the grace period.
    let res = refresh(&s.http, &s.url, "rp", &token).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = s
        .http
        .get(s.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
