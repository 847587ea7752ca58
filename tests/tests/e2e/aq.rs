//! `aq` end to end: a real `aq` process with the real OS keyring (Secret
//! Service), against the real server, and a relying party signing in
//! through the provider.
//!
//! Needs a session bus with an unlocked Secret Service (the test command
//! runs the suite under `dbus-run-session` with `gnome-keyring-daemon`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use authentiq_server::delivery::outbox::{Outbox, find_code};
use authentiq_server::oidc::clients::{AuthMethod, Client, SubjectType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::support::provider::Provider;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const SECRET: &str = "a-long-client-secret-for-the-aq-tests-0123456789";
/// PKCE: the client (like every client unless it opts out) must send it.
const VERIFIER: &str = "a-pkce-code-verifier-for-the-aq-tests-0123456789";

#[path = "aq_devices.rs"]
mod devices;

pub(crate) fn aq_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let aq = dir.join("aq");
    assert!(
        aq.exists(),
        "{} is missing: build it with `cargo build -p authentiq-authenticator`",
        aq.display()
    );
    aq
}

fn secret_service_available() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: run the tests with `bash .ci/test` (it starts dbus-run-session and gnome-keyring)"
    );
}

struct Env {
    p: Provider,
    home: tempfile::TempDir,
    profile: String,
}

async fn start() -> Env {
    start_with_backchannel(None).await
}

/// [`start`], the client registered with `backchannel_logout_uri`.
async fn start_with_backchannel(backchannel_logout_uri: Option<String>) -> Env {
    secret_service_available();
    let p = Provider::start_with(|c| {
        c.clients = vec![Client {
            client_id: "rp".into(),
            client_secret: Some(SECRET.into()),
            client_secret_sha256: None,
            name: "Test Shop".into(),
            redirect_uris: vec![REDIRECT.into()],
            client_uri: None,
            logo_uri: None,
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            response_types: vec!["code".into()],
            id_token_signed_response_alg: "RS256".into(),
            subject_type: SubjectType::Pairwise,
            backchannel_logout_uri,
            ..Client::default()
        }];
    })
    .await;
    // A profile name of its own: the keyring is shared by the tests.
    let profile = format!("t{}", authentiq_server::secrets::new_job_id());
    Env {
        p,
        home: tempfile::tempdir().unwrap(),
        profile,
    }
}

impl Env {
    fn aq(&self, args: &[&str]) -> Command {
        let mut c = Command::new(aq_binary());
        c.arg("--home")
            .arg(self.home.path())
            .args(["--profile", &self.profile])
            .args(args);
        c
    }

    /// Runs `aq --json …` off the async threads.
    async fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None).await
    }

    /// [`Env::run`], with `input` on its standard input (else none).
    async fn run_with_stdin(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut c = self.aq(&["--json"]);
        c.args(args);
        let input = input.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let Some(input) = input else {
                return c.stdin(Stdio::null()).output().unwrap();
            };
            let mut child = c
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "aq {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn code_for(&self, to: &str) -> String {
        let msg = Outbox::new(self.p.dir.path())
            .unwrap()
            .latest_to(to)
            .unwrap()
            .unwrap();
        find_code(&msg.text).unwrap()
    }

    /// `aq init` and a verified email.
    async fn enrol(&self, email: &str) -> Value {
        let init = self.ok(&["init", "--server", &self.p.url]).await;
        assert_eq!(init["revocation_secret"].as_str().unwrap().len(), 43);
        self.ok(&["verify", "email", email]).await;
        let code = self.code_for(email);
        let v = self.ok(&["verify", "email", email, "--code", &code]).await;
        assert_eq!(v["verified"], true);
        init
    }
}

/// A browser starting a sign-in at the RP, up to "send to my device".
struct SignIn {
    browser: reqwest::Client,
    sid: String,
    number: u16,
}

/// The RP's authorization request (code flow with PKCE), with `extra`.
fn authorize_url(env: &Env, extra: &[(&str, &str)]) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", "rp")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email~rs")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st")
        .append_pair("nonce", "nn")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("{}/authorize?{}", env.p.url, q.finish())
}

