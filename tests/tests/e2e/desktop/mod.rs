//! The desktop app end to end, over WebDriver: the real app binary
//! (`target/debug/authentiq-desktop`, with the UI it embeds) under Xvfb,
//! driven through tauri-driver and WebKitWebDriver, against the provider
//! running in process with the demo relying party.
//!
//! Onboarding (server prefilled → create ID → revocation secret → verify the
//! email with the code from the server's outbox → skip the phone → home);
//! then three sign-ins at the demo, each started by a browser (an HTTP
//! client with a cookie jar, `desktop/rp.rs`) that presses "send to my
//! device": a wrong number (the app says so, the demo gets
//! `access_denied`), the right number (the demo gets the claims, the email
//! verified), and a denial (`access_denied`); then the history, the
//! settings with "Sign out everywhere" (confirmed in its dialog; the server
//! logs it), and Quit.
//!
//! Needs `tauri-driver` (`cargo install --locked tauri-driver`),
//! `WebKitWebDriver` (Debian's webkit2gtk-driver), `Xvfb`, and a session bus
//! with an unlocked Secret Service: `bash .ci/test` provides all of them.
//! A missing one fails the test, it does not skip it. Screenshots of every
//! screen, the demo's pages and the logs go to `tests/artifacts/desktop/`.
//!
//! `devices.rs`: the app as one of several devices of an Authentiq ID,
//! beside `aq` (linking, removal, withdrawn pushes, recovery); `recover.rs`:
//! a fresh app recovers an ID whose devices are lost; `app.rs`:
//! the app under WebDriver and the steps both tests take on it.

mod app;
mod aq_device;
mod devices;
mod harness;
mod notifications;
mod recover;
mod rp;
mod webdriver;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure};
use serde_json::Value;

use crate::support::provider::Provider;
use app::{App, STEP, artifacts_dir, fresh_artifacts, one_at_a_time};
use rp::SignIn;

const EMAIL: &str = "desk@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_onboards_and_answers_sign_ins_from_the_demo() {
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let dir = fresh_artifacts(artifacts_dir());
    let p = Provider::demo().await;
    let mut app = App::launch(&p, dir, started).await;
    let result = flow(&mut app, &p).await;
    app.finish(result, "desktop app end to end").await;
}

