//! A notification daemon for the app: python-dbusmock's
//! `notification_daemon` template on the test's session bus (the one
//! `bash .ci/keyring-session` starts), logging every call it gets, so that
//! a test sees which notifications the app showed and which it closed.
//! Stopped when dropped. Only a test holding the one-window lock starts
//! it (no other test on the bus shows notifications meanwhile).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use authentiq_authenticator::notifier::REQUEST_HINT;

const NAME: &str = "org.freedesktop.Notifications";
/// Debian's, which python3-dbusmock is installed for.
const PYTHON: &str = "/usr/bin/python3";

pub struct Notifications {
    child: Child,
    log: PathBuf,
}

fn has_owner() -> anyhow::Result<bool> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
        ])
        .arg(format!("string:{NAME}"))
        .stdin(Stdio::null())
        .output()
        .context("dbus-send (Debian's dbus)")?;
    ensure!(
        out.status.success(),
        "dbus-send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).contains("boolean true"))
}

impl Notifications {
    /// The mock daemon, its call log `log`; fails if it cannot run or the
    /// bus has a notification daemon already.
    pub fn start(log: &Path) -> anyhow::Result<Self> {
        let check = Command::new(PYTHON)
            .args(["-c", "import dbusmock"])
            .output()
            .with_context(|| format!("running {PYTHON}"))?;
        ensure!(
            check.status.success(),
            "this test needs python-dbusmock for {PYTHON} (Debian package python3-dbusmock): \
             run `bash .ci/setup test`"
        );
        ensure!(
            !has_owner()?,
            "the session bus has a notification daemon already: the test cannot watch the app's"
        );
        let _ = std::fs::remove_file(log);
        let child = Command::new(PYTHON)
            .args(["-m", "dbusmock", "--template", "notification_daemon", "-l"])
            .arg(log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting python3 -m dbusmock")?;
        let mut mock = Self {
            child,
            log: log.to_path_buf(),
        };
        let until = Instant::now() + Duration::from_secs(10);
        while !has_owner()? {
            if let Some(status) = mock.child.try_wait()? {
                bail!("the mock notification daemon exited ({status})");
            }
            if Instant::now() > until {
                bail!("the mock notification daemon is not on the bus after 10 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(mock)
    }

    /// The calls so far, one record each (`<time> <method> <args…>`; an
    /// argument with a newline spans lines).
    fn calls(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut records: Vec<String> = Vec::new();
        for line in text.lines() {
            let starts_record = line
                .split_once(' ')
                .is_some_and(|(time, _)| time.parse::<f64>().is_ok());
            match records.last_mut() {
                Some(record) if !starts_record => {
                    record.push('\n');
                    record.push_str(line);
                }
                _ => records.push(line.to_owned()),
            }
        }
        records
    }

    /// The id the daemon gave the notification of the request `request`
    /// (its hint [`REQUEST_HINT`] carries the request's id, which may be as
    /// short as "2"): the mock numbers new notifications 1, 2, … in the
    /// order of the `Notify` calls.
    pub fn id_of(&self, request: &str) -> Option<u32> {
        // The mock logs the hints as a Python dict of strings.
        let hint = format!("\"{REQUEST_HINT}\": \"{request}\"");
        let mut n = 0;
        for call in self.calls() {
            if call.split(' ').nth(1) == Some("Notify") {
                n += 1;
                if call.contains(&hint) {
                    return Some(n);
                }
            }
        }
        None
    }

    /// Whether the app closed the notification `id`.
    pub fn closed(&self, id: u32) -> bool {
        self.calls().iter().any(|c| {
            let mut words = c.split_whitespace().skip(1);
            words.next() == Some("CloseNotification")
                && words.next() == Some(id.to_string().as_str())
        })
    }

    /// What the daemon got, for a failure message.
    pub fn log(&self) -> String {
        self.calls().join("\n")
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