async fn start_sign_in(env: &Env, email: &str) -> SignIn {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser.get(authorize_url(env, &[])).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let sid = loc.trim_start_matches("/sign-in/").to_string();
    let html = browser
        .get(format!("{}{loc}", env.p.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let number: u16 = html
        .split("id=\"aq-number\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let res = browser
        .post(format!("{}/sign-in/{sid}/push", env.p.url))
        .form(&[("email", email), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    SignIn {
        browser,
        sid,
        number,
    }
}

async fn continue_to_rp(env: &Env, s: &SignIn) -> url::Url {
    let res = s
        .browser
        .get(format!("{}/sign-in/{}/continue", env.p.url, s.sid))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}

/// The single pending request in `aq inbox`.
async fn the_request(env: &Env) -> Value {
    let inbox = env.ok(&["inbox"]).await;
    let list = inbox.as_array().unwrap();
    assert_eq!(list.len(), 1, "{inbox}");
    list[0].clone()
}

#[tokio::test]
async fn init_verify_and_approve_a_sign_in_with_the_number() {
    let env = start().await;
    env.enrol("aq-user@example.com").await;
    // The key is in the keyring: a new process finds it.
    let id = env.ok(&["id"]).await;
    assert_eq!(id["verified"][0]["value"], "aq-user@example.com");

    let s = start_sign_in(&env, "aq-user@example.com").await;
    let req = the_request(&env).await;
    assert_eq!(req["client_name"], "Test Shop");
    let numbers: Vec<u16> = serde_json::from_value(req["numbers"].clone()).unwrap();
    assert!(numbers.contains(&s.number));
    let id = req["id"].as_str().unwrap();
    env.ok(&["approve", id, "--number", &s.number.to_string()])
        .await;

    let back = continue_to_rp(&env, &s).await;
    let code = param(&back, "code").expect("a code");
    let http = reqwest::Client::new();
    let t: Value = http
        .post(format!("{}/token", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let info: Value = http
        .get(format!("{}/userinfo", env.p.url))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "aq-user@example.com");
    assert_eq!(info["email_verified"], true);
    let history = env.ok(&["history"]).await;
    assert_eq!(history[0]["result"], "approved");
}

#[tokio::test]
async fn a_wrong_number_is_refused_and_a_denial_reaches_the_rp() {
    let env = start().await;
    env.enrol("aq-deny@example.com").await;
    let s = start_sign_in(&env, "aq-deny@example.com").await;
    let req = the_request(&env).await;
    let id = req["id"].as_str().unwrap().to_string();
    // A number that is not even a candidate never leaves the device.
    let out = env.run(&["approve", &id, "--number", "5"]).await;
    assert_eq!(out.status.code(), Some(6));
    // A candidate that is not the one on the page: the server refuses.
    let numbers: Vec<u16> = serde_json::from_value(req["numbers"].clone()).unwrap();
    let wrong = numbers.iter().find(|n| **n != s.number).unwrap();
    let out = env
        .run(&["approve", &id, "--number", &wrong.to_string()])
        .await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("number"));
    let back = continue_to_rp(&env, &s).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));

    // A plain denial.
    let s = start_sign_in(&env, "aq-deny@example.com").await;
    let req = the_request(&env).await;
    env.ok(&["deny", req["id"].as_str().unwrap(), "--report"])
        .await;
    let back = continue_to_rp(&env, &s).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    let history = env.ok(&["history"]).await;
    assert_eq!(history[0]["result"], "reported");
}

#[tokio::test]
async fn requests_made_while_offline_arrive_on_reconnect_and_expired_ones_never() {
    let env = start().await;
    env.enrol("aq-watch@example.com").await;
    // Offline: a request comes in while nothing listens.
    let s = start_sign_in(&env, "aq-watch@example.com").await;
    // An expired one too (made "6 minutes ago" by the server's clock).
    env.p.state.clock.advance(-6 * 60);
    let _old = start_sign_in(&env, "aq-watch@example.com").await;
    env.p.state.clock.advance(6 * 60);
    let mut watch = env.aq(&["--json", "watch"]);
    watch.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = watch.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::time::timeout(
        Duration::from_secs(15),
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            // Earlier events (the email verification) come first; skip to the sign-in.
            std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find(|l| l.contains("\"sign-in\""))
        }),
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let line = line
        .expect("watch printed in time")
        .unwrap()
        .expect("a line");
    let ev: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["event"], "sign-in");
    assert!(ev["request"]["session"].as_str().unwrap().ends_with(&s.sid));
    assert_eq!(ev["request"]["purpose"], "sign-in", "{ev}");
    assert_eq!(ev["request"]["label"], "Sign in to Test Shop", "{ev}");
    // Only the fresh request is offered.
    let inbox = env.ok(&["inbox"]).await;
    let list = inbox.as_array().unwrap();
    assert_eq!(list.len(), 1, "{inbox}");
    assert!(list[0]["session"].as_str().unwrap().ends_with(&s.sid));
}

#[tokio::test]
async fn commands_without_an_identity_say_what_to_do() {
    let env = start().await;
    let out = env.run(&["inbox"]).await;
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aq init"));
}

#[tokio::test]
async fn without_a_secret_service_aq_says_so_and_registers_nothing() {
    let env = start().await;
    let mut c = env.aq(&["init", "--server", &env.p.url]);
    c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("session bus") && err.contains("dbus-run-session"),
        "{err}"
    );
    // Nothing was created: a later init works.
    env.ok(&["init", "--server", &env.p.url]).await;
}

