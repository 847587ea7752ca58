//! Two `aq` devices of one Authentiq ID: the second linked with the
//! number the first approves, both signing in to a relying party that
//! sees the same `sub`; a request answered on one is withdrawn from the
//! other's inbox; a removed device's key stops working.

use std::io::BufRead as _;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::*;

/// A second device: its own home and profile, the same server.
struct Second {
    home: tempfile::TempDir,
    profile: String,
}

impl Second {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            profile: format!("t{}", authentiq_server::secrets::new_job_id()),
        }
    }

    fn aq(&self, args: &[&str]) -> Command {
        let mut c = Command::new(aq_binary());
        c.arg("--home")
            .arg(self.home.path())
            .args(["--profile", &self.profile, "--json"])
            .args(args);
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.aq(args);
        tokio::task::spawn_blocking(move || c.stdin(Stdio::null()).output().unwrap())
            .await
            .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "aq {args:?} on the second device failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

#[tokio::test]
async fn two_aq_devices_of_one_id_sign_in_as_the_same_sub() {
    const EMAIL: &str = "two-devices@example.com";
    let env = start().await;
    let id = env.enrol(EMAIL).await["id"].as_str().unwrap().to_string();
    let b = Second::new();

    // B asks to be linked and shows a number; A approves with it.
    let mut link = b.aq(&[
        "link", "--server", &env.p.url, "--id", &id, "--name", "Laptop B",
    ]);
    let mut child = link
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (first, rest) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        (first, lines)
    })
    .await
    .unwrap();
    let pending: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(pending["status"], "pending");
    let pairing = pending["pairing"].as_str().unwrap().to_string();
    let number = pending["number"].as_u64().unwrap().to_string();
    // A sees the request on its channel first.
    let inbox_side = env.ok(&["inbox"]).await;
    assert!(
        inbox_side.as_array().unwrap().is_empty(),
        "a link is no sign-in: {inbox_side}"
    );
    env.ok(&["devices", "approve", &pairing, "--number", &number])
        .await;
    let (linked, status) = tokio::task::spawn_blocking(move || {
        let last: Vec<String> = rest.map(Result::unwrap).collect();
        (last, child.wait().unwrap())
    })
    .await
    .unwrap();
    assert!(status.success(), "aq link: {linked:?}");
    let linked: Value = serde_json::from_str(linked.last().unwrap()).unwrap();
    assert_eq!(linked["status"], "linked");
    assert_eq!(linked["id"], id.as_str());

    // Both devices listed, from either.
    let listed = b.ok(&["devices"]).await;
    let b_key = listed["this_device"].as_str().unwrap().to_string();
    assert_ne!(b_key, id);
    assert_eq!(listed["devices"].as_array().unwrap().len(), 2);
    assert_eq!(env.ok(&["devices"]).await["devices"][1]["name"], "Laptop B");

    // B verifies the email for itself (its grants are its own), then
    // answers a sign-in pushed to both; A's inbox no longer holds it.
    b.ok(&["verify", "email", EMAIL]).await;
    let code = env.code_for(EMAIL);
    b.ok(&["verify", "email", EMAIL, "--code", &code]).await;
    let s = start_sign_in(&env, EMAIL).await;
    let inbox = b.ok(&["inbox"]).await;
    let req = inbox[0]["id"].as_str().unwrap().to_string();
    b.ok(&["approve", &req, "--number", &s.number.to_string()])
        .await;
    let sub_b = sub_at_rp(&env, &s).await;
    let a_inbox = env.ok(&["inbox"]).await;
    assert!(
        a_inbox.as_array().unwrap().is_empty(),
        "withdrawn on A: {a_inbox}"
    );

    // The same from A: the same sub.
    assert_eq!(signed_in_sub(&env, EMAIL).await, sub_b);

    // A removes B: B's key stops at once (the server refuses it), A goes on.
    env.ok(&["devices", "remove", &b_key]).await;
    let out = b.run(&["devices"]).await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.ok(&["devices"]).await["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// [`start`], with a recovery delay of `secs`.
async fn start_with_delay(secs: i64) -> Env {
    let base = start().await;
    let clients = base.p.state.config.clients.clone();
    let p = crate::support::provider::Provider::start_with(|c| {
        c.clients = clients;
        c.devices.recovery_delay_secs = secs;
    })
    .await;
    Env {
        p,
        home: tempfile::tempdir().unwrap(),
        profile: base.profile.clone(),
    }
}

/// `aq recover start` and `confirm` with the emailed code on `new`: the
/// recovery's URL, waiting out its delay.
async fn recovery_waiting(env: &Env, new: &Second, id: &str, secret: &str, email: &str) -> String {
    let started = new
        .ok(&[
            "recover", "start", "--server", &env.p.url, "--id", id, "--email", email, "--secret",
            secret,
        ])
        .await;
    assert_eq!(started["status"], "codes-sent");
    let recovery = started["recovery"].as_str().unwrap().to_string();
    let code = env.code_for(email);
    let waiting = new
        .ok(&["recover", "confirm", &recovery, "--code", &code])
        .await;
    assert_eq!(waiting["status"], "waiting");
    recovery
}

#[tokio::test]
async fn aq_recover_on_a_new_device_keeps_the_sub_and_a_cancelled_recovery_does_not_complete() {
    const EMAIL: &str = "recover@example.com";
    let env = start_with_delay(2).await;
    let init = env.enrol(EMAIL).await;
    let id = init["id"].as_str().unwrap().to_string();
    let secret = init["revocation_secret"].as_str().unwrap().to_string();
    let sub = signed_in_sub(&env, EMAIL).await;

    // A recovery the device cancels never completes.
    let intruder = Second::new();
    let recovery = recovery_waiting(&env, &intruder, &id, &secret, EMAIL).await;
    let cancelled = env.ok(&["recover", "cancel", &recovery]).await;
    assert_eq!(cancelled["status"], "cancelled");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let out = intruder.run(&["recover", "complete", &recovery]).await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        signed_in_sub(&env, EMAIL).await,
        sub,
        "the device still signs in"
    );

    // Every device lost: a new one recovers the ID after the delay.
    let new = Second::new();
    let recovery = recovery_waiting(&env, &new, &id, &secret, EMAIL).await;
    let early = new.run(&["recover", "complete", &recovery]).await;
    assert_eq!(early.status.code(), Some(4), "not before the delay");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let done = new.ok(&["recover", "complete", &recovery]).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["secret"].as_str().unwrap().len(), 43);
    // The old device's key is refused; the new one signs in as the same sub.
    let out = env.run(&["devices"]).await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    new.ok(&["verify", "email", EMAIL]).await;
    let code = env.code_for(EMAIL);
    new.ok(&["verify", "email", EMAIL, "--code", &code]).await;
    let s = start_sign_in(&env, EMAIL).await;
    let inbox = new.ok(&["inbox"]).await;
    // Only this request: not those sent to the ID before this device joined.
    let list = inbox.as_array().unwrap();
    assert_eq!(list.len(), 1, "{inbox}");
    let req = list[0]["id"].as_str().unwrap().to_string();
    new.ok(&["approve", &req, "--number", &s.number.to_string()])
        .await;
    assert_eq!(sub_at_rp(&env, &s).await, sub);
}