async fn flow(app: &mut App, p: &Provider) -> anyhow::Result<()> {
    onboarding(app, p).await?;
    let mut seen = HashSet::new();

    // 1. A wrong number: the app says so, the demo gets access_denied.
    app.step("sign-in with a wrong number");
    let signin = SignIn::start(p, EMAIL).await?;
    let (id, numbers) = app.open_request(&seen).await?;
    seen.insert(id.clone());
    ensure!(
        numbers.contains(&signin.number),
        "the page shows {}, the app offers {numbers:?}",
        signin.number
    );
    app.shot("request").await?;
    let wrong = numbers
        .iter()
        .copied()
        .find(|n| *n != signin.number)
        .unwrap();
    app.click(&format!("#request button[data-number=\"{wrong}\"]"))
        .await?;
    app.enabled("#approve").await?;
    app.shot("request-wrong-number-picked").await?;
    app.click("#approve").await?;
    let error = app.text("#request-error").await?;
    app.shot("request-wrong-number-refused").await?;
    let out = signin
        .finish(p, &app.dir.join("demo-wrong-number.html"))
        .await?;
    ensure!(
        out.param("error").as_deref() == Some("access_denied"),
        "after a wrong number the demo got {} (the app said {error:?})",
        out.redirect
    );
    ensure!(
        out.error.as_deref() == Some("You denied the sign-in."),
        "the demo shows {:?} after a wrong number",
        out.error
    );

    // 2. The right number: the demo gets the claims, the email verified.
    app.step("sign-in with the right number");
    app.home(&seen).await?;
    let signin = SignIn::start(p, EMAIL).await?;
    let (id, numbers) = app.open_request(&seen).await?;
    seen.insert(id.clone());
    ensure!(
        numbers.contains(&signin.number),
        "the page shows {}, the app offers {numbers:?}",
        signin.number
    );
    let email_box = app
        .el("#claims [data-claim=\"email\"] input[type=checkbox]")
        .await?;
    let checked = app.wd.prop(&email_box, "checked").await?;
    ensure!(
        checked == Value::Bool(true),
        "the email is not ticked for sharing ({checked})"
    );
    app.click(&format!(
        "#request button[data-number=\"{}\"]",
        signin.number
    ))
    .await?;
    app.enabled("#approve").await?;
    app.shot("request-right-number-picked").await?;
    app.click("#approve").await?;
    let result = app
        .attr("#request-result[data-result]", "data-result")
        .await?;
    app.shot("request-approved").await?;
    ensure!(result == "approved", "the app shows the result {result:?}");
    let out = signin
        .finish(p, &app.dir.join("demo-approved.html"))
        .await?;
    ensure!(
        out.param("code").is_some(),
        "after the approval the demo got {}",
        out.redirect
    );
    ensure!(
        out.claims.get("email").map(String::as_str) == Some(EMAIL)
            && out.claims.get("email_verified").map(String::as_str) == Some("true"),
        "the demo did not get the verified email: claims {:?}, error {:?}",
        out.claims,
        out.error
    );
    ensure!(out.claims.contains_key("sub"), "no sub: {:?}", out.claims);

    // 3. A denial: access_denied.
    app.step("sign-in denied");
    app.home(&seen).await?;
    let signin = SignIn::start(p, EMAIL).await?;
    let (id, _) = app.open_request(&seen).await?;
    seen.insert(id);
    app.shot("request-to-deny").await?;
    app.click("#deny").await?;
    let result = app
        .attr("#request-result[data-result]", "data-result")
        .await?;
    app.shot("request-denied").await?;
    ensure!(result == "denied", "the app shows the result {result:?}");
    let out = signin.finish(p, &app.dir.join("demo-denied.html")).await?;
    ensure!(
        out.param("error").as_deref() == Some("access_denied"),
        "after the denial the demo got {}",
        out.redirect
    );

    // 4. The history lists the decisions; the settings screen opens.
    app.step("history and settings");
    app.home(&seen).await?;
    app.click("#nav-history").await?;
    app.el("#history").await?;
    let results = app
        .wait("three decisions in the history", async || {
            let rows = app.wd.find_all("#history [data-result]").await?;
            let mut results = Vec::new();
            for row in &rows {
                results.extend(app.wd.attr(row, "data-result").await?);
            }
            Ok((results.len() >= 3).then_some(results))
        })
        .await?;
    app.shot("history").await?;
    ensure!(
        results.iter().any(|r| r == "approved") && results.iter().any(|r| r == "denied"),
        "the history shows {results:?}"
    );
    app.click("#nav-settings").await?;
    app.el("#settings").await?;
    app.shot("settings").await?;

    // 5. Sign out everywhere, confirmed in its dialog: the server ends the
    // ID's sessions (the demo's, from the approval above) and logs it.
    app.step("sign out everywhere");
    app.click("#signout-everywhere").await?;
    app.el("#signout-dialog[open] #signout-confirm").await?;
    app.shot("settings-signout-confirm").await?;
    app.click("#signout-confirm").await?;
    let said = app.text("#signout-result").await?;
    app.shot("settings-signed-out").await?;
    ensure!(
        said.starts_with("Signed out everywhere"),
        "after signing out everywhere the app says {said:?}"
    );
    let events = p
        .state
        .db
        .call(|s| s.list_security_events(&Default::default(), 50))
        .await
        .map_err(|e| anyhow!("the security log: {e:?}"))?;
    ensure!(
        events
            .iter()
            .any(|e| e.kind == "signed-out" && e.detail.as_deref() == Some("everywhere")),
        "the server logged no sign-out everywhere: {events:?}"
    );

    // 6. Quit, from the settings: the app ends, WebKit's processes with it
    // (closing the window would leave it running).
    app.step("quit");
    // The app and WebKit's processes; tauri-driver and WebKitWebDriver
    // carry the same environment and stay.
    let running = || -> Vec<String> {
        authentiq_tests::procs::with_env("AQ_PROFILE", &app.profile)
            .into_iter()
            .filter_map(authentiq_tests::procs::Usage::read)
            .map(|u| u.name)
            .filter(|n| {
                n == "authentiq-desktop" || (n.starts_with("WebKit") && n.ends_with("Process"))
            })
            .collect()
    };
    ensure!(
        !running().is_empty(),
        "no process of the app found before Quit"
    );
    let quit = app.el("#quit").await?;
    // The app may be gone before WebKitWebDriver answers the click.
    let _ = app.wd.click(&quit).await;
    let until = Instant::now() + STEP;
    while !running().is_empty() {
        ensure!(
            Instant::now() < until,
            "the app still runs {STEP:?} after Quit: {:?}",
            running()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// From the first screen to home, with the email verified.
async fn onboarding(app: &mut App, p: &Provider) -> anyhow::Result<()> {
    app.step("onboarding: the server");
    let input = app.el("#server-url").await?;
    let value = app.wd.prop(&input, "value").await?;
    ensure!(
        value.as_str() == Some(p.url.as_str()),
        "the server field holds {value}, not AUTHENTIQ_SERVER ({})",
        p.url
    );
    app.shot("welcome").await?;
    app.click("#create-id").await?;

    app.step("onboarding: the revocation secret");
    let secret = app.text("#revocation-secret").await?;
    ensure!(
        secret.chars().filter(char::is_ascii_alphanumeric).count() >= 16,
        "the revocation secret looks too short: {secret:?}"
    );
    app.shot("revocation-secret").await?;
    let cont = app.el("#continue").await?;
    ensure!(
        !app.wd.enabled(&cont).await?,
        "#continue is enabled before \"I saved it\" is ticked"
    );
    app.click("#secret-saved").await?;
    app.click("#continue").await?;

    app.step("onboarding: verify the email");
    app.type_into("#verify-email-input", EMAIL).await?;
    app.shot("verify-email").await?;
    app.click("#verify-email-send").await?;
    app.el("#verify-code-input").await?;
    let code = p.emailed_code(EMAIL, STEP).await?;
    app.type_into("#verify-code-input", &code).await?;
    app.shot("verify-code").await?;
    app.click("#verify-code-submit").await?;

    app.step("onboarding: skip the phone");
    app.el("#verify-skip").await?;
    app.shot("verify-phone").await?;
    app.click("#verify-skip").await?;

    app.step("home after onboarding");
    app.el("#home").await?;
    let pk = app.attr("#my-id", "data-pk").await?;
    ensure!(pk.len() == 43, "#my-id holds {pk:?}, not an Authentiq ID");
    let verified = app.text("#verified-list").await?;
    ensure!(
        verified.contains(EMAIL),
        "the verified list shows {verified:?}, not {EMAIL}"
    );
    let qr = app.attr("#id-qr", "src").await?;
    ensure!(
        qr.starts_with("data:image/svg+xml"),
        "the ID's QR code is {qr:.60}"
    );
    app.online().await?;
    app.shot("home").await?;
    Ok(())
}
