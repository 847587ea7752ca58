//! The app under WebDriver (`App::launch`: Xvfb, tauri-driver,
//! WebKitWebDriver and the app with a fresh home and profile) and the
//! steps the desktop tests take on it: waiting for elements, clicking,
//! typing, screenshots, and the report of a failed step.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use serde_json::Value;

use super::harness::{self, Driver, Xvfb};
use super::webdriver::{Element, WdError, WebDriver};
use crate::support::provider::Provider;

/// The longest any one step waits.
pub(super) const STEP: Duration = Duration::from_secs(20);

pub(super) fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/desktop")
}

/// See `procs::one_window_at_a_time`.
pub(super) async fn one_at_a_time() -> std::fs::File {
    tokio::task::spawn_blocking(authentiq_tests::procs::one_window_at_a_time)
        .await
        .unwrap()
        .unwrap()
}

/// Empties the artifacts directory `dir` of an earlier run's files
/// (those right in it: another test's subdirectory stays).
pub(super) fn fresh_artifacts(dir: PathBuf) -> PathBuf {
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
pub(super) struct App {
    pub(super) wd: WebDriver,
    pub(super) dir: PathBuf,
    shots: Vec<String>,
    step: String,
    driver: Driver,
    xvfb: Xvfb,
    /// `AQ_PROFILE` of this app: its processes carry it.
    pub(super) profile: String,
    /// When the test started, and when the app was under WebDriver.
    started: Instant,
    session_started: Duration,
    /// `AQ_HOME` of this app.
    _home: tempfile::TempDir,
}

impl App {
    /// The app (a fresh home and profile, `AUTHENTIQ_SERVER` = `p`) under
    /// Xvfb and WebDriver, its screenshots and logs into `dir`. A missing
    /// tool, or an app that does not start, fails the test here.
    pub(super) async fn launch(p: &Provider, dir: PathBuf, started: Instant) -> App {
        let tauri_driver = harness::tool(
            "tauri-driver",
            &harness::cargo_bin_dirs(),
            "install it with `cargo install --locked tauri-driver --version 2.1.0`",
        );
        let webkit_driver =
            harness::tool("WebKitWebDriver", &[], "install Debian's webkit2gtk-driver");
        let xvfb = harness::tool("Xvfb", &[], "install Debian's xvfb");
        let application = authentiq_tests::desktop_app::built_app();
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no session bus: run the tests with `bash .ci/test` (it starts dbus-run-session and \
             gnome-keyring, which the app keeps its key in)"
        );
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
        App {
            wd,
            dir,
            shots: Vec::new(),
            step: "start".into(),
            driver,
            xvfb,
            profile,
            started,
            session_started: started.elapsed(),
            _home: home,
        }
    }

    /// Ends the session; a failed `result` fails the test with
    /// [`App::failure`]'s report, a passed one says how long `what` took.
    pub(super) async fn finish(mut self, result: anyhow::Result<()>, what: &str) {
        if let Err(e) = result {
            let report = self.failure(&e).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), self.wd.quit()).await;
            panic!("{report}");
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.wd.quit()).await;
        eprintln!(
            "{what}: {:.1?} (the app under WebDriver after {:.1?}); screenshots in {}: {}",
            self.started.elapsed(),
            self.session_started,
            self.dir.display(),
            self.shots.join(", ")
        );
    }

    /// Saves a screenshot of the window as `NN-<name>.png`, once what was
    /// just typed or clicked is painted (two frames, and the 0.2 s of the
    /// UI's transitions).
    pub(super) async fn shot(&mut self, name: &str) -> anyhow::Result<()> {
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
    pub(super) fn step(&mut self, step: &str) {
        self.step = step.to_string();
    }

    /// Polls `probe` until it gives a value, for at most [`STEP`]. Errors
    /// from the driver (a stale element, a click that landed on something
    /// else) are retried; the last one is in the timeout's message.
    pub(super) async fn wait<T>(
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
    pub(super) async fn el(&self, css: &str) -> anyhow::Result<Element> {
        self.wait(&format!("{css} shown"), async || {
            match self.wd.find(css).await? {
                Some(el) if self.wd.displayed(&el).await? => Ok(Some(el)),
                _ => Ok(None),
            }
        })
        .await
    }

    /// Clicks `css` once it is shown and enabled.
    pub(super) async fn click(&self, css: &str) -> anyhow::Result<()> {
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

    pub(super) async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
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
    pub(super) async fn text(&self, css: &str) -> anyhow::Result<String> {
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
    pub(super) async fn attr(&self, css: &str, name: &str) -> anyhow::Result<String> {
        self.wait(&format!("{css} with {name}"), async || {
            let Some(el) = self.wd.find(css).await? else {
                return Ok(None);
            };
            Ok(self.wd.attr(&el, name).await?.filter(|v| !v.is_empty()))
        })
        .await
    }

    pub(super) async fn enabled(&self, css: &str) -> anyhow::Result<()> {
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
    pub(super) async fn home(&mut self, seen: &HashSet<String>) -> anyhow::Result<()> {
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

    /// The onboarding's email step after linking or recovering (the code
    /// from the newest email to `email`, none older), the phone skipped,
    /// then home showing the ID `id` with `email` verified, online.
    /// Screenshots are named after `what` ("linked", "recovered").
    pub(super) async fn verify_email_to_home(
        &mut self,
        p: &Provider,
        email: &str,
        id: &str,
        what: &str,
    ) -> anyhow::Result<()> {
        self.step(&format!("the {what} app verifies the email"));
        let before = super::aq_device::mails_to(p, email)?;
        self.type_into("#verify-email-input", email).await?;
        self.shot(&format!("{what}-verify-email")).await?;
        self.click("#verify-email-send").await?;
        self.el("#verify-code-input").await?;
        let code = super::aq_device::code_after(p, email, before).await?;
        self.type_into("#verify-code-input", &code).await?;
        self.shot(&format!("{what}-verify-code")).await?;
        self.click("#verify-code-submit").await?;
        self.el("#verify-skip").await?;
        self.shot(&format!("{what}-verify-phone")).await?;
        self.click("#verify-skip").await?;

        self.step(&format!("home of the {what} app"));
        self.el("#home").await?;
        let pk = self.attr("#my-id", "data-pk").await?;
        ensure!(pk == id, "the {what} app shows the ID {pk}, not {id}");
        let verified = self.text("#verified-list").await?;
        ensure!(
            verified.contains(email),
            "the verified list shows {verified:?}, not {email}"
        );
        self.online().await?;
        self.shot(&format!("{what}-home")).await
    }

    /// Waits for the app's device channel to the server: requests reach
    /// the app only over it.
    pub(super) async fn online(&self) -> anyhow::Result<()> {
        self.wait("the app connected to the server", async || {
            let Some(el) = self.wd.find("#connection").await? else {
                return Ok(None);
            };
            let class = self.wd.attr(&el, "class").await?.unwrap_or_default();
            Ok(class
                .split_whitespace()
                .any(|c| c == "is-online")
                .then_some(()))
        })
        .await
    }

    /// Waits for a sign-in request this test has not seen yet: on the home
    /// screen's list (then opens it) or on the request screen already.
    /// Returns its id and the three numbers it shows.
    pub(super) async fn open_request(
        &mut self,
        seen: &HashSet<String>,
    ) -> anyhow::Result<(String, Vec<u16>)> {
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
