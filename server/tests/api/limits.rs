//! What every request is held to: unknown routes and methods, sizes, and
//! the OpenAPI document.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn healthz() {
    let s = TestServer::start().await;
    let res = s.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problem_bodies() {
    let s = TestServer::start().await;
    assert_problem(s.get("/nope").await, 404, "not-found").await;
    let res = s.http.patch(s.url("/key")).send().await.unwrap();
    assert_problem(res, 405, "method-not-allowed").await;
    let res = s.http.delete(s.url("/healthz")).send().await.unwrap();
    assert_problem(res, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn oversized_bodies_and_headers_are_refused() {
    let s = TestServer::start().await;
    let res = s
        .http
        .post(s.url("/key"))
        .header("content-type", "application/jwt")
        .body("a".repeat(100 * 1024))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload-too-large").await;
    let res = s
        .http
        .get(s.url("/healthz"))
        .header("x-big", "b".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_problem(res, 431, "headers-too-large").await;
    let mut req = s.http.get(s.url("/healthz"));
    // Over our limit (64) but under hyper's own (100), which answers a bare 431.
    for i in 0..80 {
        req = req.header(format!("x-h{i}"), "1");
    }
    assert_problem(req.send().await.unwrap(), 431, "headers-too-large").await;
}

#[tokio::test]
async fn bad_query_strings_are_400_problems() {
    let s = TestServer::start().await;
    let d = Device::new();
    let res = s.delete(&format!("/key/{}?secret=%ZZ", d.pk)).await;
    assert!(res.status().is_client_error());
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn openapi_document_covers_the_seed_api() {
    let s = TestServer::start().await;
    let doc: Value = s.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expect = [
        ("/key", &["post", "delete"][..]),
        ("/key/{PK}", &["get", "post", "put", "delete"][..]),
        ("/login", &["post"][..]),
        ("/scope", &["post"][..]),
        ("/scope/{job}", &["get", "post", "put", "delete"][..]),
    ];
    for (path, methods) in expect {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        for m in methods {
            assert!(item.get(*m).is_some(), "{m} {path} missing");
        }
    }
    // Status codes the seed documents.
    let codes = |p: &str, m: &str| -> Vec<String> {
        paths[p][m]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for (p, m, c) in [
        ("/key", "post", "409"),
        ("/key/{PK}", "get", "410"),
        ("/key/{PK}", "put", "409"),
        ("/key", "delete", "409"),
        ("/login", "post", "401"),
        ("/scope", "post", "429"),
        ("/scope/{job}", "get", "204"),
        ("/scope/{job}", "post", "405"),
        ("/scope/{job}", "put", "409"),
    ] {
        assert!(codes(p, m).contains(&c.to_string()), "{m} {p} lacks {c}");
    }
}
