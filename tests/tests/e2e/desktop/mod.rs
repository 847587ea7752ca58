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

mod harness;
mod rp;
mod webdriver;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use serde_json::Value;

use crate::support::provider::Provider;
use harness::{Driver, Xvfb};
use rp::SignIn;
use webdriver::{Element, WdError, WebDriver};

/// The longest any one step waits.
const STEP: Duration = Duration::from_secs(20);
const EMAIL: &str = "desk@example.com";

fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/desktop")
}

/// See `procs::one_window_at_a_time`.
async fn one_at_a_time() -> std::fs::File {
    tokio::task::spawn_blocking(authentiq_tests::procs::one_window_at_a_time)
        .await
        .unwrap()
        .unwrap()
}

/// Empties the artifacts directory of an earlier run's files.
fn fresh_artifacts() -> PathBuf {
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|e| e == "png" || e == "html" || e == "log")
        {
            let _ = std::fs::remove_file(path);
        }
    }
    dir
}

/// The app under WebDriver, and the processes around it. Fields drop in
/// order: tauri-driver (and the app with it) before the display.
struct App {
    wd: WebDriver,
    dir: PathBuf,
    shots: Vec<String>,
    step: String,
    driver: Driver,
    xvfb: Xvfb,
    /// `AQ_PROFILE` of this app: its processes carry it.
    profile: String,
}

impl App {
    /// Saves a screenshot of the window as `NN-<name>.png`, once what was
    /// just typed or clicked is painted (two frames, and the 0.2 s of the
    /// UI's transitions).
    async fn shot(&mut self, name: &str) -> anyhow::Result<()> {
        let file = format!("{:02}-{name}.png", self.shots.len() + 1);
        let painted = "const done = arguments[arguments.length - 1]; \
                       requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 250)));";
        self.wd
            .execute_async(painted, vec![])
            .await
            .with_context(|| format!("waiting for the window to paint before {file}"))?;
        let png = self
            .wd
            .screenshot()
            .await
            .with_context(|| format!("screenshot {file}"))?;
        std::fs::write(self.dir.join(&file), png)?;
        self.shots.push(file);
        Ok(())
    }

    /// Names the step for failure messages.
    fn step(&mut self, step: &str) {
        self.step = step.to_string();
    }

