//! The owners' dashboard in a real browser: Debian's Chromium, 360 px wide,
//! driven by `tests/browser/dashboard-audit.mjs` (playwright-core), signs in
//! with a password, creates a client and copies its secret with the Copy
//! button; this test signs a user in to that client with the copied
//! credentials through the `openidconnect` crate (a device approving); the
//! browser then sees the sign-in counted on the client's page, rotates the
//! secret (the old one is refused at once), deletes the client, and visits
//! the account and admin screens (accounts, deleting one, clients, events,
//! status) and a 404. axe-core (WCAG 2.x A and AA) checks every screen in the light
//! and the dark theme, the pages keeping their strict CSP. Screenshots go
//! to `tests/artifacts/dashboard/`.
//!
//! The other test (`tests/browser/dashboard-authentiq.mjs`) links the
//! owner's Authentiq ID from the account page and signs in to the
//! dashboard with it, a device approving each time with the page's number,
//! then unlinks it and is refused; its screens are audited and
//! screenshotted likewise, to `tests/artifacts/dashboard-authentiq/`.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (`bash .ci/setup
//! test`); fails, never skips, without them.

use std::path::Path;

use authentiq_protocol::payloads::Decision;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

use crate::oidc::common::{
    REDIRECT, browser, continue_to_client, open_sign_in, param, send_to_device,
};
use crate::support::chromium::{Script, one_at_a_time, pushed_request};
use crate::support::device::Device;
use crate::support::provider::Provider;

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a long dashboard password";

