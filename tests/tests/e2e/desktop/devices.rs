//! Issue 18's first "done when", with the desktop app as one of the
//! devices of an Authentiq ID (the others are `aq`, `desktop/aq_device.rs`),
//! against the provider in process with the demo relying party and a
//! recovery delay of [`DELAY`] seconds:
//!
//! 1. `aq` device A enrols (its email verified);
//! 2. the app (a fresh profile) links to A's ID: "Link to an existing ID",
//!    A approves with the number the app shows; the app verifies the email;
//! 3. a sign-in at the demo answered in the app, and one answered on A:
//!    the demo sees the same `sub`; each push, answered on one device, is
//!    withdrawn on the other (A's inbox; the app's pending list and its
//!    notification, closed: a mock notification daemon, `notifications.rs`);
//! 4. device C links, approved from the app with C's number;
//! 5. settings → Devices lists the three; C renamed and removed from the
//!    app: C's key is refused, A's and the app's go on;
//! 6. device D recovers the ID; the app shows the recovery and cancels it:
//!    D cannot complete it after the delay;
//! 7. device E recovers the ID (A and the app lost) and completes it after
//!    the delay: the demo sees the same `sub` from E; A's key is refused
//!    and the app, its key removed, returns to onboarding saying this
//!    computer was removed (not that the ID was revoked).
//!
//! Screenshots of every screen into `tests/artifacts/desktop/devices/`.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context, ensure};

use super::app::{App, artifacts_dir, fresh_artifacts, one_at_a_time};
use super::aq_device::{Aq, str_at, until_past};
use super::notifications::Notifications;
use super::rp::SignIn;
use crate::support::provider::Provider;

const EMAIL: &str = "desk-devices@example.com";
/// `devices.recovery_delay_secs` of the provider.
const DELAY: i64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_and_aq_are_devices_of_one_id_with_one_sub() {
    // Missing, it fails the test before anything starts.
    crate::aq::aq_binary();
    let _one = one_at_a_time().await;
    let started = Instant::now();
    let dir = fresh_artifacts(artifacts_dir().join("devices"));
    let p = Provider::demo_with(|c| c.devices.recovery_delay_secs = DELAY).await;
    let notifications =
        Notifications::start(&dir.join("notifications.log")).unwrap_or_else(|e| panic!("{e:#}"));
    let mut app = App::launch(&p, dir, started).await;
    let result = flow(&mut app, &p, &notifications).await;
    app.finish(result, "desktop app and aq, devices of one ID")
        .await;
}

async fn flow(app: &mut App, p: &Provider, notifications: &Notifications) -> anyhow::Result<()> {
    app.step("aq device A enrols");
    let a = Aq::new("A");
    let (id, secret) = a.enrol(p, EMAIL).await?;

    link_the_app(app, p, &a, &id).await?;
    let mut seen = HashSet::new();
    let sub = one_sub_from_both(app, p, &a, notifications, &mut seen).await?;
    let (c, c_key) = link_c_from_the_app(app, p, &id).await?;
    devices_in_settings(app, &a, &c, &c_key).await?;
    app.home(&seen).await?;
    recovery_cancelled_from_the_app(app, p, &a, &id, &secret).await?;
    recovery_completed(app, p, &a, &id, &secret, &sub).await
}

/// Onboarding → "Link to an existing ID" → the number, which A approves →
/// the email verified → home, the app a device of A's ID.
async fn link_the_app(app: &mut App, p: &Provider, a: &Aq, id: &str) -> anyhow::Result<()> {
    app.step("the app: link to an existing ID");
    app.el("#server-url").await?;
    app.shot("welcome").await?;
    app.click("#link-existing").await?;
    let server = app.el("#link-server").await?;
    let value = app.wd.prop(&server, "value").await?;
    ensure!(
        value.as_str() == Some(p.url.as_str()),
        "#link-server holds {value}, not AUTHENTIQ_SERVER ({})",
        p.url
    );
    app.type_into("#link-id-input", id).await?;
    app.type_into("#link-device-name", "Desk").await?;
    app.shot("link").await?;
    app.click("#link-submit").await?;

    app.step("the app shows the number; A approves with it");
    let shown = app.text("#link-number").await?;
    let number: u16 = shown
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("#link-number shows {shown:?}: {e}"))?;
    let pairing = app.attr("#link-pairing", "data-pairing").await?;
    app.shot("link-number").await?;
    a.ok(&[
        "devices",
        "approve",
        &pairing,
        "--number",
        &number.to_string(),
    ])
    .await?;

    app.verify_email_to_home(p, EMAIL, id, "linked").await?;
    let (devices, _) = a.devices().await?;
    ensure!(
        devices.len() == 2 && devices.iter().any(|d| d["name"] == "Desk"),
        "A lists the devices {devices:?}, not itself and \"Desk\""
    );
    Ok(())
}