    /// Polls `probe` until it gives a value, for at most [`STEP`]. Errors
    /// from the driver (a stale element, a click that landed on something
    /// else) are retried; the last one is in the timeout's message.
    async fn wait<T>(
        &self,
        what: &str,
        mut probe: impl AsyncFnMut() -> Result<Option<T>, WdError>,
    ) -> anyhow::Result<T> {
        let until = Instant::now() + STEP;
        let mut last = None;
        loop {
            match probe().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last = Some(e),
            }
            if Instant::now() > until {
                return Err(match last {
                    Some(e) => anyhow!("{what}: not within {STEP:?} (last WebDriver error: {e})"),
                    None => anyhow!("{what}: not within {STEP:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The element matching `css`, once it is displayed.
    async fn el(&self, css: &str) -> anyhow::Result<Element> {
        self.wait(&format!("{css} shown"), async || {
            match self.wd.find(css).await? {
                Some(el) if self.wd.displayed(&el).await? => Ok(Some(el)),
                _ => Ok(None),
            }
        })
        .await
    }

    /// Clicks `css` once it is shown and enabled.
    async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait(&format!("clicking {css}"), async || {
            let Some(el) = self.wd.find(css).await? else {
                return Ok(None);
            };
            if !self.wd.displayed(&el).await? || !self.wd.enabled(&el).await? {
                return Ok(None);
            }
            self.wd.click(&el).await.map(Some)
        })
        .await
    }

    async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let el = self.el(css).await?;
        self.wd.clear(&el).await?;
        self.wd.send_keys(&el, text).await?;
        let value = self.wd.prop(&el, "value").await?;
        ensure!(
            value.as_str() == Some(text),
            "typed {text:?} into {css}, it holds {value}"
        );
        Ok(())
    }

    /// The text of `css`, once it has some.
    async fn text(&self, css: &str) -> anyhow::Result<String> {
        self.wait(&format!("text in {css}"), async || {
            let Some(el) = self.wd.find(css).await? else {
                return Ok(None);
            };
            let text = self.wd.text(&el).await?;
            Ok((!text.trim().is_empty()).then(|| text.trim().to_string()))
        })
        .await
    }

    /// The attribute `name` of `css`, once it is there.
    async fn attr(&self, css: &str, name: &str) -> anyhow::Result<String> {
        self.wait(&format!("{css} with {name}"), async || {
            let Some(el) = self.wd.find(css).await? else {
                return Ok(None);
            };
            Ok(self.wd.attr(&el, name).await?.filter(|v| !v.is_empty()))
        })
        .await
    }

    async fn enabled(&self, css: &str) -> anyhow::Result<()> {
        self.wait(&format!("{css} enabled"), async || {
            let Some(el) = self.wd.find(css).await? else {
                return Ok(None);
            };
            Ok(self.wd.enabled(&el).await?.then_some(()))
        })
        .await
    }

    /// Back to the home screen, where the requests answered so far (`seen`)
    /// must have left the list.
    async fn home(&mut self, seen: &HashSet<String>) -> anyhow::Result<()> {
        self.click("#nav-home").await?;
        self.el("#home").await?;
        self.wait(
            "the answered requests leaving the home screen's list",
            async || {
                for el in self.wd.find_all("#pending-list [data-request-id]").await? {
                    if let Some(id) = self.wd.attr(&el, "data-request-id").await?
                        && seen.contains(&id)
                    {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )
        .await
    }

    /// Waits for a sign-in request this test has not seen yet: on the home
    /// screen's list (then opens it) or on the request screen already.
    /// Returns its id and the three numbers it shows.
    async fn open_request(&mut self, seen: &HashSet<String>) -> anyhow::Result<(String, Vec<u16>)> {
        let (id, listed) = self
            .wait("a new sign-in request in the app", async || {
                if let Some(el) = self.wd.find("#request[data-request-id]").await?
                    && let Some(id) = self.wd.attr(&el, "data-request-id").await?
                    && !seen.contains(&id)
                {
                    return Ok(Some((id, false)));
                }
                for el in self.wd.find_all("#pending-list [data-request-id]").await? {
                    if let Some(id) = self.wd.attr(&el, "data-request-id").await?
                        && !seen.contains(&id)
                    {
                        return Ok(Some((id, true)));
                    }
                }
                Ok(None)
            })
            .await?;
        if listed {
            self.shot("home-request-pending").await?;
            self.click(&format!("#pending-list [data-request-id=\"{id}\"]"))
                .await?;
        }
        let css = format!("#request[data-request-id=\"{id}\"] button[data-number]");
        let numbers = self
            .wait("the request screen with three numbers", async || {
                let buttons = self.wd.find_all(&css).await?;
                let mut numbers = Vec::new();
                for b in &buttons {
                    match self.wd.attr(b, "data-number").await? {
                        Some(n) => numbers.extend(n.parse::<u16>().ok()),
                        None => return Ok(None),
                    }
                }
                Ok((numbers.len() == 3).then_some(numbers))
            })
            .await?;
        self.text("#client-name").await?;
        Ok((id, numbers))
    }

    /// What helps most when a step fails: a screenshot of the window and of
    /// the whole display, the screen's text, and the logs' ends.
    async fn failure(&mut self, err: &anyhow::Error) -> String {
        let mut msg = format!(
            "desktop test failed at step {:?}: {err:#}\n  screenshots so far: {:?}",
            self.step, self.shots
        );
        let window = self.dir.join("FAILED-window.png");
        match tokio::time::timeout(Duration::from_secs(10), self.wd.screenshot()).await {
            Ok(Ok(png)) => match std::fs::write(&window, png) {
                Ok(()) => msg += &format!("\n  screenshot of the window: {}", window.display()),
                Err(e) => msg += &format!("\n  cannot save {}: {e}", window.display()),
            },
            Ok(Err(e)) => msg += &format!("\n  no screenshot of the window: {e:#}"),
            _ => msg += "\n  no screenshot of the window",
        }
        let display = self.dir.join("FAILED-display.png");
        let import = tokio::process::Command::new("import")
            .args(["-display", &self.xvfb.display, "-window", "root"])
            .arg(&display)
            .kill_on_drop(true)
            .status();
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(10), import).await
            && s.success()
        {
            msg += &format!("\n  screenshot of the display: {}", display.display());
        }
        let script = "return location.hash + '\\n' + document.body.innerText";
        match tokio::time::timeout(Duration::from_secs(10), self.wd.execute(script, vec![])).await {
            Ok(Ok(Value::String(text))) => {
                let text: String = text.chars().take(2000).collect();
                msg += &format!("\n  the app shows:\n{text}");
            }
            Ok(Err(e)) => msg += &format!("\n  cannot read the app's text: {e}"),
            _ => msg += "\n  cannot read the app's text",
        }
        msg += &format!(
            "\n  tauri-driver, WebKitWebDriver and the app ({}), last lines:\n{}",
            self.driver.log.display(),
            harness::tail(&self.driver.log, 40)
        );
        msg
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_app_onboards_and_answers_sign_ins_from_the_demo() {
    let tauri_driver = harness::tool(
        "tauri-driver",
        &harness::cargo_bin_dirs(),
        "install it with `cargo install --locked tauri-driver --version 2.1.0`",
    );
    let webkit_driver = harness::tool("WebKitWebDriver", &[], "install Debian's webkit2gtk-driver");
    let xvfb = harness::tool("Xvfb", &[], "install Debian's xvfb");
    let application = authentiq_tests::desktop_app::built_app();
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: run the tests with `bash .ci/test` (it starts dbus-run-session and \
         gnome-keyring, which the app keeps its key in)"
    );

    let _one = one_at_a_time().await;
    let started = Instant::now();
    let dir = fresh_artifacts();
    let p = Provider::demo().await;
    let home = tempfile::tempdir().unwrap();
    // A profile of its own: the keyring is shared by the tests.
    let profile = format!("desktop-{}", authentiq_server::secrets::new_job_id());

    let xvfb = Xvfb::start(&xvfb, &dir.join("xvfb.log")).unwrap_or_else(|e| panic!("{e:#}"));
    let home_dir = home.path().to_str().unwrap();
    let env = [
        ("DISPLAY", xvfb.display.as_str()),
        ("AQ_HOME", home_dir),
        ("AQ_PROFILE", profile.as_str()),
        ("AUTHENTIQ_SERVER", p.url.as_str()),
        ("AQ_LOG", "info"),
        ("NO_COLOR", "1"),
    ];
    let driver = Driver::start(
        &tauri_driver,
        &webkit_driver,
        &env,
        &dir.join("tauri-driver.log"),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let wd = match WebDriver::start(&driver.url, &application, STEP).await {
        Ok(wd) => wd,
        Err(e) => panic!(
            "{e:#}\n  tauri-driver's log ({}):\n{}",
            driver.log.display(),
            harness::tail(&driver.log, 40)
        ),
    };
    let session_started = started.elapsed();
    let mut app = App {
        wd,
        dir,
        shots: Vec::new(),
        step: "start".into(),
        driver,
        xvfb,
        profile: profile.clone(),
    };

    let result = flow(&mut app, &p).await;
    if let Err(e) = result {
        let report = app.failure(&e).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), app.wd.quit()).await;
        panic!("{report}");
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), app.wd.quit()).await;
    eprintln!(
        "desktop app end to end: {:.1?} (the app under WebDriver after {session_started:.1?}); \
         screenshots in {}: {}",
        started.elapsed(),
        app.dir.display(),
        app.shots.join(", ")
    );
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
    // Requests reach the app only over its device channel.
    app.wait("the app connected to the server", async || {
        let Some(el) = app.wd.find("#connection").await? else {
            return Ok(None);
        };
        let class = app.wd.attr(&el, "class").await?.unwrap_or_default();
        Ok(class
            .split_whitespace()
            .any(|c| c == "is-online")
            .then_some(()))
    })
    .await?;
    app.shot("home").await?;
    Ok(())
}
