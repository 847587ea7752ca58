//! Issue 18's recovery, on the desktop app itself against the real server
//! (the UI mock aside): every device of an Authentiq ID lost, a fresh app
//! recovers it with the recovery secret and the emailed code, after the
//! waiting period of [`DELAY`] seconds:
//!
//! 1. `aq` device A enrols (its email verified) and signs in at the demo:
//!    the `sub` the demo knows;
//! 2. the app (a fresh profile): onboarding → "Recover my ID" → the form
//!    (the server prefilled) with A's ID and recovery secret → the code
//!    from the server's outbox → waiting (`data-completes-at`); completing
//!    early is refused, and `#recover-error` says how long is left (not
//!    the server's Unix time);
//! 3. after the delay: completed, a new recovery secret (the old one now
//!    refused by the server), the email verified again → home, `#my-id`
//!    the ID; A's key is refused;
//! 4. a sign-in at the demo answered in the app: the same `sub`.
//!
//! Screenshots of every recover screen into
//! `tests/artifacts/desktop/recover/`.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context, ensure};

use super::app::{App, artifacts_dir, fresh_artifacts, one_at_a_time};
use super::aq_device::{Aq, code_after, mails_to, until_past};
use super::rp::SignIn;
use crate::support::provider::Provider;

const EMAIL: &str = "desk-recover@example.com";
/// `devices.recovery_delay_secs` of the provider: long enough for the
/// early completion to come before it.
const DELAY: i64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_recovers_an_id_whose_devices_are_lost_with_the_same_sub() {
    // Missing, it fails the test before anything starts.
    crate::aq::aq_binary();
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let dir = fresh_artifacts(artifacts_dir().join("recover"));
    let p = Provider::demo_with(|c| c.devices.recovery_delay_secs = DELAY).await;
    let mut app = App::launch(&p, dir, started).await;
    let result = flow(&mut app, &p).await;
    app.finish(result, "desktop app recovers an ID").await;
}

async fn flow(app: &mut App, p: &Provider) -> anyhow::Result<()> {
    app.step("aq device A enrols and signs in at the demo");
    let a = Aq::new("A");
    let (id, secret) = a.enrol(p, EMAIL).await?;
    let s = SignIn::start(p, EMAIL).await?;
    a.approve(&s).await?;
    let sub = s
        .finish(p, &app.dir.join("demo-before.html"))
        .await?
        .sub()?;

    let completes_at = recovery_waiting(app, p, &id, &secret).await?;
    let new_secret = recovery_completed(app, p, completes_at, &secret).await?;
    app.verify_email_to_home(p, EMAIL, &id, "recovered").await?;

    app.step("the replaced device and the old secret are refused");
    a.refused(&["devices"], "A's key after the app recovered the ID")
        .await?;
    let f = Aq::new("F");
    f.refused(
        &[
            "recover", "start", "--server", &p.url, "--id", &id, "--email", EMAIL, "--secret",
            &secret,
        ],
        &format!("the recovery secret before the app's recovery (the new one is {new_secret:.4}…)"),
    )
    .await?;

    app.step("a sign-in answered in the recovered app: the same sub");
    let s = SignIn::start(p, EMAIL).await?;
    let (_, numbers) = app.open_request(&HashSet::new()).await?;
    ensure!(
        numbers.contains(&s.number),
        "the page shows {}, the app offers {numbers:?}",
        s.number
    );
    app.click(&format!("#request button[data-number=\"{}\"]", s.number))
        .await?;
    app.enabled("#approve").await?;
    app.click("#approve").await?;
    let result = app
        .attr("#request-result[data-result]", "data-result")
        .await?;
    app.shot("recovered-request-approved").await?;
    ensure!(result == "approved", "the app shows the result {result:?}");
    let out = s.finish(p, &app.dir.join("demo-recovered.html")).await?;
    ensure!(
        out.sub()? == sub,
        "the demo sees {} from the app's recovered ID, {sub} from A before",
        out.sub()?
    );
    Ok(())
}

/// The welcome → "Recover my ID" → the form → the emailed code → waiting;
/// an early completion refused. When the recovery completes (server time).
async fn recovery_waiting(
    app: &mut App,
    p: &Provider,
    id: &str,
    secret: &str,
) -> anyhow::Result<i64> {
    app.step("the app: recover my ID");
    app.el("#server-url").await?;
    app.shot("welcome").await?;
    app.click("#recover-id").await?;
    let server = app.el("#recover-server").await?;
    let value = app.wd.prop(&server, "value").await?;
    ensure!(
        value.as_str() == Some(p.url.as_str()),
        "#recover-server holds {value}, not AUTHENTIQ_SERVER ({})",
        p.url
    );
    app.shot("recover-form-empty").await?;
    app.type_into("#recover-id-input", id).await?;
    app.type_into("#recover-device-name", "Recovered desk")
        .await?;
    app.type_into("#recover-email", EMAIL).await?;
    app.type_into("#recover-secret", secret).await?;
    app.shot("recover-form").await?;
    let before = mails_to(p, EMAIL)?;
    app.click("#recover-submit").await?;

    app.step("the app: the emailed code");
    app.el("#recover-email-code").await?;
    let code = code_after(p, EMAIL, before).await?;
    app.type_into("#recover-email-code", &code).await?;
    app.shot("recover-code").await?;
    app.click("#recover-confirm").await?;

    app.step("the app: waiting; completing early is refused");
    let at = app
        .attr("#recover-waiting[data-completes-at]", "data-completes-at")
        .await?;
    let completes_at: i64 = at
        .parse()
        .with_context(|| format!("#recover-waiting data-completes-at={at:?}"))?;
    let now = p.state.now();
    ensure!(
        completes_at > now && completes_at <= now + DELAY,
        "the recovery completes at {completes_at}, the server's time is {now}, the delay {DELAY} s"
    );
    app.shot("recover-waiting").await?;
    app.click("#recover-complete").await?;
    let refused = app.text("#recover-error").await?;
    ensure!(
        p.state.now() < completes_at,
        "the early completion came after the delay: the test proves nothing (raise DELAY)"
    );
    ensure!(
        refused.starts_with("Not yet") && !refused.contains(&completes_at.to_string()),
        "completing early, the app says {refused:?}"
    );
    app.shot("recover-complete-too-early").await?;
    app.el("#recover-waiting").await?;
    ensure!(
        app.wd.find("#recovery-secret-new").await?.is_none(),
        "completing before the delay showed a new secret (the app said {refused:?})"
    );
    Ok(completes_at)
}

/// After the delay: completed, the new recovery secret saved. Returns it.
async fn recovery_completed(
    app: &mut App,
    p: &Provider,
    completes_at: i64,
    old: &str,
) -> anyhow::Result<String> {
    app.step("the app completes the recovery after the delay");
    until_past(p, completes_at).await;
    app.click("#recover-complete").await?;
    let new = app.text("#recovery-secret-new").await?;
    ensure!(
        new.chars().filter(char::is_ascii_alphanumeric).count() >= 16,
        "the new recovery secret looks too short: {new:?}"
    );
    ensure!(new != old, "the recovery kept the old secret");
    app.shot("recovery-secret-new").await?;
    let cont = app.el("#continue").await?;
    ensure!(
        !app.wd.enabled(&cont).await?,
        "#continue is enabled before \"I saved it\" is ticked"
    );
    app.click("#secret-saved").await?;
    app.shot("recovery-secret-saved").await?;
    app.click("#continue").await?;
    Ok(new)
}
