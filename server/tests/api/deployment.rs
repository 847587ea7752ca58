//! What a deployment relies on: the client's address behind trusted
//! reverse proxies and the per-address limits, HSTS, one server per data
//! directory, failures shown as failures, and the server's own clock.

use reqwest::StatusCode;

use crate::common::*;

/// A browser that does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET /authorize` for the test client, as a browser behind `xff`.
pub async fn authorize(s: &TestServer, xff: Option<&str>) -> reqwest::Response {
    let mut req = browser().get(s.url("/authorize")).query(&[
        ("client_id", "rp"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]);
    if let Some(ip) = xff {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

/// Whether `/authorize` started a sign-in (303 to the page) or was limited.
async fn started(s: &TestServer, xff: Option<&str>) -> bool {
    let res = authorize(s, xff).await;
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    match res.status() {
        StatusCode::SEE_OTHER => true,
        StatusCode::FOUND if loc.contains("error=temporarily_unavailable") => false,
        other => panic!("{other} {loc}"),
    }
}

#[tokio::test]
async fn per_address_limits_see_the_client_behind_a_trusted_proxy() {
    let s = TestServer::start_with(|c| {
        c.clients = vec![test_client("rp")];
        c.rate.sign_ins_per_ip_per_minute = 2;
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    assert!(started(&s, Some("203.0.113.1")).await);
    assert!(
        started(&s, Some("198.51.100.7, 203.0.113.1")).await,
        "the forged entry is ignored"
    );
    assert!(
        !started(&s, Some("203.0.113.1")).await,
        "this client's limit"
    );
    assert!(
        started(&s, Some("203.0.113.2")).await,
        "another client behind the same proxy"
    );
    assert!(started(&s, None).await, "the proxy itself");
}

#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_ignored() {
    let s = TestServer::start_with(|c| {
        c.clients = vec![test_client("rp")];
        c.rate.sign_ins_per_ip_per_minute = 2;
    })
    .await;
    assert!(started(&s, Some("203.0.113.1")).await);
    assert!(started(&s, Some("203.0.113.2")).await);
    assert!(
        !started(&s, Some("203.0.113.3")).await,
        "all one peer: 127.0.0.1"
    );
}

#[tokio::test]
async fn the_device_is_shown_the_client_behind_the_proxy() {
    let s = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let d = Device::new();
    s.register(&d).await;
    let mut events = SseReader::new(open_channel(&s, &d, None).await);
    let res = s
        .http
        .post(s.url("/login?callback=https%3A%2F%2Frp.example%2Fcb"))
        .header("content-type", "application/jwt")
        .header("x-forwarded-for", "203.0.113.50")
        .body(d.push_token("https://rp.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ev = events.next_within(5).await.expect("the push");
    let claims = jwt_payload(&ev.data);
    assert_eq!(claims["requester"]["ip"], "203.0.113.50", "{claims}");
}

#[tokio::test]
async fn hsts_only_when_the_public_url_is_https() {
    let s = TestServer::start_with(|c| c.public_url = "https://id.example".into()).await;
    let res = s.get("/healthz").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let plain = TestServer::start().await;
    assert!(
        plain
            .get("/healthz")
            .await
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

#[tokio::test]
async fn sign_in_status_streams_are_capped_per_address() {
    let s = TestServer::start_with(|c| {
        c.clients = vec![test_client("rp")];
        c.limits.event_streams_per_ip = 2;
    })
    .await;
    let res = authorize(&s, None).await;
    let page = res.headers()["location"].to_str().unwrap().to_string();
    let events = s.url(&format!("{page}/events"));
    let a = s.http.get(&events).send().await.unwrap();
    let b = s.http.get(&events).send().await.unwrap();
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    assert_problem(s.http.get(&events).send().await.unwrap(), 429, "rate-limit").await;
    drop(a);
    // The place comes back once the server sees the stream gone.
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if s.state.streams.open("127.0.0.1") < 2 {
            ok = s.http.get(&events).send().await.unwrap().status() == StatusCode::OK;
            break;
        }
    }
    assert!(ok, "a closed stream frees its place");
    drop(b);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = TestServer::start().await;
    let config = authentiq_server::config::Config {
        data_dir: s.dir.path().to_path_buf(),
        ..Default::default()
    };
    let err = authentiq_server::AppState::open(config.clone()).unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
    drop(s);
    // The lock goes with the server (here: when its state is dropped).
}

#[tokio::test]
async fn store_failures_are_failures_not_expired_sign_ins() {
    let s = TestServer::start_with(|c| c.clients = vec![test_client("rp")]).await;
    let res = authorize(&s, None).await;
    let page = res.headers()["location"].to_str().unwrap().to_string();
    // Break the database under the running server.
    let db = rusqlite::Connection::open(s.dir.path().join("authentiq.sqlite3")).unwrap();
    db.execute_batch("DROP TABLE revoked_families").unwrap();
    let res = s.get(&page).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let html = res.text().await.unwrap();
    assert!(html.contains("Something went wrong"), "{html}");
    assert!(!html.contains("expired"), "{html}");
    let res = browser()
        .get(s.url("/authorize"))
        .query(&[
            ("client_id", "rp"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .header("cookie", "aq_sso=whatever")
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.contains("error=server_error"), "{loc}");
}

#[tokio::test]
async fn the_sign_in_page_counts_down_by_the_servers_clock() {
    let s = TestServer::start_with(|c| c.clients = vec![test_client("rp")]).await;
    // The server's clock runs ahead of the machine's (as an injected test clock does).
    s.state.clock.advance(1000);
    let res = authorize(&s, None).await;
    let page = res.headers()["location"].to_str().unwrap().to_string();
    let html = s.get(&page).await.text().await.unwrap();
    let shown: i64 = html
        .split("data-server-now=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (shown - s.state.now()).abs() <= 2,
        "page says {shown}, server {}",
        s.state.now()
    );
}
