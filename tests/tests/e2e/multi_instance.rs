//! Two server processes on one PostgreSQL behave as one server: a sign-in
//! started at one instance is pushed through the other, answered there, and
//! continued, exchanged and refreshed wherever the load balancer sends the
//! next request; both publish the same keys, before and after a rotation;
//! and the loss of one instance (`kill -9`) loses no acknowledged sign-in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use authentiq_protocol::payloads::{Decision, SignInRequest};
use authentiq_server::store::pg_cluster;
use base64::Engine;
use serde_json::Value;

use crate::oidc::common::{
    Page, REDIRECT, VERIFIER, browser, challenge, code_form, continue_to_client, open_sign_in,
    param,
};
use crate::support::device::Device;
use crate::support::provider::{Server, now};

const CLIENT: &str = "rp-multi";

/// One `authentiq-server` process on the shared database.
struct Instance {
    child: Child,
    url: String,
    /// The address every instance is reached at (the load balancer's).
    public: String,
    dir: tempfile::TempDir,
}

impl Server for Instance {
    fn url(&self) -> &str {
        &self.url
    }
    fn public_url(&self) -> &str {
        &self.public
    }
    fn outbox_dir(&self) -> &Path {
        self.dir.path()
    }
    fn now(&self) -> i64 {
        now()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.dir.path().join("server.log");
            eprintln!(
                "--- {} log:\n{}",
                self.url,
                authentiq_tests::procs::tail(&log, 40)
            );
        }
    }
}

fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("authentiq-server");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p authentiq-server`",
        bin.display()
    );
    bin
}

/// What every instance shares: the database, the master key, the public URL.
struct Shared {
    database_url: String,
    master_key: String,
    public: String,
    /// More settings, the same on every instance.
    env: Vec<(&'static str, &'static str)>,
}

impl Shared {
    fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(server_binary());
        cmd.arg("--data-dir")
            .arg(dir)
            .arg("--public-url")
            .arg(&self.public)
            .env("AUTHENTIQ_DATABASE_URL", &self.database_url)
            .env("AUTHENTIQ_MASTER_KEY", &self.master_key)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().copied());
        cmd
    }

    async fn spawn(&self, port: u16) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = self
            .command(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // Dropped (killed and reaped, its log shown) if it never answers.
        let instance = Instance {
            child,
            url: format!("http://127.0.0.1:{port}"),
            public: self.public.clone(),
            dir,
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", instance.url))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return instance;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the instance on port {port} did not start");
    }

    /// `authentiq-server <args>` against the shared database; its output.
    fn cli(&self, args: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = self.command(dir.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "authentiq-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn free_port() -> u16 {
    authentiq_tests::procs::free_port().unwrap()
}

/// Two instances on a fresh database, a client registered from the
/// command line, and its secret.
async fn two_instances() -> (Shared, Instance, Instance, String) {
    two_instances_with(Vec::new()).await
}

async fn two_instances_with(
    env: Vec<(&'static str, &'static str)>,
) -> (Shared, Instance, Instance, String) {
    let database_url = pg_cluster::fresh_database().unwrap();
    let master_key = base64::engine::general_purpose::STANDARD
        .encode(authentiq_server::secrets::random_bytes::<32>());
    let (pa, pb) = (free_port(), free_port());
    let shared = Shared {
        database_url,
        master_key,
        // Behind a load balancer both answer to one address; here it is A's.
        public: format!("http://127.0.0.1:{pa}"),
        env,
    };
    let (a, b) = tokio::join!(shared.spawn(pa), shared.spawn(pb));
    let out = shared.cli(&[
        "client",
        "add",
        "--id",
        CLIENT,
        "--name",
        "Two instances",
        "--redirect-uri",
        REDIRECT,
    ]);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .unwrap()
        .trim()
        .to_string();
    (shared, a, b, secret)
}

fn authorize_url(at: &Instance) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", CLIENT)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email~rs")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", &challenge())
        .append_pair("code_challenge_method", "S256");
    format!("{}/authorize?{}", at.url, q.finish())
}

/// The same URL on another instance.
fn at(url: &str, instance: &Instance) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let port = url::Url::parse(&instance.url).unwrap().port();
    u.set_port(port).unwrap();
    u.to_string()
}

/// A sign-in started in a browser: the browser and its page.
struct Started {
    browser: reqwest::Client,
    page: Page,
}

/// `/authorize` and the page at `start`, "send to my device" (acknowledged).
async fn start_sign_in(start: &Instance, email: &str) -> Started {
    let (s, status) = try_sign_in(start, email).await;
    assert_eq!(status, 200, "push at {}", start.url);
    s
}

/// [`start_sign_in`], with the push's status.
async fn try_sign_in(start: &Instance, email: &str) -> (Started, u16) {
    let browser = browser();
    let page = open_sign_in(start, &browser, &authorize_url(start)).await;
    let res = browser
        .post(format!("{}/sign-in/{}/push", start.url, page.sid))
        .form(&[("email", email), ("csrf", page.csrf.as_str())])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (Started { browser, page }, status)
}

/// The device reads the next request (its channel is open wherever it is)
/// and answers it at `answer_at`.
async fn approve(device: &mut Device, channel_at: &Instance, answer_at: &Instance, s: &Started) {
    let req = device.next_request(channel_at).await;
    answer(device, &req, answer_at, s).await;
}

/// The device approves `req` at `answer_at` (acknowledged).
async fn answer(device: &Device, req: &SignInRequest, answer_at: &Instance, s: &Started) {
    let token = device.answer(req, Decision::Approve, Some(s.page.number), "openid email");
    let res = reqwest::Client::new()
        .post(at(&req.session, answer_at))
        .header("content-type", "application/jwt")
        .body(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// The page's status stream at `page_at`, until it says `approved`.
async fn page_sees_approval(page_at: &Instance, s: &Started) {
    let mut res = s
        .browser
        .get(format!("{}/sign-in/{}/events", page_at.url, s.page.sid))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if buf.contains("\"approved\"") {
                return;
            }
            let chunk = res.chunk().await.unwrap().expect("the stream ended");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the page at {} never saw the approval: {buf}", page_at.url));
}

/// Continue at `at`: the code.
async fn continue_at(at: &Instance, s: &Started) -> String {
    param(&continue_to_client(at, &s.browser, &s.page).await, "code").unwrap()
}

async fn token(at: &Instance, secret: &str, form: &[(&str, &str)]) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/token", at.url))
        .basic_auth(CLIENT, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "token at {}: {}",
        at.url,
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

/// The `sub` of an ID token (its signature is the client library's job:
/// the OIDC interop tests check it).
fn sub_of(tokens: &Value) -> String {
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

async fn jwks(at: &Instance) -> Value {
    reqwest::get(format!("{}/jwks", at.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sign_in_crosses_instances_and_both_publish_the_same_keys() {
    let (shared, a, b, secret) = two_instances().await;
    // The device's channel is held by B (its enrolment went there too).
    let mut device = Device::enrol(&b, "two@example.com").await;

    // The browser starts at A, and its page listens at A.
    let s = start_sign_in(&a, &device.email).await;
    let page = page_sees_approval(&a, &s);
    // The push reaches the device via B; the answer is posted to B.
    let answer = approve(&mut device, &b, &b, &s);
    tokio::join!(page, answer);
    // A's page continues; the code is exchanged at B and refreshed at A.
    let code = continue_at(&a, &s).await;
    let tokens = token(&b, &secret, &code_form(&code, VERIFIER)).await;
    let refreshed = token(
        &a,
        &secret,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(sub_of(&tokens), sub_of(&refreshed));
    // The spent code is spent everywhere.
    let res = reqwest::Client::new()
        .post(format!("{}/token", a.url))
        .basic_auth(CLIENT, Some(&secret))
        .form(&code_form(&code, VERIFIER))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // One key set, before and after a rotation from the command line.
    let before = jwks(&a).await;
    assert_eq!(before, jwks(&b).await);
    shared.cli(&["keys", "rotate", "--publish-ahead", "0"]);
    let mut after = (Value::Null, Value::Null);
    for _ in 0..100 {
        after = (jwks(&a).await, jwks(&b).await);
        if after.0 != before && after.1 != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(after.0, before, "A publishes the new keys");
    assert_eq!(after.0, after.1, "A and B publish the same keys");
    assert_eq!(
        after.0["keys"].as_array().unwrap().len(),
        6,
        "old and new, three algorithms"
    );

    // Signed with the new keys at one instance, verified at the other.
    let s = start_sign_in(&b, &device.email).await;
    approve(&mut device, &b, &a, &s).await;
    let code = continue_at(&b, &s).await;
    let tokens = token(&a, &secret, &code_form(&code, VERIFIER)).await;
    let res = reqwest::Client::new()
        .get(format!("{}/userinfo", b.url))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn killing_one_instance_loses_no_acknowledged_sign_in() {
    let (_shared, mut a, b, secret) = two_instances().await;
    let mut device = Device::enrol(&b, "survivor@example.com").await;

    // Sign-ins in flight through A: each push acknowledged by A; half of
    // them also approved at A (acknowledged), half not yet answered.
    let mut through_a = Vec::new();
    for i in 0..6 {
        let s = start_sign_in(&a, &device.email).await;
        let req = device.next_request(&b).await;
        if i % 2 == 0 {
            answer(&device, &req, &a, &s).await;
            through_a.push((s, None));
        } else {
            through_a.push((s, Some(req)));
        }
    }
    // And sign-ins running wholly through B while A dies.
    let started_at_b = start_sign_in(&b, &device.email).await;

    a.child.kill().unwrap();
    a.child.wait().unwrap();

    // Everything A acknowledged completes via B.
    let mut subs = Vec::new();
    for (s, unanswered) in &through_a {
        if let Some(req) = unanswered {
            answer(&device, req, &b, s).await;
        }
        let code = continue_at(&b, s).await;
        subs.push(sub_of(
            &token(&b, &secret, &code_form(&code, VERIFIER)).await,
        ));
    }
    approve(&mut device, &b, &b, &started_at_b).await;
    let code = continue_at(&b, &started_at_b).await;
    subs.push(sub_of(
        &token(&b, &secret, &code_form(&code, VERIFIER)).await,
    ));
    assert_eq!(subs.len(), 7);
    assert!(subs.iter().all(|s| *s == subs[0]), "one user: {subs:?}");
}

/// `authentiq_pushes_*` of one instance: (sent, refused for the rate).
async fn pushes(at: &Instance) -> (u64, u64) {
    use authentiq_server::metrics::{PUSHES_REFUSED, PUSHES_SENT};
    let text = reqwest::get(format!("{}/metrics", at.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |prefix: &str| {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    (
        value(&format!("{PUSHES_SENT} ")),
        value(&format!("{PUSHES_REFUSED}{{reason=\"rate-limit\"}} ")),
    )
}

#[tokio::test]
async fn limits_are_counted_across_instances() {
    let (_shared, a, b, _) =
        two_instances_with(vec![("AUTHENTIQ_RATE__PUSHES_PER_KEY_PER_MINUTE", "3")]).await;
    let device = Device::enrol(&a, "limited@example.com").await;
    // Three pushes to the key, spread over both instances, then two more:
    // one count in the database, so those are refused wherever they land.
    // (The page answers the same either way, so that nobody learns whether
    // an address has an ID; the instances' metrics tell.)
    for at in [&a, &b, &a, &b, &a] {
        start_sign_in(at, &device.email).await;
    }
    let (pa, pb) = (pushes(&a).await, pushes(&b).await);
    assert_eq!(pa.0 + pb.0, 3, "pushes sent: A {pa:?}, B {pb:?}");
    assert_eq!((pa.1, pb.1), (1, 1), "refused at each instance");
    // The connection pool is on /metrics too.
    let text = reqwest::get(format!("{}/metrics", a.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let in_use = text
        .lines()
        .find_map(|l| l.strip_prefix("authentiq_db_pool_connections{state=\"in_use\"} "))
        .and_then(|v| v.parse::<u32>().ok());
    assert!(in_use.is_some_and(|n| n >= 1), "pool gauge: {in_use:?}");
}