/// A sign-in answered in the app, one answered on A: the same `sub` at the
/// demo, and each withdrawn on the other device. Returns the `sub`.
async fn one_sub_from_both(
    app: &mut App,
    p: &Provider,
    a: &Aq,
    notifications: &Notifications,
    seen: &mut HashSet<String>,
) -> anyhow::Result<String> {
    app.step("a sign-in answered in the app");
    let s = SignIn::start(p, EMAIL).await?;
    let (rid, numbers) = app.open_request(seen).await?;
    seen.insert(rid);
    ensure!(
        numbers.contains(&s.number),
        "the page shows {}, the app offers {numbers:?}",
        s.number
    );
    let inbox = a.ok(&["inbox"]).await?;
    ensure!(
        inbox.to_string().contains(&s.sid),
        "the sign-in shown in the app is not in A's inbox: {inbox}"
    );
    app.click(&format!("#request button[data-number=\"{}\"]", s.number))
        .await?;
    app.enabled("#approve").await?;
    app.click("#approve").await?;
    let result = app
        .attr("#request-result[data-result]", "data-result")
        .await?;
    ensure!(result == "approved", "the app shows the result {result:?}");
    let out = s.finish(p, &app.dir.join("demo-desktop.html")).await?;
    let sub = out.sub()?;
    ensure!(
        out.claims.get("email").map(String::as_str) == Some(EMAIL),
        "the demo did not get the email from the app: {:?}",
        out.claims
    );
    let inbox = a.ok(&["inbox"]).await?;
    ensure!(
        !inbox.to_string().contains(&s.sid),
        "the sign-in answered in the app is still in A's inbox: {inbox}"
    );

    app.step("a sign-in pushed to both, answered on A");
    app.home(seen).await?;
    let s = SignIn::start(p, EMAIL).await?;
    let rid = app
        .wait("the sign-in in the app's pending list", async || {
            for el in app.wd.find_all("#pending-list [data-request-id]").await? {
                if let Some(id) = app.wd.attr(&el, "data-request-id").await?
                    && !seen.contains(&id)
                {
                    return Ok(Some(id));
                }
            }
            Ok(None)
        })
        .await?;
    app.shot("home-request-pushed-to-both").await?;
    let shown = app
        .wait("the app's notification of the sign-in", async || {
            Ok(notifications.id_of(&rid))
        })
        .await
        .with_context(|| format!("the daemon got:\n{}", notifications.log()))?;
    ensure!(
        !notifications.closed(shown),
        "the app closed its notification {shown} before the sign-in was answered"
    );
    a.approve(&s).await?;
    let out = s.finish(p, &app.dir.join("demo-aq.html")).await?;
    ensure!(
        out.sub()? == sub,
        "the demo sees {} from A, {sub} from the app",
        out.sub()?
    );

    app.step("the request answered on A withdrawn from the app");
    let css = format!("#pending-list [data-request-id=\"{rid}\"]");
    app.wait(
        "the request answered on A leaving the app's list",
        async || Ok(app.wd.find(&css).await?.is_none().then_some(())),
    )
    .await?;
    app.shot("home-request-withdrawn").await?;
    app.wait(
        "the app closing its notification of the sign-in",
        async || Ok(notifications.closed(shown).then_some(())),
    )
    .await
    .with_context(|| {
        format!(
            "notification {shown}; the daemon got:\n{}",
            notifications.log()
        )
    })?;
    seen.insert(rid);
    Ok(sub)
}