#[tokio::test]
async fn revoke_with_the_secret_forgets_the_key_and_the_server_answers_410() {
    let env = start().await;
    let init = env.ok(&["init", "--server", &env.p.url]).await;
    let pk = init["id"].as_str().unwrap().to_string();
    let secret = init["revocation_secret"].as_str().unwrap().to_string();
    let out = env.run(&["revoke", "--secret", "wrong"]).await;
    assert_eq!(out.status.code(), Some(4));
    env.ok(&["revoke", "--secret", &secret]).await;
    let res = reqwest::get(format!("{}/key/{pk}", env.p.url))
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let out = env.run(&["id"]).await;
    assert_eq!(out.status.code(), Some(7), "the profile is gone");
}

#[tokio::test]
async fn revoke_reads_the_secret_from_stdin_with_secret_dash() {
    let env = start().await;
    let init = env.ok(&["init", "--server", &env.p.url]).await;
    let pk = init["id"].as_str().unwrap().to_string();
    let secret = init["revocation_secret"].as_str().unwrap().to_string();
    let key_status = || async {
        reqwest::get(format!("{}/key/{pk}", env.p.url))
            .await
            .unwrap()
            .status()
    };
    // Nothing on stdin: said so, nothing sent.
    let out = env
        .run_with_stdin(&["revoke", "--secret", "-"], Some(""))
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no revocation secret on standard input"),
        "{err}"
    );
    // A wrong one is the server's to refuse, as on the command line.
    let out = env
        .run_with_stdin(&["revoke", "--secret", "-"], Some("wrong\n"))
        .await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(key_status().await, 200, "still valid");
    // The right one, as a file or a pipe gives it (a line, with its newline).
    let out = env
        .run_with_stdin(&["revoke", "--secret", "-"], Some(&format!("{secret}\n")))
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "revoked");
    assert_eq!(key_status().await, 410);
    assert_eq!(
        env.run(&["id"]).await.status.code(),
        Some(7),
        "the profile is gone"
    );
}

#[tokio::test]
async fn a_lost_device_is_revoked_with_email_phone_and_the_emailed_code() {
    let env = start().await;
    let init = env.enrol("lost@example.com").await;
    let pk = init["id"].as_str().unwrap().to_string();
    env.ok(&["verify", "phone", "+31611112222"]).await;
    let code = env.code_for("+31611112222");
    env.ok(&["verify", "phone", "+31611112222", "--code", &code])
        .await;
    let first = env
        .ok(&[
            "revoke",
            "--email",
            "lost@example.com",
            "--phone",
            "+31611112222",
            "--server",
            &env.p.url,
        ])
        .await;
    assert_eq!(first["result"], "pending");
    let code = env.code_for("lost@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let out = env
        .run(&[
            "revoke",
            "--email",
            "lost@example.com",
            "--phone",
            "+31611112222",
            "--code",
            wrong,
        ])
        .await;
    assert_eq!(out.status.code(), Some(4));
    let done = env
        .ok(&[
            "revoke",
            "--email",
            "lost@example.com",
            "--phone",
            "+31611112222",
            "--code",
            &code,
        ])
        .await;
    assert_eq!(done["result"], "done");
    let res = reqwest::get(format!("{}/key/{pk}", env.p.url))
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert_eq!(
        env.run(&["id"]).await.status.code(),
        Some(7),
        "the revoked profile is forgotten"
    );
}

#[tokio::test]
async fn init_refuses_plain_http_to_another_computer() {
    let env = start().await;
    let out = env
        .run(&["init", "--server", "http://id.example.com"])
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("use https://"), "{err}");
    // Nothing was created: the profile is still free.
    let out = env.run(&["id"]).await;
    assert_eq!(out.status.code(), Some(7), "no identity");
}