/// A user signs in to `client_id` with `secret` through `openidconnect`;
/// the ID token's email.
async fn sign_in_with(p: &Provider, client_id: &str, secret: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(p.url.clone())?, &http).await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        Some(ClientSecret::new(secret.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email~rs".into()))
        .set_pkce_challenge(challenge)
        .url();
    let email = "ada@example.com";
    let mut device = Device::enrol(p, email).await;
    let b = browser();
    let page = open_sign_in(p, &b, auth_url.as_str()).await;
    send_to_device(p, &b, &page, email).await;
    let req = device.next_request(p).await;
    let res = device
        .send(
            &req,
            device.answer(&req, Decision::Approve, Some(page.number), "openid email"),
        )
        .await;
    anyhow::ensure!(res.status() == 200, "the approval: {}", res.text().await?);
    let back = continue_to_client(p, &b, &page).await;
    let code = param(&back, "code").ok_or_else(|| anyhow::anyhow!("no code in {back}"))?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await?;
    let id_token = token
        .id_token()
        .ok_or_else(|| anyhow::anyhow!("no ID token"))?;
    let claims = id_token.claims(&client.id_token_verifier(), &nonce)?;
    Ok(claims
        .email()
        .map(|e| e.as_str().to_string())
        .unwrap_or_default())
}

/// What `/token` says to `client_id` with `secret` and an unknown refresh
/// token: `invalid_grant` once authenticated, `invalid_client` if not.
async fn token_error(p: &Provider, client_id: &str, secret: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/token", p.url))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// What axe found on the `screens` screens of a script's report (each in
/// both themes, each with its screenshots in `shots`).
fn audit_problems(report: &Value, shots: &Path, screens: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let audits = report["audits"].as_array().unwrap();
    assert_eq!(
        audits.len(),
        2 * screens,
        "{screens} screens × 2 themes were audited"
    );
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
    if !report["errors"].as_array().unwrap().is_empty() {
        problems.push(format!("page errors: {}", report["errors"]));
    }
    problems
}

/// After `DONE`: the script fails with the `problems`, or must exit 0.
async fn finish(script: &mut Script, problems: &[String], shots: &Path) {
    if !problems.is_empty() {
        let msg = format!(
            "{} problem(s):\n{}\n(screenshots in {})",
            problems.len(),
            problems.join("\n"),
            shots.display()
        );
        match script.fail(&msg).await {}
    }
    script.finish().await;
}

/// Registers the dashboard account (a user).
async fn owner_account(p: &Provider) {
    let res = reqwest::Client::new()
        .post(format!("{}/authentiq/v1/user/register", p.url))
        .json(&serde_json::json!({ "email": EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
}

/// The shots directory of a test, emptied.
fn fresh_shots(name: &str) -> std::path::PathBuf {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let _ = std::fs::remove_dir_all(&shots);
    shots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_client_signs_users_in_and_every_screen_passes_axe() {
    let _one = one_at_a_time().await;
    let p = Provider::start_with(|_| {}).await;
    // An admin account, registered as anyone would be and made admin in
    // the store (the command line's way).
    owner_account(&p).await;
    p.state
        .db
        .call(|s| {
            let mut a = s.find_account_by_email(EMAIL)?;
            a.role = "admin".into();
            s.update_account(&a)
        })
        .await
        .unwrap();
    let shots = fresh_shots("artifacts/dashboard");
    let shots_arg = shots.to_str().unwrap();
    let mut script = Script::start(
        "dashboard-audit.mjs",
        &[&p.url, EMAIL, PASSWORD, shots_arg, REDIRECT],
    );

    // The credentials as the Copy button put them on the clipboard.
    let client = script.expect("CLIENT ").await;
    let (id, secret) = client.split_once(' ').unwrap_or((&client, ""));
    let (id, secret) = (id.to_string(), secret.to_string());
    match sign_in_with(&p, &id, &secret).await {
        Ok(email) if email == "ada@example.com" => {}
        Ok(other) => match script.fail(&format!("signed in as {other:?}")).await {},
        Err(e) => match script
            .fail(&format!("signing in with the copied credentials: {e:#}"))
            .await {},
    }
    script.send("SIGNED-IN").await;
    // Rotated: the old secret stops working at once, the new one works.
    let rotated = script.expect("ROTATED ").await;
    let (old_says, new_says) = (
        token_error(&p, &id, &secret).await,
        token_error(&p, &id, &rotated).await,
    );
    if rotated == secret || old_says != "invalid_client" || new_says != "invalid_grant" {
        let msg = format!("after rotation: the old secret gets {old_says}, the new {new_says}");
        match script.fail(&msg).await {}
    }
    script.send("CHECKED").await;
    let report = script.expect("REPORT ").await;
    let report: Value = serde_json::from_str(&report).unwrap();
    script.expect("DONE").await;

    let mut problems = audit_problems(&report, &shots, 15);
    if secret.is_empty() || report["secret"] != secret.as_str() {
        problems.push(format!(
            "the Copy button did not copy the secret: {} / {secret:?}",
            report["copyStatus"]
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
    let usage = &report["usage"];
    if !usage["summary"]
        .as_str()
        .unwrap_or("")
        .starts_with("1 approved, 0 denied and 0 expired")
        || usage["approvedBars"] != 1
        || usage["recent"] != 1
    {
        problems.push(format!(
            "the sign-in is not counted on the client's page: {usage}"
        ));
    }
    finish(&mut script, &problems, &shots).await;
    // The browser deleted the client: its credentials are refused now.
    let gone = authentiq_server::oidc::clients::find(&p.state, &id)
        .await
        .unwrap();
    assert!(gone.is_none(), "the client {id} was deleted");
    assert_eq!(
        token_error(&p, &id, &rotated).await,
        "invalid_client",
        "deleted"
    );
}

/// The owner's device approves the next sign-in the script pushes to it
/// (for the dashboard's own client, with the page's number).
async fn approve(script: &mut Script, p: &Provider, device: &mut Device) {
    let (req, number) = pushed_request(script, p, device, "authentiq-dashboard").await;
    if let Err(e) = device
        .respond(&req, Decision::Approve, Some(number), "openid")
        .await
    {
        match script.fail(&format!("the device: {e:#}")).await {}
    }
}

async fn linked_id(p: &Provider) -> Option<String> {
    p.state
        .db
        .call(|s| s.find_account_by_email(EMAIL))
        .await
        .unwrap()
        .authentiq_pk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_links_an_authentiq_id_and_signs_in_to_the_dashboard_with_it() {
    let _one = one_at_a_time().await;
    let p = Provider::start_with(|_| {}).await;
    owner_account(&p).await;
    let mut device = Device::enrol(&p, EMAIL).await;
    let shots = fresh_shots("artifacts/dashboard-authentiq");
    let mut script = Script::start(
        "dashboard-authentiq.mjs",
        &[&p.url, EMAIL, PASSWORD, shots.to_str().unwrap()],
    );
    // Linking: the device approves on the provider's sign-in page.
    approve(&mut script, &p, &mut device).await;
    let shown = script.expect("LINKED ").await;
    let stored = linked_id(&p).await;
    if shown != device.pk || stored.as_deref() != Some(device.pk.as_str()) {
        let msg = format!(
            "linked {shown:?} (stored {stored:?}), not the device's {}",
            device.pk
        );
        match script.fail(&msg).await {}
    }
    // Signed out, "Sign in with Authentiq": the device approves again.
    approve(&mut script, &p, &mut device).await;
    script.expect("SIGNED-IN").await;
    // Unlinked, the same ID is refused.
    approve(&mut script, &p, &mut device).await;
    let report: Value = serde_json::from_str(&script.expect("REPORT ").await).unwrap();
    script.expect("DONE").await;
    let problems = audit_problems(&report, &shots, 6);
    finish(&mut script, &problems, &shots).await;
    assert_eq!(linked_id(&p).await, None, "unlinked in the browser");
}
