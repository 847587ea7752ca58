//! The owners' dashboard in a real browser: Debian's Chromium, 360 px wide,
//! driven by `tests/browser/dashboard-audit.mjs` (playwright-core), signs in
//! with a password, creates a client and copies its secret with the Copy
//! button, opens the client's page and deletes it, and visits the account
//! and admin screens (accounts, deleting one, clients, events) and a 404;
//! axe-core (WCAG 2.x A and AA) checks every screen in the light and the
//! dark theme, the pages keeping their strict CSP.
//! Screenshots go to `tests/artifacts/dashboard/`.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (`bash .ci/setup
//! test`); fails, never skips, without them.

use std::path::Path;

use serde_json::Value;

use crate::support::chromium::{browser_dir, one_at_a_time};
use crate::support::provider::Provider;

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a long dashboard password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_screen_passes_axe_in_both_themes() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium (`bash .ci/setup test` does)"
    );
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/axe-core").is_dir(),
        "run `npm ci` in {} (`bash .ci/setup test` does)",
        dir.display()
    );
    let _one = one_at_a_time().await;
    let p = Provider::start_with(|_| {}).await;
    // An admin account, registered as anyone would be and made admin in
    // the store (the command line's way).
    let res = reqwest::Client::new()
        .post(format!("{}/authentiq/v1/user/register", p.url))
        .json(&serde_json::json!({ "email": EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    p.state
        .db
        .call(|s| {
            let mut a = s.find_account_by_email(EMAIL)?;
            a.role = "admin".into();
            s.update_account(&a)
        })
        .await
        .unwrap();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/dashboard");
    let _ = std::fs::remove_dir_all(&shots);
    let run = tokio::process::Command::new("node")
        .arg(dir.join("dashboard-audit.mjs"))
        .args([p.url.as_str(), EMAIL, PASSWORD])
        .arg(&shots)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output()
        .await
        .expect("running node (Node.js 20+ on PATH?)");
    let stderr = String::from_utf8_lossy(&run.stderr);
    let report: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!("no report from dashboard-audit.mjs ({e}); its stderr:\n{stderr}")
    });

    let mut problems = Vec::new();
    let audits = report["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 26, "13 screens × 2 themes were audited");
    for a in audits {
        assert!(a["passes"].as_u64().unwrap() > 10, "axe ran its rules: {a}");
        let (screen, theme) = (a["screen"].as_str().unwrap(), a["theme"].as_str().unwrap());
        assert!(
            shots.join(format!("{screen}-{theme}.png")).is_file(),
            "no screenshot of {screen} ({theme})"
        );
        for v in a["violations"].as_array().unwrap() {
            let nodes: Vec<&str> = v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|n| n["target"].as_str())
                .collect();
            problems.push(format!(
                "{screen} ({theme}): {} [{}] at {}",
                v["help"],
                v["id"],
                nodes.join(", ")
            ));
        }
    }
    let (id, secret) = (
        report["clientId"].as_str().unwrap_or(""),
        report["secret"].as_str().unwrap_or(""),
    );
    if secret.is_empty() || report["clipboard"] != secret {
        problems.push(format!(
            "the Copy button did not copy the secret: {} / {}",
            report["copyStatus"], report["clipboard"]
        ));
    }
    let snippet = report["snippet"].as_str().unwrap_or("");
    for want in [
        format!("issuer={}", p.url),
        format!("discovery_url={}/.well-known/openid-configuration", p.url),
        format!("client_id={id}"),
    ] {
        if !snippet.contains(&want) {
            problems.push(format!("the snippet lacks {want}: {snippet:?}"));
        }
    }
    if !report["errors"].as_array().unwrap().is_empty() {
        problems.push(format!("page errors: {}", report["errors"]));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}\n(screenshots in {})",
        problems.len(),
        problems.join("\n"),
        shots.display()
    );
    assert!(run.status.success(), "dashboard-audit.mjs failed: {stderr}");
    // The browser deleted the client it made.
    let gone = authentiq_server::oidc::clients::find(&p.state, id)
        .await
        .unwrap();
    assert!(gone.is_none(), "the client {id} was deleted");
}
