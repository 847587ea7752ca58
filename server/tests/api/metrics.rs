//! `GET /metrics` (parsed as Prometheus text) after a real sign-in, the
//! separate `metrics_listen` listener, and an access log that never writes
//! a query string, a cookie, an `Authorization` header or a body.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use authentiq_protocol::payloads::Decision;
use authentiq_server::logging::{LogFormat, dispatch};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::ciba::{GRANT, ID, answer_pushed, known_user, oauth_error};
use crate::common::*;

/// One sample: its metric name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// One scrape, parsed strictly (the Prometheus text format 0.0.4): any
/// line that is not a comment or a well-formed sample fails the test.
#[derive(Debug)]
struct Metrics(Vec<Sample>);

impl Metrics {
    fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| parse_sample(l).unwrap_or_else(|| panic!("not a sample: {l:?}")))
            .collect();
        for l in text.lines().filter(|l| l.starts_with('#')) {
            assert!(
                l.starts_with("# HELP ") || l.starts_with("# TYPE "),
                "{l:?}"
            );
        }
        Self(samples)
    }

    /// The sum of the samples of `name` with all of `labels` (0 if none).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .fold(0.0, |a, b| a + b)
    }

    /// Every label value of every sample.
    fn label_values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().flat_map(|s| s.labels.values())
    }
}

