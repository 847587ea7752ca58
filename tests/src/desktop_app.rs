//! The desktop app launched as a user would (no WebDriver): on a virtual
//! display, in a process group of its own, its log kept and read for the
//! first paint, the whole group stopped when the handle drops.

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::procs::{descendants, group_members, kill_group, tail};

/// The log target and message `src-tauri/src/startup.rs` writes.
pub const STARTUP_LOG: &str = "authentiq_desktop::startup=info";
const FIRST_PAINT: &str = "first paint";

/// Where and how to start the app.
#[derive(Debug)]
pub struct Launcher<'a> {
    pub bin: &'a Path,
    pub display: &'a str,
    pub home: &'a Path,
    pub server: &'a str,
    pub log: PathBuf,
    /// More environment (set last: overrides the above, e.g. `AQ_LOG`).
    pub env: &'a [(&'a str, &'a str)],
}

/// For tests: `target/<profile>/authentiq-desktop`, next to the running
/// test's own directory (`deps/`); a panic that says how to build it.
pub fn built_app() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let app = dir.join("authentiq-desktop");
    assert!(
        app.is_file(),
        "{} is missing: build the UI and the app first (`npm --prefix ui run build && cargo \
         build -p authentiq-desktop`; `bash .ci/test` does)",
        app.display()
    );
    app
}

/// Times of the first paint, from the log line.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    /// From just before the spawn to the first screen painted.
    pub from_spawn: Duration,
    /// The part inside `run()` (what is left is exec, dynamic linking and
    /// the runtime's start).
    pub from_run: Duration,
}

#[derive(Debug)]
pub struct Running {
    child: Child,
    pub pid: u32,
    pub log: PathBuf,
    spawned_unix_ms: f64,
    paints: mpsc::Receiver<(f64, f64)>,
    stopped: bool,
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or_default()
}

/// `unix_ms=… since_run_ms=…` from a log line (ANSI colours, if any, removed).
pub fn parse_paint(line: &str) -> Option<(f64, f64)> {
    if !line.contains(FIRST_PAINT) {
        return None;
    }
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params… final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let field = |name: &str| -> Option<f64> {
        let start = plain.find(&format!("{name}="))? + name.len() + 1;
        let v: String = plain[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        v.parse().ok()
    };
    Some((field("unix_ms")?, field("since_run_ms")?))
}

impl Launcher<'_> {
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Running> {
        let mut log = std::fs::File::create(&self.log)
            .with_context(|| format!("creating {}", self.log.display()))?;
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .env("DISPLAY", self.display)
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            .env("NO_AT_BRIDGE", "1")
            .env("NO_COLOR", "1")
            .env("AQ_HOME", self.home)
            .env("AUTHENTIQ_SERVER", self.server)
            .env("AQ_LOG", format!("warn,{STARTUP_LOG}"))
            .envs(self.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let spawned_unix_ms = unix_ms();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let stderr = child.stderr.take().context("the app's stderr")?;
        let (tx, paints) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if let Some(p) = parse_paint(&line) {
                    let _ = tx.send(p);
                }
            }
        });
        Ok(Running {
            pid: child.id(),
            child,
            log: self.log.clone(),
            spawned_unix_ms,
            paints,
            stopped: false,
        })
    }
}

impl Running {
    /// Waits for the first-paint line.
    pub fn first_paint(&mut self, within: Duration) -> anyhow::Result<Paint> {
        match self.paints.recv_timeout(within) {
            Ok((at, from_run)) => Ok(Paint {
                from_spawn: Duration::from_secs_f64(((at - self.spawned_unix_ms) / 1e3).max(0.0)),
                from_run: Duration::from_secs_f64((from_run / 1e3).max(0.0)),
            }),
            Err(_) => {
                let state = match self.child.try_wait() {
                    Ok(Some(s)) => format!("it exited ({s})"),
                    _ => format!("no first paint within {} s", within.as_secs()),
                };
                bail!(
                    "{state}; its log {} ends:\n{}",
                    self.log.display(),
                    tail(&self.log, 20)
                )
            }
        }
    }

    /// How it exited, once it has (waiting up to `within`).
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The app and every process it started (WebKit's web and network
    /// processes), by walking parent ids in `/proc`.
    pub fn processes(&self) -> Vec<u32> {
        descendants(self.pid)
    }

    /// TERM to the group, then KILL to what is left, and waits until no
    /// process of the group remains (the next launch may take its
    /// single-instance name).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        kill_group(self.pid, "TERM");
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until && !group_members(self.pid).is_empty() {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_group(self.pid, "KILL");
        let _ = self.child.wait();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until && !group_members(self.pid).is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_paint;

    #[test]
    fn reads_the_first_paint_line_with_or_without_colours() {
        let plain = "2026-11-26T20:00:00.000Z  INFO authentiq_desktop::startup: first paint \
                     unix_ms=1764187200123.4 since_run_ms=301.5";
        assert_eq!(parse_paint(plain), Some((1_764_187_200_123.4, 301.5)));
        let coloured = "\u{1b}[32m INFO\u{1b}[0m \u{1b}[2mauthentiq_desktop::startup\u{1b}[0m\
                        \u{1b}[2m:\u{1b}[0m first paint \u{1b}[3munix_ms\u{1b}[0m\u{1b}[2m=\
                        \u{1b}[0m12.5 \u{1b}[3msince_run_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m3.0";
        assert_eq!(parse_paint(coloured), Some((12.5, 3.0)));
        assert_eq!(parse_paint("INFO something else unix_ms=1"), None);
    }
}