/// A relying party's back-channel logout endpoint on 127.0.0.1: each POST's
/// head and body as it arrives, answered 200.
async fn logout_endpoint() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/backchannel-logout",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                let end = loop {
                    if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&got[..end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .expect("a logout POST with a content-length");
                while got.len() < end + length {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let body = String::from_utf8_lossy(&got[end..end + length]).into_owned();
                let _ = tx.send((head, body));
            });
        }
    });
    (url, rx)
}

/// The header and payload of a compact JWS (its signature is not checked).
fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    (next(), next())
}

#[tokio::test]
async fn signout_all_ends_refresh_tokens_and_sso_sessions_and_tells_the_client() {
    let (logout_uri, mut logouts) = logout_endpoint().await;
    let env = start_with_backchannel(Some(logout_uri)).await;
    env.enrol("aq-out@example.com").await;

    // Signed in at the RP: tokens, and the browser's SSO session.
    let s = start_sign_in(&env, "aq-out@example.com").await;
    let req = the_request(&env).await;
    env.ok(&[
        "approve",
        req["id"].as_str().unwrap(),
        "--number",
        &s.number.to_string(),
    ])
    .await;
    let back = continue_to_rp(&env, &s).await;
    let code = param(&back, "code").expect("a code");
    let http = reqwest::Client::new();
    let token = |form: &[(&str, &str)]| {
        http.post(format!("{}/token", env.p.url))
            .basic_auth("rp", Some(SECRET))
            .form(form)
            .send()
    };
    let res = token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_string();
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let userinfo = || {
        http.get(format!("{}/userinfo", env.p.url))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(userinfo().await.unwrap().status(), 200);
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().unwrap());
    let silent = authorize_url(&env, &[("prompt", "none")]);
    let res = s.browser.get(&silent).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(param(&loc, "code").is_some(), "signed in before: {loc}");
    assert!(
        logouts.try_recv().is_err(),
        "no logout token before signing out"
    );

    // Signed out everywhere.
    let out = env.ok(&["signout", "--all"]).await;
    assert_eq!(out["result"], "signed-out", "{out}");
    assert_eq!(out["clients_told"], 1, "{out}");

    // The refresh token is refused; the browser's session is over.
    let res = token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(
        userinfo().await.unwrap().status(),
        401,
        "the access token ends too"
    );
    let res = s.browser.get(&silent).send().await.unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("login_required"),
        "{loc}"
    );

    // The RP is told, from the provider's queue: a logout token for it.
    let (head, body) = tokio::time::timeout(Duration::from_secs(15), logouts.recv())
        .await
        .expect("a logout token within 15 s")
        .unwrap();
    assert!(head.starts_with("POST /backchannel-logout "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"),
        "{head}"
    );
    let logout_token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("a logout_token field");
    let (header, claims) = jwt_parts(&logout_token);
    assert_eq!(header["typ"], "logout+jwt", "{header}");
    assert!(
        claims["events"]
            .get("http://schemas.openid.net/event/backchannel-logout")
            .is_some(),
        "{claims}"
    );
    assert_eq!(claims["aud"], "rp", "{claims}");
    assert_eq!(claims["iss"], env.p.url.as_str(), "{claims}");
    assert_eq!(claims["sub"], id_token["sub"], "the RP's own sub: {claims}");
    assert!(claims.get("nonce").is_none(), "{claims}");

    // Again: nothing is left to end, and a fresh token is accepted (its
    // jti is new).
    let again = env.ok(&["signout", "--all"]).await;
    assert_eq!(again["clients_told"], 0, "{again}");
    // Without --all: a usage error that says why.
    let out = env.run(&["signout"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(err["error"].as_str().unwrap().contains("--all"), "{err}");
    // The ID itself stays.
    env.ok(&["id"]).await;
}

/// The client's backend: an SDK token minted with its credentials (`GET
/// path`, HTTP Basic), spent at once on a session (`POST
/// /mobile-sdk/sessions`, Bearer). The session's JSON.
async fn sdk_session(env: &Env, path: &str) -> Value {
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{}{path}", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    let token = body["accessToken"].as_str().expect("an accessToken");
    let res = http
        .post(format!("{}/mobile-sdk/sessions", env.p.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let session: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "POST /mobile-sdk/sessions: {session}");
    session
}

/// The SDK session's status, as the client's front end polls it.
async fn sdk_status(env: &Env, session: &Value) -> String {
    let id = session["sessionId"].as_str().unwrap();
    let v: Value = reqwest::get(format!("{}/mobile-sdk/sessions/{id}", env.p.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_verification_opened_from_its_link_is_labelled_so_and_approved_like_a_sign_in() {
    let env = start().await;
    env.enrol("aq-verify@example.com").await;
    let session = sdk_session(&env, "/mobile-sdk/verification-token").await;
    let link = session["deepLink"].as_str().expect("a deepLink");
    assert!(link.starts_with("authentiq://sign-in?session="), "{link}");
    let number = session["number"].as_u64().expect("a number") as u16;

    // The link, as pasted: the request is fetched into the inbox.
    let opened = env.ok(&["open", link]).await;
    assert_eq!(opened["purpose"], "verification", "{opened}");
    assert_eq!(opened["label"], "Verify your details for Test Shop");
    assert_eq!(opened["session"], session["sessionUri"]);
    let req = the_request(&env).await;
    assert_eq!(req["id"], opened["id"], "{req}");
    assert_eq!(req["purpose"], "verification", "{req}");
    assert_eq!(req["label"], "Verify your details for Test Shop");
    let numbers: Vec<u16> = serde_json::from_value(req["numbers"].clone()).unwrap();
    assert!(numbers.contains(&number), "{numbers:?} {number}");
    // The text output says it too.
    let mut inbox = env.aq(&["inbox"]);
    let out = tokio::task::spawn_blocking(move || inbox.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verify your details for Test Shop"), "{text}");

    // Answered as a sign-in is: the number, the required verified email.
    let id = req["id"].as_str().unwrap();
    let approved = env
        .ok(&["approve", id, "--number", &number.to_string()])
        .await;
    assert_eq!(approved["result"], "approved", "{approved}");
    assert_eq!(approved["purpose"], "verification", "{approved}");
    assert_eq!(approved["label"], "Verify your details for Test Shop");
    assert_eq!(sdk_status(&env, &session).await, "approved");
    let history = env.ok(&["history"]).await;
    assert_eq!(history[0]["purpose"], "verification", "{history}");
    assert_eq!(history[0]["label"], "Verify your details for Test Shop");
    assert_eq!(history[0]["result"], "approved");
}

#[tokio::test]
async fn a_reauthentication_is_pushed_to_the_known_user_and_labelled_so() {
    let env = start().await;
    env.enrol("aq-again@example.com").await;
    // Signed in once: the client knows the user by its sub.
    let s = start_sign_in(&env, "aq-again@example.com").await;
    let req = the_request(&env).await;
    assert_eq!(req["purpose"], "sign-in", "{req}");
    assert_eq!(req["label"], "Sign in to Test Shop");
    let approved = env
        .ok(&[
            "approve",
            req["id"].as_str().unwrap(),
            "--number",
            &s.number.to_string(),
        ])
        .await;
    assert_eq!(approved["purpose"], "sign-in", "{approved}");
    let back = continue_to_rp(&env, &s).await;
    let code = param(&back, "code").expect("a code");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().expect("an ID token"));
    let sub = id_token["sub"].as_str().unwrap();

    // "Confirm it's you": pushed to the user's device at once.
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sub", sub)
        .finish();
    let session = sdk_session(&env, &format!("/mobile-sdk/face-authentication-token?{q}")).await;
    let number = session["number"].as_u64().expect("a number") as u16;
    let req = the_request(&env).await;
    assert_eq!(req["purpose"], "reauthentication", "{req}");
    assert_eq!(req["label"], "Confirm it's you for Test Shop");
    assert_eq!(req["session"], session["sessionUri"]);
    let numbers: Vec<u16> = serde_json::from_value(req["numbers"].clone()).unwrap();
    assert!(numbers.contains(&number), "{numbers:?} {number}");
    let denied = env.ok(&["deny", req["id"].as_str().unwrap()]).await;
    assert_eq!(denied["result"], "denied", "{denied}");
    assert_eq!(denied["purpose"], "reauthentication", "{denied}");
    assert_eq!(sdk_status(&env, &session).await, "denied");
    let history = env.ok(&["history"]).await;
    assert_eq!(history[0]["purpose"], "reauthentication", "{history}");
    assert_eq!(history[1]["purpose"], "sign-in", "{history}");
}

/// Signs `email` in to the client once through the browser flow (the
/// number matched with `aq approve`): the sub the client then knows the
/// user by, from its ID token.
async fn signed_in_sub(env: &Env, email: &str) -> String {
    let s = start_sign_in(env, email).await;
    let req = the_request(env).await;
    assert_eq!(req["backchannel"], false, "{req}");
    assert_eq!(req["binding_message"], Value::Null, "{req}");
    let id = req["id"].as_str().unwrap();
    env.ok(&["approve", id, "--number", &s.number.to_string()])
        .await;
    sub_at_rp(env, &s).await
}

/// The `sub` in the ID token the client gets for an approved sign-in.
async fn sub_at_rp(env: &Env, s: &SignIn) -> String {
    let back = continue_to_rp(env, s).await;
    let code = param(&back, "code").expect("a code");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().expect("an ID token"));
    id_token["sub"].as_str().unwrap().to_string()
}

const CIBA: &str = "urn:openid:params:grant-type:ciba";

/// The client's backend starts a CIBA sign-in of the user it knows by
/// `sub` (`POST /bc-authorize`, HTTP Basic): `{auth_req_id, expires_in,
/// interval}`.
async fn bc_authorize(env: &Env, sub: &str, binding_message: Option<&str>) -> Value {
    let mut form = vec![("scope", "openid"), ("login_hint", sub)];
    if let Some(m) = binding_message {
        form.push(("binding_message", m));
    }
    let res = reqwest::Client::new()
        .post(format!("{}/bc-authorize", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "POST /bc-authorize: {body}");
    assert!(
        body["auth_req_id"].as_str().is_some_and(|a| !a.is_empty()),
        "{body}"
    );
    assert!(body["expires_in"].as_i64().is_some_and(|e| e > 0), "{body}");
    assert_eq!(body["interval"], 5, "{body}");
    body
}

/// The client's backend polls `/token` for its CIBA grant: the status and
/// the JSON answer.
async fn poll_token(env: &Env, auth_req_id: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/token", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .form(&[("grant_type", CIBA), ("auth_req_id", auth_req_id)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Lets the server's clock pass a poll interval (the client may poll
/// again), rather than sleep through it.
fn wait_an_interval(env: &Env, interval: i64) {
    env.p.state.clock.advance(interval + 1);
}

#[tokio::test]
async fn a_backchannel_sign_in_is_approved_without_a_number_and_the_client_gets_tokens() {
    let env = start().await;
    env.enrol("aq-ciba@example.com").await;
    let sub = signed_in_sub(&env, "aq-ciba@example.com").await;

    let started = bc_authorize(&env, &sub, Some("Order 1234")).await;
    let auth_req_id = started["auth_req_id"].as_str().unwrap();
    // Not answered yet; and polling again at once is too fast.
    let (status, body) = poll_token(&env, auth_req_id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending")),
        "{body}"
    );
    let (status, body) = poll_token(&env, auth_req_id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("slow_down")),
        "{body}"
    );

    // Pushed to the user's device: no number to match, the message to check.
    let req = the_request(&env).await;
    assert_eq!(req["backchannel"], true, "{req}");
    assert_eq!(req["binding_message"], "Order 1234", "{req}");
    assert_eq!(req["purpose"], "sign-in", "{req}");
    assert_eq!(req["label"], "Sign-in requested by Test Shop", "{req}");
    let id = req["id"].as_str().unwrap().to_string();
    // The text output says so.
    let mut inbox = env.aq(&["inbox"]);
    let out = tokio::task::spawn_blocking(move || inbox.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "Sign-in requested by Test Shop",
        "backchannel: started by Test Shop's backend, no number to match",
        "Check that Test Shop shows: Order 1234",
        &format!("approve with: aq approve {id}"),
    ] {
        assert!(text.contains(part), "no {part:?} in {text}");
    }
    assert!(!text.contains("numbers:"), "{text}");

    // A number is refused (there is none to match), before anything is sent.
    let numbers: Vec<u16> = serde_json::from_value(req["numbers"].clone()).unwrap();
    let out = env
        .run(&["approve", &id, "--number", &numbers[0].to_string()])
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no number to match"), "{err}");
    assert_eq!(the_request(&env).await["id"], id.as_str());

    let approved = env.ok(&["approve", &id]).await;
    assert_eq!(approved["result"], "approved", "{approved}");
    assert_eq!(approved["backchannel"], true, "{approved}");
    assert_eq!(approved["binding_message"], "Order 1234", "{approved}");
    assert_eq!(approved["label"], "Sign-in requested by Test Shop");

    // The client's next poll (after the interval, which slow_down grew by 5 s) has the tokens.
    wait_an_interval(&env, 10);
    let (status, tokens) = poll_token(&env, auth_req_id).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        tokens["token_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("bearer")
    );
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["sub"], sub.as_str(), "{id_token}");
    assert_eq!(id_token["aud"], "rp", "{id_token}");
    let info: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", env.p.url))
        .bearer_auth(tokens["access_token"].as_str().expect("an access token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], sub.as_str(), "{info}");
    // Once only.
    wait_an_interval(&env, 10);
    let (status, again) = poll_token(&env, auth_req_id).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );

    let history = env.ok(&["history"]).await;
    assert_eq!(history[0]["result"], "approved", "{history}");
    assert_eq!(history[0]["backchannel"], true, "{history}");
    assert_eq!(history[0]["binding_message"], "Order 1234", "{history}");
    assert_eq!(history[0]["label"], "Sign-in requested by Test Shop");
    assert_eq!(history[1]["backchannel"], false, "{history}");
    let mut h = env.aq(&["history"]);
    let out = tokio::task::spawn_blocking(move || h.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("Sign-in requested by Test Shop")
                && l.contains("message: Order 1234")),
        "{text}"
    );
}

#[tokio::test]
async fn a_denied_backchannel_sign_in_is_access_denied_and_a_page_sign_in_still_needs_its_number() {
    let env = start().await;
    env.enrol("aq-ciba-no@example.com").await;
    // A sign-in through a page: approving it without the number is refused.
    let s = start_sign_in(&env, "aq-ciba-no@example.com").await;
    let req = the_request(&env).await;
    let id = req["id"].as_str().unwrap();
    let out = env.run(&["approve", id]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs the number") && err.contains("--number"),
        "{err}"
    );
    env.ok(&["approve", id, "--number", &s.number.to_string()])
        .await;
    let back = continue_to_rp(&env, &s).await;
    let code = param(&back, "code").expect("a code");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", env.p.url))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().expect("an ID token"));
    let sub = id_token["sub"].as_str().unwrap().to_string();

    // `aq watch` sees the backchannel request arrive (no message this time).
    let mut watch = env.aq(&["--json", "watch"]);
    watch.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = watch.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("\"backchannel\":true"))
    });
    // Give watch time to connect before the push (a missed push would be
    // replayed on connect anyway).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = bc_authorize(&env, &sub, None).await;
    let auth_req_id = started["auth_req_id"].as_str().unwrap();
    let line = tokio::time::timeout(Duration::from_secs(15), lines).await;
    let _ = child.kill();
    let _ = child.wait();
    let line = line
        .expect("watch printed in time")
        .unwrap()
        .expect("a line");
    let ev: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["event"], "sign-in", "{ev}");
    assert_eq!(ev["request"]["backchannel"], true, "{ev}");
    assert_eq!(ev["request"]["binding_message"], Value::Null, "{ev}");
    assert_eq!(ev["request"]["label"], "Sign-in requested by Test Shop");

    let req = the_request(&env).await;
    assert_eq!(req["id"], ev["request"]["id"], "{req}");
    let mut inbox = env.aq(&["inbox"]);
    let out = tokio::task::spawn_blocking(move || inbox.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Test Shop sent no message to check"),
        "{text}"
    );
    let denied = env.ok(&["deny", req["id"].as_str().unwrap()]).await;
    assert_eq!(denied["result"], "denied", "{denied}");
    assert_eq!(denied["backchannel"], true, "{denied}");

    let (status, body) = poll_token(&env, auth_req_id).await;
    assert_eq!(body["error"], "access_denied", "{body}");
    // CIBA Core §11 (by RFC 6749 §5.2) answers token errors with 400; this
    // server answers access_denied with 403, as it does elsewhere. A
    // client reads `error` either way.
    assert!(matches!(status, 400 | 403), "{status} {body}");
    let history = env.ok(&["history"]).await;
    assert_eq!(history[0]["result"], "denied", "{history}");
    assert_eq!(history[0]["backchannel"], true, "{history}");
    assert_eq!(history[0]["binding_message"], Value::Null, "{history}");
}
