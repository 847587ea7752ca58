//! `aq` devices beside the desktop app: each its own home and profile (the
//! keyring is shared by the tests), run as `aq --home H --profile P --json
//! <command>` off the async threads. Failures are errors, not panics, so
//! that the desktop test's report (screenshots, the app's text and logs)
//! comes with them.

use std::io::{BufRead as _, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use authentiq_server::delivery::outbox::Outbox;
use serde_json::Value;

use super::rp::SignIn;
use crate::support::provider::Provider;

/// `aq` exits with this when the server refused the request.
pub const REFUSED: i32 = 4;

pub struct Aq {
    /// For messages: "A", "C"…
    pub name: &'static str,
    home: tempfile::TempDir,
    profile: String,
}

/// A running `aq link`, after its first line; killed if dropped before
/// it ends.
pub struct Linking {
    pub pairing: String,
    pub number: u16,
    child: Child,
    rest: Option<Lines<BufReader<ChildStdout>>>,
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}, stdout {:?}, stderr {:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

impl Aq {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            home: tempfile::tempdir().unwrap(),
            profile: format!("t{}", authentiq_server::secrets::new_job_id()),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::aq::aq_binary());
        c.arg("--home")
            .arg(self.home.path())
            .args(["--profile", &self.profile, "--json"])
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub async fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut c = self.cmd(args);
        tokio::task::spawn_blocking(move || c.output())
            .await?
            .context("running aq")
    }

    /// `aq <args>` succeeds: its JSON.
    pub async fn ok(&self, args: &[&str]) -> anyhow::Result<Value> {
        let out = self.run(args).await?;
        ensure!(
            out.status.success(),
            "aq {args:?} on device {} failed: {}",
            self.name,
            show(&out)
        );
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("aq {args:?} on {}: {}", self.name, show(&out)))
    }

    /// `aq <args>` is refused by the server (exit 4).
    pub async fn refused(&self, args: &[&str], why: &str) -> anyhow::Result<()> {
        let out = self.run(args).await?;
        ensure!(
            out.status.code() == Some(REFUSED),
            "{why}: aq {args:?} on device {} should be refused by the server (exit {REFUSED}): {}",
            self.name,
            show(&out)
        );
        Ok(())
    }

    /// `aq init` and the email verified: the ID and the revocation secret.
    pub async fn enrol(&self, p: &Provider, email: &str) -> anyhow::Result<(String, String)> {
        let init = self.ok(&["init", "--server", &p.url]).await?;
        let id = str_at(&init, "id")?;
        let secret = str_at(&init, "revocation_secret")?;
        self.verify_email(p, email).await?;
        Ok((id, secret))
    }

    /// Verifies `email` for this device with the code the server sends.
    pub async fn verify_email(&self, p: &Provider, email: &str) -> anyhow::Result<()> {
        let before = mails_to(p, email)?;
        self.ok(&["verify", "email", email]).await?;
        let code = code_after(p, email, before).await?;
        let v = self
            .ok(&["verify", "email", email, "--code", &code])
            .await?;
        ensure!(
            v["verified"] == true,
            "{} verifying {email}: {v}",
            self.name
        );
        Ok(())
    }

    /// `aq devices`: the ID's devices and this one's key.
    pub async fn devices(&self) -> anyhow::Result<(Vec<Value>, String)> {
        let v = self.ok(&["devices"]).await?;
        let list = v["devices"]
            .as_array()
            .cloned()
            .ok_or_else(|| anyhow!("aq devices on {}: {v}", self.name))?;
        Ok((list, str_at(&v, "this_device")?))
    }

    /// `aq link` to the ID `id`, up to its first line (the pairing and the
    /// number to show).
    pub async fn link(&self, p: &Provider, id: &str, name: &str) -> anyhow::Result<Linking> {
        let mut c = self.cmd(&["link", "--server", &p.url, "--id", id, "--name", name]);
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting aq link")?;
        let stdout = child.stdout.take().unwrap();
        let (first, rest) = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            (lines.next(), lines)
        })
        .await?;
        let first = match first {
            Some(Ok(l)) => l,
            _ => {
                let status = child.wait()?;
                bail!("aq link on {} printed nothing ({status})", self.name);
            }
        };
        let pending: Value = serde_json::from_str(&first)
            .with_context(|| format!("aq link's first line {first:?}"))?;
        ensure!(pending["status"] == "pending", "aq link: {pending}");
        let number = pending["number"]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| anyhow!("aq link shows no number: {pending}"))?;
        Ok(Linking {
            pairing: str_at(&pending, "pairing")?,
            number,
            child,
            rest: Some(rest),
        })
    }

    /// Answers the sign-in `s` (pushed to this device, found in its inbox)
    /// with the page's number.
    pub async fn approve(&self, s: &SignIn) -> anyhow::Result<()> {
        let suffix = format!("/{}", s.sid);
        let inbox = self.ok(&["inbox"]).await?;
        let req = inbox
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["session"].as_str().is_some_and(|u| u.ends_with(&suffix)))
            .ok_or_else(|| {
                anyhow!(
                    "the sign-in {} is not in {}'s inbox: {inbox}",
                    s.sid,
                    self.name
                )
            })?;
        let id = str_at(req, "id")?;
        self.ok(&["approve", &id, "--number", &s.number.to_string()])
            .await?;
        Ok(())
    }

    /// `aq recover start` for the ID `id` and `recover confirm` with the
    /// emailed code: the recovery's URL, now waiting out its delay, and
    /// when it completes (server time).
    pub async fn recovery_waiting(
        &self,
        p: &Provider,
        id: &str,
        email: &str,
        secret: &str,
    ) -> anyhow::Result<(String, i64)> {
        let before = mails_to(p, email)?;
        let started = self
            .ok(&[
                "recover", "start", "--server", &p.url, "--id", id, "--email", email, "--secret",
                secret,
            ])
            .await?;
        ensure!(
            started["status"] == "codes-sent",
            "recover start: {started}"
        );
        let recovery = str_at(&started, "recovery")?;
        let code = code_after(p, email, before).await?;
        let waiting = self
            .ok(&["recover", "confirm", &recovery, "--code", &code])
            .await?;
        ensure!(waiting["status"] == "waiting", "recover confirm: {waiting}");
        let at = waiting["completes_at"]
            .as_i64()
            .ok_or_else(|| anyhow!("recover confirm: no completes_at in {waiting}"))?;
        Ok((recovery, at))
    }
}

