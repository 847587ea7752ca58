//! A SIGKILLed server loses nothing it acknowledged.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use authentiq_protocol::payloads::ClaimScope;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

struct Proc {
    child: Child,
    url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn(dir: &std::path::Path, port: u16) -> Proc {
    spawn_with(dir, port, &[]).await
}

async fn spawn_with(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authentiq-server"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Proc { child, url };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut p = spawn(dir.path(), port).await;
    let http = reqwest::Client::new();
    let post = |path: String, body: String| {
        let http = http.clone();
        async move {
            http.post(path)
                .header("content-type", "application/jwt")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // Register keys, bind one after a verification.
    let devices: Vec<Device> = (0..5).map(|_| Device::new()).collect();
    for d in &devices {
        let res = post(format!("{}/key", p.url), d.registration()).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let d = &devices[0];
    let res = post(
        format!("{}/scope", p.url),
        d.claim_request(ClaimScope::Email, "durable@example.com"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let job = res.json::<Value>().await.unwrap()["job"]
        .as_str()
        .unwrap()
        .to_string();
    let outbox = authentiq_server::delivery::outbox::Outbox::new(dir.path()).unwrap();
    let code = outbox
        .latest_to("durable@example.com")
        .unwrap()
        .unwrap()
        .code()
        .unwrap();
    let res = http
        .post(format!("{}/scope/{job}", p.url))
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let res = http
        .put(format!("{}/key/{}", p.url, d.pk))
        .header("content-type", "application/jwt")
        .body(d.binding(Some("durable@example.com"), None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // A second job waiting for its code.
    let res = post(
        format!("{}/scope", p.url),
        devices[1].claim_request(ClaimScope::Phone, "+31611111111"),
    )
    .await;
    let pending = res.json::<Value>().await.unwrap()["job"]
        .as_str()
        .unwrap()
        .to_string();

    // SIGKILL: no chance to flush anything.
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    let mut p = spawn(dir.path(), port).await;

    for d in &devices {
        let res = http
            .get(format!("{}/key/{}", p.url, d.pk))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "key {} lost", d.pk);
    }
    let res = http
        .get(format!("{}/scope/{job}", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the signed grant is still there"
    );
    let res = http
        .get(format!("{}/scope/{pending}", p.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::ACCEPTED,
        "the waiting job is still there"
    );
    // The binding survived: another key cannot take the address.
    let other = &devices[2];
    let res = post(
        format!("{}/scope", p.url),
        other.claim_request(ClaimScope::Email, "durable@example.com"),
    )
    .await;
    let job2 = res.json::<Value>().await.unwrap()["job"]
        .as_str()
        .unwrap()
        .to_string();
    let code = outbox
        .latest_to("durable@example.com")
        .unwrap()
        .unwrap()
        .code()
        .unwrap();
    http.post(format!("{}/scope/{job2}", p.url))
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    let res = http
        .put(format!("{}/key/{}", p.url, other.pk))
        .header("content-type", "application/jwt")
        .body(other.binding(Some("durable@example.com"), None))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // The issuer key is the same: the old grant still verifies against /jwks.
    let jwks: Value = http
        .get(format!("{}/jwks", p.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let okp = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "OKP")
        .count();
    assert_eq!(okp, 1, "one issuer key, the same as before the crash");
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_refresh_load_spends_no_token_without_storing_its_successor() {
    use authentiq_server::store::{KeyRecord, SqliteStore, Store};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("authentiq.sqlite3");
    // What the server had issued before: a key, a client, 32 refresh tokens.
    let chains: Vec<String> = {
        let store = SqliteStore::open(&db_file).unwrap();
        let d = Device::new();
        store
            .insert_key(
                &KeyRecord {
                    pk: d.pk.clone(),
                    secret_hash: vec![0; 32],
                    devtoken: None,
                    registered_at: now(),
                    revoked_at: None,
                    email_hash: None,
                    phone_hash: None,
                },
                None,
            )
            .unwrap();
        let client = serde_json::to_string(&test_client("rp")).unwrap();
        store.insert_client("rp", &client, None, now()).unwrap();
        (0..32).map(|_| seed_refresh(&store, "rp", &d.pk)).collect()
    };
    let grace = [("AUTHENTIQ_OIDC__REFRESH_REUSE_GRACE_SECS", "600")];
    let port = free_port();
    let mut p = spawn_with(dir.path(), port, &grace).await;
    // Each client holds the newest token it was given.
    let held = Arc::new(Mutex::new(chains));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (held, done, url) = (Arc::clone(&held), Arc::clone(&done), p.url.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for round in 0.. {
                    let i = w + 16 * (round % 2);
                    let token = held.lock().unwrap()[i].clone();
                    let Ok(res) = refresh(&http, &url, "rp", &token).await else {
                        return; // the server is gone
                    };
                    if res.status() != StatusCode::OK {
                        panic!("refresh refused under load: {}", res.status());
                    }
                    let Ok(body) = res.json::<Value>().await else {
                        return; // killed while answering
                    };
                    held.lock().unwrap()[i] = body["refresh_token"].as_str().unwrap().to_string();
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Kill mid-load, without warning.
    while done.load(std::sync::atomic::Ordering::Relaxed) < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    // On disk: every chain still has exactly one unspent refresh token.
    {
        let db = rusqlite::Connection::open(&db_file).unwrap();
        let mut st = db
            .prepare(
                "SELECT family, sum(used = 0) FROM records WHERE kind = 'refresh' GROUP BY family",
            )
            .unwrap();
        let live: Vec<(String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(live.len(), 32);
        assert!(live.iter().all(|(_, n)| *n == 1), "{live:?}");
    }
    // After the restart, every client goes on from the token it holds:
    // unspent, or spent by a refresh whose answer the crash swallowed
    // (within the grace period: the same successor again).
    let mut p = spawn_with(dir.path(), port, &grace).await;
    let http = reqwest::Client::new();
    let held = held.lock().unwrap().clone();
    for (i, token) in held.iter().enumerate() {
        let res = refresh(&http, &p.url, "rp", token).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "chain {i} is dead: {}",
            res.text().await.unwrap()
        );
    }
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// Listens on `port` and hands over the body of each POST.
async fn post_listener(port: u16) -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len = text[..i]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        let body = text[i + 4..].to_string();
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        let _ = tx.send(body).await;
                        break;
                    }
                }
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_channel_logout_survives_a_restart_of_the_server() {
    use authentiq_server::store::{KeyRecord, SqliteStore, Store};

    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("authentiq.sqlite3");
    let client_port = free_port();
    // A key with a grant at a client whose back channel is down for now.
    let d = Device::new();
    {
        let store = SqliteStore::open(&db_file).unwrap();
        store
            .insert_key(
                &KeyRecord {
                    pk: d.pk.clone(),
                    secret_hash: vec![0; 32],
                    devtoken: None,
                    registered_at: now(),
                    revoked_at: None,
                    email_hash: None,
                    phone_hash: None,
                },
                None,
            )
            .unwrap();
        let mut client = test_client("rp");
        client.backchannel_logout_uri = Some(format!("http://127.0.0.1:{client_port}/logout"));
        store
            .insert_client("rp", &serde_json::to_string(&client).unwrap(), None, now())
            .unwrap();
        seed_refresh(&store, "rp", &d.pk);
    }
    let port = free_port();
    let mut p = spawn(dir.path(), port).await;
    let sign_out = d.sign(
        authentiq_protocol::jwt::Claims::new(authentiq_protocol::payloads::SignOut {})
            .valid_for(now(), 60),
    );
    let res = reqwest::Client::new()
        .post(format!("{}/key/{}/signout", p.url, d.pk))
        .header("content-type", "application/jwt")
        .body(sign_out)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["clients_told"], 1);
    // The first delivery fails (nobody listens); the server dies.
    let failed = || {
        let db = rusqlite::Connection::open(&db_file).unwrap();
        db.query_row("SELECT attempts FROM outgoing", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    for _ in 0..100 {
        if failed() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed() > 0, "a delivery was tried");
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    // The client comes back, and so does the server: the token arrives.
    let mut received = post_listener(client_port).await;
    let mut p = spawn(dir.path(), port).await;
    let body = tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("the logout token within 30 s of the restart")
        .unwrap();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let claims = jwt_payload(&token);
    assert_eq!(claims["aud"], "rp");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["sub"].is_string());
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_result_reaches_the_webhook_after_a_restart_of_the_server() {
    use authentiq_protocol::jwt::Claims;
    use authentiq_protocol::payloads::{Decision, SignInResponse};
    use authentiq_server::store::{SqliteStore, Store};

    let dir = tempfile::tempdir().unwrap();
    let hook_port = free_port();
    {
        let store = SqliteStore::open(&dir.path().join("authentiq.sqlite3")).unwrap();
        let mut client = test_client("sdk");
        client.sdk_webhook_uri = Some(format!("http://127.0.0.1:{hook_port}/hook"));
        store
            .insert_client("sdk", &serde_json::to_string(&client).unwrap(), None, now())
            .unwrap();
    }
    let port = free_port();
    let mut p = spawn(dir.path(), port).await;
    let http = reqwest::Client::new();
    let d = Device::new();
    let res = http
        .post(format!("{}/key", p.url))
        .header("content-type", "application/jwt")
        .body(d.registration())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let token: Value = http
        .get(format!("{}/mobile-sdk/verification-token", p.url))
        .basic_auth("sdk", Some(CLIENT_SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let started: Value = http
        .post(format!("{}/mobile-sdk/sessions", p.url))
        .bearer_auth(token["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uri = started["sessionUri"].as_str().unwrap();
    let req = jwt_payload(
        &http
            .get(uri)
            .header("accept", "application/jwt")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    // Denied (no claims to verify): a result all the same.
    let answer = d.sign(
        Claims::new(SignInResponse {
            decision: Decision::Deny,
            nonce: req["nonce"].as_str().unwrap().into(),
            number: None,
            scope: String::new(),
            claims: Default::default(),
            grants: vec![],
            push_token: None,
            report: false,
        })
        .audience(uri)
        .valid_for(now(), 60),
    );
    let res = http
        .post(uri)
        .header("content-type", "application/jwt")
        .body(answer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The webhook is down; the first delivery fails; the server dies.
    let db_file = dir.path().join("authentiq.sqlite3");
    let tried = || {
        rusqlite::Connection::open(&db_file)
            .unwrap()
            .query_row("SELECT attempts FROM outgoing", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    for _ in 0..100 {
        if tried() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tried() > 0);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    let mut received = post_listener(hook_port).await;
    let mut p = spawn(dir.path(), port).await;
    let body = tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("the result within 30 s of the restart")
        .unwrap();
    let result: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(result["status"], "denied");
    assert_eq!(result["sessionId"], started["sessionId"]);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}