/// `aq link` on a new device C, approved from the app with C's number:
/// C and its device key.
async fn link_c_from_the_app(
    app: &mut App,
    p: &Provider,
    id: &str,
) -> anyhow::Result<(Aq, String)> {
    app.step("device C asks to link; the app shows the request");
    let c = Aq::new("C");
    let linking = c.link(p, id, "Laptop C").await?;
    let request = format!("#link-request[data-pairing=\"{}\"]", linking.pairing);
    app.el(&request).await?;
    let buttons = format!("{request} button[data-link-number]");
    let numbers = app
        .wait("the link request with three numbers", async || {
            let mut numbers = Vec::new();
            for b in app.wd.find_all(&buttons).await? {
                numbers.extend(
                    app.wd
                        .attr(&b, "data-link-number")
                        .await?
                        .and_then(|n| n.parse::<u16>().ok()),
                );
            }
            Ok((numbers.len() == 3).then_some(numbers))
        })
        .await?;
    ensure!(
        numbers.contains(&linking.number),
        "C shows {}, the app offers {numbers:?}",
        linking.number
    );
    app.shot("link-request").await?;

    app.step("the app approves C with C's number");
    app.click(&format!(
        "{request} button[data-link-number=\"{}\"]",
        linking.number
    ))
    .await?;
    app.enabled("#link-approve").await?;
    app.shot("link-request-number-picked").await?;
    app.click("#link-approve").await?;
    let said = app.text("#link-request-result").await?;
    let linked = linking.finish().await?;
    ensure!(
        linked["status"] == "linked" && linked["id"] == id,
        "aq link on C ended with {linked} (the app said {said:?})"
    );
    app.shot("link-request-approved").await?;
    let (devices, c_key) = c.devices().await?;
    ensure!(devices.len() == 3, "C lists {devices:?}");
    Ok((c, c_key))
}

/// Settings → Devices: three listed; C renamed, then removed (its key
/// refused, A's still working, two listed).
async fn devices_in_settings(app: &mut App, a: &Aq, c: &Aq, c_key: &str) -> anyhow::Result<()> {
    app.step("settings: the ID's devices");
    app.click("#nav-settings").await?;
    app.el("#devices").await?;
    let listed = async |app: &App, n: usize| {
        app.wait(&format!("{n} devices in #devices"), async || {
            let mut keys = Vec::new();
            for el in app.wd.find_all("#devices [data-device]").await? {
                keys.extend(app.wd.attr(&el, "data-device").await?);
            }
            Ok((keys.len() == n).then_some(keys))
        })
        .await
    };
    let keys = listed(app, 3).await?;
    let (_, a_key) = a.devices().await?;
    ensure!(
        keys.iter().any(|k| k == c_key) && keys.contains(&a_key),
        "#devices lists {keys:?}, not A's key {a_key} and C's {c_key}"
    );
    let this = app
        .attr("#devices [data-this-device=\"true\"]", "data-device")
        .await?;
    ensure!(
        keys.contains(&this) && this != a_key && this != c_key,
        "#devices marks {this} as this device (listed: {keys:?}; A is {a_key}, C {c_key})"
    );
    let own_remove = format!("#devices [data-device=\"{this}\"] .device-remove");
    if let Some(el) = app.wd.find(&own_remove).await? {
        ensure!(
            !app.wd.displayed(&el).await?,
            "this device's item offers to remove it"
        );
    }
    app.shot("devices").await?;

    app.step("settings: rename C");
    let item = format!("#devices [data-device=\"{c_key}\"]");
    app.click(&format!("{item} .device-rename")).await?;
    app.type_into("#device-name-input", "Old laptop").await?;
    app.shot("device-rename").await?;
    app.click("#device-name-save").await?;
    let name_css = format!("{item} [data-device-name]");
    app.wait("the new name in C's item", async || {
        let Some(el) = app.wd.find(&name_css).await? else {
            return Ok(None);
        };
        Ok((app.wd.text(&el).await?.trim() == "Old laptop").then_some(()))
    })
    .await?;
    app.shot("device-renamed").await?;
    let (devices, _) = a.devices().await?;
    ensure!(
        devices
            .iter()
            .any(|d| d["device"] == c_key && d["name"] == "Old laptop"),
        "the server has not renamed C: A lists {devices:?}"
    );

    app.step("settings: remove C");
    app.click(&format!("{item} .device-remove")).await?;
    app.el("#device-remove-dialog #device-remove-confirm")
        .await?;
    app.shot("device-remove-dialog").await?;
    app.click("#device-remove-confirm").await?;
    let keys = listed(app, 2).await?;
    ensure!(
        !keys.iter().any(|k| k == c_key),
        "C is still listed: {keys:?}"
    );
    app.shot("device-removed").await?;
    c.refused(&["devices"], "C was removed from the app")
        .await?;
    let (devices, _) = a.devices().await?;
    ensure!(devices.len() == 2, "after removing C, A lists {devices:?}");
    Ok(())
}