impl Linking {
    /// The last line of `aq link`, once it has ended (successfully).
    pub async fn finish(mut self) -> anyhow::Result<Value> {
        let rest = self.rest.take().context("aq link's output read already")?;
        let read = tokio::task::spawn_blocking(move || {
            rest.map_while(Result::ok).collect::<Vec<String>>()
        });
        let lines = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .context("aq link still runs 30 s after the approval")??;
        let status = self.child.wait()?;
        ensure!(status.success(), "aq link ended {status}: {lines:?}");
        let last = lines
            .last()
            .ok_or_else(|| anyhow!("aq link printed no second line"))?;
        Ok(serde_json::from_str(last)?)
    }
}

impl Drop for Linking {
    /// Nothing once it has ended and been reaped.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn str_at(v: &Value, key: &str) -> anyhow::Result<String> {
    v[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no {key} in {v}"))
}

/// How many messages the server has sent to `to`.
pub fn mails_to(p: &Provider, to: &str) -> anyhow::Result<usize> {
    Ok(Outbox::new(p.dir.path())?.messages_to(to)?.len())
}

/// The code in the first message to `to` after the `before` ones, waiting
/// for it a while.
pub async fn code_after(p: &Provider, to: &str, before: usize) -> anyhow::Result<String> {
    let outbox = Outbox::new(p.dir.path())?;
    for _ in 0..200 {
        if let Some(msg) = outbox.messages_to(to)?.get(before) {
            return msg
                .code()
                .ok_or_else(|| anyhow!("no code in the message {:?} to {to}", msg.subject));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no new message to {to} within 20 s (there were {before})")
}

/// Waits until the server's clock is past `at`.
pub async fn until_past(p: &Provider, at: i64) {
    while p.state.now() <= at {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
