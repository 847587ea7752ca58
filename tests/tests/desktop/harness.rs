//! The processes around the app: a virtual display (Xvfb) and tauri-driver
//! (which runs WebKitWebDriver, which runs the app). Each is stopped when
//! its guard drops, on success and on every failure path alike.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A program on `PATH` (or in `extra` directories), or a panic that says
/// how to install it: the test fails, it never skips.
pub fn tool(name: &str, extra: &[PathBuf], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is missing: {install} (`bash .ci/setup test` does)"))
}

/// Where `cargo install` puts programs.
pub fn cargo_bin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs
}

/// The last `n` lines of a log file, for failure messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))
}

/// A free TCP port on 127.0.0.1 (free when asked; nobody else here binds
/// random ports in that range on purpose).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `kill -s <signal> -- -<pgid>`: the whole process group we started.
fn kill_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `Xvfb`, on a display number it picks itself (`-displayfd`).
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:<n>`
    pub display: String,
}

impl Xvfb {
    pub fn start(xvfb: &Path, log: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(xvfb)
            // Xvfb writes the display number it found free to fd 1.
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24"])
            .args(["-nolisten", "tcp", "-noreset"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(log)?)
            .spawn()
            .with_context(|| format!("starting {}", xvfb.display()))?;
        let stdout = child.stdout.take().context("Xvfb's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut xvfb = Self {
            child,
            display: String::new(),
        };
        let line = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
        let n = line.trim();
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            let status = match xvfb.child.try_wait() {
                Ok(Some(s)) => format!("it exited: {s}"),
                _ => "it did not say which display within 15 s".into(),
            };
            bail!(
                "Xvfb did not start ({status}); its log {}:\n{}",
                log.display(),
                tail(log, 20)
            );
        }
        xvfb.display = format!(":{n}");
        Ok(xvfb)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tauri-driver` in a process group of its own, so that dropping the guard
/// also stops WebKitWebDriver and the app it started.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub log: PathBuf,
    reaped: bool,
}

impl Driver {
    pub fn start(
        tauri_driver: &Path,
        webkit_driver: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let (port, native) = (free_port()?, free_port()?);
        let out = log_file(log)?;
        let mut cmd = Command::new(tauri_driver);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native.to_string())
            .arg("--native-driver")
            .arg(webkit_driver)
            .envs(env.iter().copied())
            // X11 only (Xvfb), and no accessibility bus to outlive the test.
            .env_remove("WAYLAND_DISPLAY")
            .env("GDK_BACKEND", "x11")
            .env("NO_AT_BRIDGE", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", tauri_driver.display()))?;
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
            reaped: false,
        };
        // Both must listen: tauri-driver drops the connection, without an
        // answer, of a request it cannot pass on to WebKitWebDriver yet
        // (which starts more slowly on a busy machine).
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && TcpStream::connect(("127.0.0.1", native)).is_ok()
            {
                return Ok(driver);
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                // Reaped: what is left of its group goes now, not in drop.
                driver.reaped = true;
                kill_group(driver.child.id(), "KILL");
                bail!(
                    "tauri-driver exited ({status}); its log {}:\n{}",
                    log.display(),
                    tail(log, 30)
                );
            }
            if Instant::now() > until {
                bail!(
                    "tauri-driver (port {port}) or WebKitWebDriver (port {native}) does not \
                     listen after 15 s; the log {}:\n{}",
                    log.display(),
                    tail(log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    /// TERM to the group (tauri-driver, WebKitWebDriver, the app), a moment,
    /// then KILL to whatever is left of it. tauri-driver is reaped only after
    /// that, so its id (the group's) cannot have been reused meanwhile.
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let pgid = self.child.id();
        kill_group(pgid, "TERM");
        std::thread::sleep(Duration::from_millis(500));
        kill_group(pgid, "KILL");
        let _ = self.child.wait();
    }
}