/// D recovers the ID; the app shows it and cancels it; after the delay D
/// cannot complete it, and A still works.
async fn recovery_cancelled_from_the_app(
    app: &mut App,
    p: &Provider,
    a: &Aq,
    id: &str,
    secret: &str,
) -> anyhow::Result<()> {
    app.step("device D starts a recovery; the app shows it");
    let d = Aq::new("D");
    let (recovery, completes_at) = d.recovery_waiting(p, id, EMAIL, secret).await?;
    app.el(&format!("#recovery-alert[data-recovery=\"{recovery}\"]"))
        .await?;
    app.shot("recovery-alert").await?;

    app.step("the app cancels the recovery");
    app.click("#recovery-cancel").await?;
    let said = app.text("#recovery-cancel-result").await?;
    app.shot("recovery-cancelled").await?;
    until_past(p, completes_at).await;
    d.refused(
        &["recover", "complete", &recovery],
        &format!("the recovery was cancelled from the app (it said {said:?})"),
    )
    .await?;
    let (devices, _) = a.devices().await?;
    ensure!(
        devices.len() == 2,
        "after the cancelled recovery A lists {devices:?}"
    );
    Ok(())
}

/// E recovers the ID with A and the app lost, after the delay: the same
/// `sub` at the demo; A's key refused; the app back to onboarding.
async fn recovery_completed(
    app: &mut App,
    p: &Provider,
    a: &Aq,
    id: &str,
    secret: &str,
    sub: &str,
) -> anyhow::Result<()> {
    app.step("every device lost: E recovers the ID after the delay");
    let e = Aq::new("E");
    let (recovery, completes_at) = e.recovery_waiting(p, id, EMAIL, secret).await?;
    app.el(&format!("#recovery-alert[data-recovery=\"{recovery}\"]"))
        .await?;
    e.refused(&["recover", "complete", &recovery], "not before the delay")
        .await?;
    until_past(p, completes_at).await;
    let done = e.ok(&["recover", "complete", &recovery]).await?;
    ensure!(done["status"] == "completed", "recover complete: {done}");
    ensure!(
        str_at(&done, "secret")? != secret,
        "the recovery kept the old secret"
    );
    a.refused(&["devices"], "A's key after the recovery")
        .await?;

    app.step("E signs in at the demo: the same sub");
    e.verify_email(p, EMAIL).await?;
    let s = SignIn::start(p, EMAIL).await?;
    e.approve(&s).await?;
    let out = s.finish(p, &app.dir.join("demo-recovered.html")).await?;
    ensure!(
        out.sub()? == sub,
        "the demo sees {} from the recovered ID, {sub} before",
        out.sub()?
    );

    app.step("the app, its key removed, returns to onboarding");
    app.el("#onboarding").await?;
    let notice = app.text("#onboarding-notice").await?;
    ensure!(
        notice.contains("This computer was removed from your Authentiq ID")
            && !notice.contains("was revoked"),
        "replaced by a recovery elsewhere, the app says {notice:?}"
    );
    app.el("#link-existing").await?;
    app.el("#recover-id").await?;
    app.shot("recovered-elsewhere-onboarding").await?;
    Ok(())
}
