//! The server under test: a child process on a free loopback port with a
//! fresh data directory, killed whenever this handle is dropped.

use std::ffi::OsStr;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long the server may take to answer `/healthz` after starting.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// How to start the server, beyond a free port and a data directory.
#[derive(Debug, Default)]
pub struct Launch<'a> {
    /// More command-line arguments (e.g. `--config FILE`).
    pub args: &'a [&'a OsStr],
    /// `--public-url`, when it is not the server's own address (several
    /// instances behind one name, as behind a load balancer).
    pub public_url: Option<&'a str>,
    /// Its environment: the caller's `AUTHENTIQ_*` never reaches the
    /// server, so settings such as the database URL go here.
    pub env: &'a [(&'a str, &'a str)],
}

#[derive(Debug)]
pub struct Server {
    pub pid: u32,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`: also the server's public URL unless
    /// [`Launch::public_url`] says otherwise.
    pub url: String,
    pub log_path: PathBuf,
    child: Option<Child>,
}

/// A free loopback port (a tiny race with other processes is accepted).
fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    l.local_addr().context("no local address")
}

impl Server {
    /// Starts `bin` on a free port with its data in `data_dir` and waits
    /// until `/healthz` answers.
    pub async fn start(
        bin: &Path,
        data_dir: &Path,
        http: &reqwest::Client,
    ) -> anyhow::Result<Self> {
        Self::start_with(bin, data_dir, &[], http).await
    }

    /// [`Server::start`] with more command-line arguments (e.g. `--config FILE`).
    pub async fn start_with(
        bin: &Path,
        data_dir: &Path,
        extra_args: &[&OsStr],
        http: &reqwest::Client,
    ) -> anyhow::Result<Self> {
        let launch = Launch {
            args: extra_args,
            ..Launch::default()
        };
        Self::launch(bin, data_dir, &launch, http).await
    }

    /// [`Server::start`] with everything in `launch`.
    pub async fn launch(
        bin: &Path,
        data_dir: &Path,
        launch: &Launch<'_>,
        http: &reqwest::Client,
    ) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let url = format!("http://{addr}");
        let public_url = launch.public_url.unwrap_or(&url);
        let log_path = data_dir.join("server.log");
        let log = File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let log2 = log.try_clone().context("cannot share the log file")?;
        let mut cmd = Command::new(bin);
        // Only this benchmark's settings: no AUTHENTIQ_* from the caller.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AUTHENTIQ_") {
                cmd.env_remove(name);
            }
        }
        cmd.arg("--listen")
            .arg(addr.to_string())
            .arg("--public-url")
            .arg(public_url)
            .arg("--data-dir")
            .arg(data_dir)
            .args(launch.args)
            .envs(launch.env.iter().copied())
            .env("AUTHENTIQ_RATE__PUSHES_PER_KEY_PER_MINUTE", "1000000")
            .env("NO_COLOR", "1")
            // No access log line per request: the numbers stay comparable
            // with earlier runs and with the peer, which logs none.
            .env("RUST_LOG", "info,authentiq::access=off")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let mut server = Self {
            pid: child.id(),
            addr,
            url,
            log_path,
            child: Some(child),
        };
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = server.exit_status() {
                bail!(
                    "the server exited during start-up ({status}); its log ends:\n{}",
                    server.log_tail(20)
                );
            }
            let ready = http
                .get(format!("{}/healthz", server.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "the server did not answer /healthz within {} s; its log ends:\n{}",
                    READY_WITHIN.as_secs(),
                    server.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `Some` once the process has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot wait for it: {e}")),
        }
    }

    /// Kills the server (if it is still running) and reaps it. Returns how
    /// it had exited when it was already gone.
    pub fn stop(&mut self) -> Option<String> {
        let early = self.exit_status();
        if let Some(mut child) = self.child.take() {
            if early.is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        early
    }

    /// The last `n` lines of the server's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Warnings, errors and panics in the server's log.
    pub fn log_summary(&self) -> LogSummary {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let mut s = LogSummary::default();
        for raw in text.lines() {
            s.lines += 1;
            let line = strip_ansi(raw);
            let level = line.split_whitespace().nth(1).unwrap_or("");
            let bad = match level {
                "WARN" => {
                    s.warnings += 1;
                    true
                }
                "ERROR" => {
                    s.errors += 1;
                    true
                }
                _ if line.contains("panicked") => {
                    s.panics += 1;
                    true
                }
                _ => false,
            };
            if bad && s.examples.len() < 5 {
                s.examples.push(line.chars().take(240).collect());
            }
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, Default)]
pub struct LogSummary {
    pub lines: usize,
    pub warnings: usize,
    pub errors: usize,
    pub panics: usize,
    pub examples: Vec<String>,
}

/// Memory, threads, descriptors and CPU time of a process, from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStat {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub threads: u64,
    pub fds: usize,
    /// User + system CPU seconds so far.
    pub cpu_secs: f64,
}

impl ProcStat {
    pub fn read(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("cannot read /proc/{pid}/status"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(Iterator::count)
            .unwrap_or(0);
        let ticks = authentiq_tests::procs::cpu_ticks(pid)
            .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
        // USER_HZ is 100 on every Linux this runs on.
        let cpu_secs = ticks as f64 / 100.0;
        Ok(Self {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
            threads: field("Threads:"),
            fds,
            cpu_secs,
        })
    }

    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    pub fn hwm_mib(&self) -> f64 {
        self.hwm_kib as f64 / 1024.0
    }
}

// Helpers both benchmarks use.

/// `Err` with the status and problem `type` unless the response is `want`.
pub async fn expect_status(
    res: reqwest::Response,
    want: reqwest::StatusCode,
) -> Result<(), String> {
    let status = res.status();
    let body = res
        .bytes()
        .await
        .map_err(|e| format!("reading body: {e}"))?;
    if status == want {
        return Ok(());
    }
    let kind = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v["type"]
                .as_str()
                .or_else(|| v["error"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    Err(format!("HTTP {} {kind}", status.as_u16()))
}

pub fn request_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        format!("request failed: {e}")
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Completes on Ctrl-C, SIGTERM or SIGHUP, naming it.
pub async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "Ctrl-C";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}
