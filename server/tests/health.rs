//! The real server on 127.0.0.1:0, over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

async fn start() -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(authentiq_server::serve(
        listener,
        authentiq_server::AppState::default(),
        async {
            let _ = rx.await;
        },
    ));
    (addr, tx, handle)
}

#[tokio::test]
async fn healthz_answers_ok_and_shutdown_is_graceful() {
    let (addr, stop, handle) = start().await;
    let res = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problem_bodies() {
    let (addr, _stop, _h) = start().await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://{addr}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], 404);
    assert_eq!(body["type"], "not-found");

    let res = client
        .delete(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], 405);
    assert_eq!(body["type"], "method-not-allowed");
}