/// `name{k="v",…} value`, label values with `\\`, `\"` and `\n` escapes.
fn parse_sample(line: &str) -> Option<Sample> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let end = line.find(|c: char| !is_name(c))?;
    let (name, mut rest) = line.split_at(end);
    let mut labels = BTreeMap::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=')?;
            let key = &rest[..eq];
            if key.is_empty() || !key.chars().all(is_name) {
                return None;
            }
            let mut chars = rest[eq + 1..].strip_prefix('"')?.char_indices();
            let mut value = String::new();
            let close = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        _ => return None,
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.to_string(), value);
            rest = &rest[eq + 1..][close + 2..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest.strip_prefix(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[test]
fn the_parser_reads_braces_and_escapes_and_refuses_the_rest() {
    let m = Metrics::parse(concat!(
        "# HELP x_total Things.\n",
        "# TYPE x_total counter\n",
        "x_total{route=\"/sign-in/{sid}\",q=\"a\\\"b\\\\c\"} 2\n",
        "x_total 3\n",
        "h_bucket{le=\"+Inf\"} 4\n",
    ));
    assert_eq!(m.get("x_total", &[("route", "/sign-in/{sid}")]), 2.0);
    assert_eq!(m.get("x_total", &[("q", "a\"b\\c")]), 2.0);
    assert_eq!(m.get("x_total", &[]), 5.0);
    assert_eq!(m.get("h_bucket", &[("le", "+Inf")]), 4.0);
    for bad in [
        "x_total{route=\"/a} 1",
        "x_total{=\"a\"} 1",
        "x_total 1 two",
        "x_total",
    ] {
        assert!(parse_sample(bad).is_none(), "{bad}");
    }
}

async fn scrape_at(http: &reqwest::Client, url: &str) -> Metrics {
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4",
        "the Prometheus text format"
    );
    Metrics::parse(&res.text().await.unwrap())
}

async fn scrape(s: &TestServer) -> Metrics {
    scrape_at(&s.http, &s.url("/metrics")).await
}

/// A server with a CIBA client and at most `pushes` pushes per key a minute.
async fn ciba_server(pushes: u32) -> TestServer {
    let mut c = test_client(ID);
    c.grant_types = vec![GRANT.into()];
    c.redirect_uris = vec![];
    c.response_types = vec![];
    TestServer::start_with(|cfg| {
        cfg.clients = vec![c];
        cfg.rate.pushes_per_key_per_minute = pushes;
    })
    .await
}

impl TestServer {
    async fn bc_authorize_sub(&self, sub: &str) -> reqwest::Response {
        self.http
            .post(self.url("/bc-authorize"))
            .basic_auth(ID, Some(CLIENT_SECRET))
            .form(&[("scope", "openid"), ("login_hint", sub)])
            .send()
            .await
            .unwrap()
    }
}

/// Polls until `metric` reads `want`, or fails after 5 s.
async fn wait_for(s: &TestServer, metric: &str, want: f64) {
    for _ in 0..50 {
        if scrape(s).await.get(metric, &[]) == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{metric} never became {want}");
}

#[tokio::test]
async fn a_sign_in_moves_the_counters() {
    let s = ciba_server(1).await;
    let m = scrape(&s).await;
    assert_eq!(m.get("authentiq_sign_ins_total", &[]), 0.0);
    assert_eq!(m.get("authentiq_device_channels_open", &[]), 0.0);
    let db_calls = m.get("authentiq_db_call_duration_seconds_count", &[]);

    // A known user with their channel open.
    let (d, mut channel, sub) = known_user(&s).await;
    wait_for(&s, "authentiq_device_channels_open", 1.0).await;

    // The client asks, the device is pushed the request and approves, the
    // client polls for its tokens.
    let res = s.bc_authorize_sub(&sub).await;
    assert_eq!(res.status(), StatusCode::OK);
    let started: Value = res.json().await.unwrap();
    let auth_req_id = started["auth_req_id"].as_str().unwrap().to_string();
    let ev = channel.next_within(5).await.expect("the push");
    let req = jwt_payload(&ev.data);
    let session = req["session"].as_str().unwrap();
    let sid = session.rsplit('/').next().unwrap().to_string();
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer_pushed(&d, &req, None, Decision::Approve),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .http
        .post(s.url("/token"))
        .basic_auth(ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", GRANT), ("auth_req_id", &auth_req_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The next push to the key within the minute is refused.
    let refused = s.bc_authorize_sub(&sub).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // No route: its own label, never the path.
    let res = s.get("/no/such/place").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let m = scrape(&s).await;
    let requests = |route: &str, method: &str, status: &str| {
        m.get(
            "http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/bc-authorize", "POST", "200"), 1.0, "{m:#?}");
    assert_eq!(requests("/bc-authorize", "POST", "429"), 1.0);
    assert_eq!(requests("/sign-in/{sid}", "POST", "200"), 1.0);
    assert_eq!(requests("/token", "POST", "200"), 1.0);
    assert_eq!(requests("/channel", "GET", "200"), 1.0);
    assert_eq!(requests("unmatched", "GET", "404"), 1.0);
    assert_eq!(
        m.get(
            "http_request_duration_seconds_count",
            &[("route", "/token"), ("method", "POST")]
        ),
        1.0
    );
    for v in m.label_values() {
        assert!(!v.contains(&sid), "a session id in a label: {v}");
        assert!(!v.contains("no/such"), "a raw path in a label: {v}");
    }
    let sign_ins = |outcome: &str| {
        m.get(
            "authentiq_sign_ins_total",
            &[("flow", "ciba"), ("outcome", outcome)],
        )
    };
    assert_eq!(sign_ins("started"), 2.0, "the refused one was started too");
    assert_eq!(sign_ins("approved"), 1.0);
    assert_eq!(sign_ins("denied"), 0.0);
    assert_eq!(m.get("authentiq_pushes_sent_total", &[]), 1.0);
    assert_eq!(
        m.get(
            "authentiq_pushes_refused_total",
            &[("reason", "rate-limit")]
        ),
        1.0
    );
    assert_eq!(m.get("authentiq_device_channels_open", &[]), 1.0);
    // Database calls are process-wide (other tests run beside this one).
    assert!(m.get("authentiq_db_call_duration_seconds_count", &[]) > db_calls);

    // The device goes away: its channel is no longer counted.
    drop(channel);
    wait_for(&s, "authentiq_device_channels_open", 0.0).await;
}

#[tokio::test]
async fn a_denied_and_an_expired_sign_in_are_counted() {
    let s = ciba_server(10).await;
    let (d, mut channel, sub) = known_user(&s).await;
    let res = s.bc_authorize_sub(&sub).await;
    assert_eq!(res.status(), StatusCode::OK);
    let ev = channel.next_within(5).await.expect("the push");
    let req = jwt_payload(&ev.data);
    let sid = req["session"].as_str().unwrap().rsplit('/').next().unwrap();
    let res = s
        .post_jwt(
            &format!("/sign-in/{sid}"),
            &answer_pushed(&d, &req, None, Decision::Deny),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // A request that runs out unanswered (1 s, the shortest CIBA allows
    // here), its client told so at its poll.
    let res = s
        .http
        .post(s.url("/bc-authorize"))
        .basic_auth(ID, Some(CLIENT_SECRET))
        .form(&[
            ("scope", "openid"),
            ("login_hint", sub.as_str()),
            ("requested_expiry", "1"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    let id = body["auth_req_id"].as_str().expect("started").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let poll = s
        .http
        .post(s.url("/token"))
        .basic_auth(ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", GRANT), ("auth_req_id", &id)])
        .send()
        .await
        .unwrap();
    oauth_error(poll, 400, "expired_token").await;

    let m = scrape(&s).await;
    let sign_ins = |outcome: &str| {
        m.get(
            "authentiq_sign_ins_total",
            &[("flow", "ciba"), ("outcome", outcome)],
        )
    };
    assert_eq!(sign_ins("started"), 2.0);
    assert_eq!(sign_ins("denied"), 1.0);
    assert_eq!(sign_ins("expired"), 1.0);
    assert_eq!(sign_ins("approved"), 0.0);
    assert_eq!(m.get("authentiq_pushes_sent_total", &[]), 2.0);
}

#[tokio::test]
async fn metrics_listen_serves_them_on_their_own_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let s = TestServer::start_with(|c| c.metrics_listen = Some(addr)).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(authentiq_server::serve_metrics(
        listener,
        s.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    // Not on the main listener.
    assert_problem(s.get("/metrics").await, 404, "not-found").await;
    let res = s.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);

    let m = scrape_at(&s.http, &format!("http://{addr}/metrics")).await;
    let requests = |route: &str, status: &str| {
        m.get(
            "http_requests_total",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(requests("unmatched", "404"), 1.0, "the main one's /metrics");
    assert_eq!(requests("/healthz", "200"), 1.0);
    // Only /metrics there.
    let other = s
        .http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    drop(stop);
}

/// Log output, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread: the server's tasks log where this test's log is the default.
#[tokio::test(flavor = "current_thread")]
async fn the_access_log_never_writes_secrets() {
    let log = Captured::default();
    let writer = log.clone();
    let d = dispatch(
        LogFormat::Json,
        EnvFilter::new("info"),
        move || writer.clone(),
        false,
    );
    let _default = tracing::dispatcher::set_default(&d);
    let s = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    // Tests beside this one may have met the log's call sites while no log
    // but the global one (none) existed: have them ask this one too.
    tracing::callsite::rebuild_interest_cache();
    let secrets = [
        "QUERYSECRET1",
        "COOKIESECRET2",
        "BEARERSECRET3",
        "QUERYSECRET4",
        "BODYSECRET5",
    ];
    let res = s
        .http
        .get(s.url("/channel?access_token=QUERYSECRET1"))
        .header("cookie", "aq_binding=COOKIESECRET2")
        .header("authorization", "Bearer BEARERSECRET3")
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    let channel_status = res.status().as_u16();
    assert!(res.status().is_client_error(), "{channel_status}");
    let res = s.get("/nowhere/at-all?code=QUERYSECRET4").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = s
        .http
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "BODYSECRET5"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
    let access: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["target"] == "authentiq::access")
        .collect();
    let line = |route: &str| {
        access
            .iter()
            .find(|l| l["span"]["route"] == route)
            .unwrap_or_else(|| panic!("no access line for {route}:\n{text}"))
    };
    let channel = line("/channel");
    assert_eq!(channel["span"]["method"], "GET");
    assert_eq!(channel["status"], channel_status);
    assert_eq!(
        channel["span"]["client_ip"], "203.0.113.7",
        "the address as the trusted proxy gave it"
    );
    assert!(channel["latency_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(line("/nowhere/at-all")["status"], 404, "the path, no query");
    assert_eq!(line("/token")["span"]["method"], "POST");
}

#[tokio::test]
async fn a_browser_sign_in_is_counted_by_its_flow_and_routes() {
    let s = TestServer::start_with(|c| c.clients = vec![test_client("rp")]).await;
    let res = crate::deployment::authorize(&s, None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = res.headers()["location"].to_str().unwrap().to_string();
    let sid = page.rsplit('/').next().unwrap().to_string();
    assert_eq!(s.get(&page).await.status(), StatusCode::OK);
    // Methods outside the standard ones are one label, not one each.
    for m in ["BREW", "WHEN"] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let res = s.http.request(method, s.url("/authorize")).send().await;
        assert_eq!(res.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    let m = scrape(&s).await;
    let sign_ins = |flow: &str| {
        m.get(
            "authentiq_sign_ins_total",
            &[("flow", flow), ("outcome", "started")],
        )
    };
    assert_eq!(sign_ins("browser"), 1.0);
    assert_eq!(sign_ins("ciba"), 0.0);
    let requests = |route: &str, status: &str| {
        m.get(
            "http_requests_total",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(requests("/authorize", "303"), 1.0);
    assert_eq!(requests("/sign-in/{sid}", "200"), 1.0);
    assert_eq!(
        m.get(
            "http_requests_total",
            &[
                ("route", "/authorize"),
                ("method", "other"),
                ("status", "405")
            ]
        ),
        2.0
    );
    assert!(m.label_values().all(|v| !v.contains(&sid) && v != "BREW"));
}
