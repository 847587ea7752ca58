//! `--peer`: panva's `oidc-provider` (npm) as the yardstick, installed in
//! a scratch folder and run from there on a fresh Node.js process per run
//! (tests/bench-peer/oidc-provider.mjs, copied beside its node_modules),
//! killed whenever the handle drops — and exiting by itself when its stdin
//! closes, so not even a killed bench-oidc leaves it behind.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use authentiq_tests::procs::find_tool;

use crate::flow::{REDIRECT_URI, Rp};
use crate::phases::{self, Endpoints};
use crate::server::ProcStat;
use crate::summary::{PeerReport, Tokens};

/// The package and version every run compares against.
pub const PACKAGE: &str = "oidc-provider";
pub const VERSION: &str = "9.13.3";
/// The script, kept in the repository and written into the scratch folder.
const SCRIPT: &str = include_str!("../../../bench-peer/oidc-provider.mjs");
const SCRIPT_NAME: &str = "oidc-provider.mjs";
/// How long the peer may take to start, or to answer a command.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// `node --version` (trimmed), or why Node.js cannot be used.
fn node_version() -> anyhow::Result<String> {
    let node = find_tool("node", &[]).ok_or_else(|| {
        anyhow!("--peer runs oidc-provider on Node.js: `node` is not on PATH (install Node.js 20 or later)")
    })?;
    let out = Command::new(node)
        .arg("--version")
        .output()
        .context("cannot run `node --version`")?;
    if !out.status.success() {
        bail!("`node --version` failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The installed version of the package in `dir`, if any.
fn installed(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("node_modules").join(PACKAGE).join("package.json"))
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["version"].as_str().map(str::to_string)
}

/// Makes sure `oidc-provider@VERSION` is installed in `dir` (npm, once) and
/// the script is there; returns Node.js's version.
pub fn install(dir: &Path) -> anyhow::Result<String> {
    let node = node_version()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A package.json of its own, so npm installs here and not in a parent project.
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        std::fs::write(
            &manifest,
            "{\n  \"name\": \"bench-oidc-peer\",\n  \"private\": true,\n  \"description\": \"Written by bench-oidc --peer; safe to delete.\"\n}\n",
        )
        .with_context(|| format!("cannot write {}", manifest.display()))?;
    }
    if installed(dir).as_deref() != Some(VERSION) {
        let npm = find_tool("npm", &[]).ok_or_else(|| {
            anyhow!("--peer installs {PACKAGE}@{VERSION} with npm: `npm` is not on PATH (it comes with Node.js)")
        })?;
        println!(
            "==> npm install --no-audit --no-fund {PACKAGE}@{VERSION} (in {})",
            dir.display()
        );
        let status = Command::new(npm)
            .args(["install", "--no-audit", "--no-fund"])
            .arg(format!("{PACKAGE}@{VERSION}"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .status()
            .context("cannot run npm")?;
        if !status.success() {
            bail!(
                "npm install {PACKAGE}@{VERSION} failed ({status}) in {}",
                dir.display()
            );
        }
        match installed(dir) {
            Some(v) if v == VERSION => {}
            other => bail!(
                "npm installed {PACKAGE} {other:?}, not {VERSION}, in {}",
                dir.display()
            ),
        }
    }
    let script = dir.join(SCRIPT_NAME);
    std::fs::write(&script, SCRIPT)
        .with_context(|| format!("cannot write {}", script.display()))?;
    Ok(node)
}

/// What the script prints once it is ready.
#[derive(Debug, serde::Deserialize)]
struct Ready {
    issuer: String,
    pid: u32,
}

/// The running peer; commands go to its stdin, answers come from its stdout.
pub struct Peer {
    pub pid: u32,
    pub issuer: String,
    pub log_path: PathBuf,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    child: Option<Child>,
}

impl Peer {
    /// Starts the script in `dir` (see [`install`]) with `client`; waits
    /// for its ready line.
    pub async fn start(dir: &Path, client: &Rp) -> anyhow::Result<Self> {
        let node = find_tool("node", &[]).ok_or_else(|| anyhow!("`node` is not on PATH"))?;
        let log_path = dir.join("peer.log");
        let log = File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let config = serde_json::json!({
            "client_id": client.client_id,
            "client_secret": client.secret,
            "redirect_uri": REDIRECT_URI,
        });
        let mut child = Command::new(node)
            .arg(SCRIPT_NAME)
            .current_dir(dir)
            .env("BENCH_PEER", config.to_string())
            .env("NODE_ENV", "production")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start node")?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        // From here on node is killed when `peer` drops, on every path.
        let mut peer = Self {
            pid: child.id(),
            issuer: String::new(),
            log_path,
            stdin,
            stdout: stdout.map(BufReader::new),
            child: Some(child),
        };
        let ready: Ready = serde_json::from_value(peer.answer().await?)
            .context("the peer's ready line is not what was expected")?;
        if ready.pid != peer.pid {
            bail!(
                "the peer says it is pid {}, but node was started as pid {}",
                ready.pid,
                peer.pid
            );
        }
        peer.issuer = ready.issuer;
        Ok(peer)
    }

    /// The next JSON object the peer prints (other lines are skipped).
    async fn answer(&mut self) -> anyhow::Result<serde_json::Value> {
        let mut stdout = self
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the peer's stdout is gone"))?;
        let read = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            loop {
                line.clear();
                if stdout.read_line(&mut line)? == 0 {
                    return Ok((stdout, None));
                }
                if let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str(line.trim()) {
                    return Ok::<_, std::io::Error>((stdout, Some(v)));
                }
            }
        });
        // On a timeout the reader stays blocked until node is killed.
        let (stdout, value) = match tokio::time::timeout(ANSWER_WITHIN, read).await {
            Ok(Ok(Ok(got))) => got,
            Ok(Ok(Err(e))) => bail!("reading the peer's stdout: {e}"),
            Ok(Err(e)) => bail!("reading the peer's stdout: {e}"),
            Err(_) => bail!(
                "the peer did not answer within {} s; its log ends:\n{}",
                ANSWER_WITHIN.as_secs(),
                self.log_tail(20)
            ),
        };
        self.stdout = Some(stdout);
        let Some(value) = value else {
            let status = self.exit_status().unwrap_or_else(|| "still running".into());
            bail!(
                "the peer closed its stdout ({status}); its log ({}) ends:\n{}",
                self.log_path.display(),
                self.log_tail(20)
            );
        };
        if let Some(e) = value["error"].as_str() {
            bail!("the peer: {e}");
        }
        Ok(value)
    }

    /// Sends `command` and returns the answer.
    async fn ask(&mut self, command: &str) -> anyhow::Result<serde_json::Value> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("the peer's stdin is gone"))?;
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .with_context(|| format!("sending `{command}` to the peer"))?;
        self.answer().await
    }

    /// A live access token (of a fresh grant) for userinfo.
    pub async fn access_token(&mut self) -> anyhow::Result<String> {
        let v = self.ask("access").await?;
        v["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no access_token from the peer: {v}"))
    }

    /// `n` refresh tokens, each of its own grant.
    pub async fn refresh_tokens(&mut self, n: usize) -> anyhow::Result<Vec<String>> {
        let v = self.ask(&format!("refresh {n}")).await?;
        let tokens: Vec<String> = v["refresh_tokens"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if tokens.len() != n {
            bail!(
                "asked the peer for {n} refresh tokens, got {}",
                tokens.len()
            );
        }
        Ok(tokens)
    }

    pub fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot wait for it: {e}")),
        }
    }

    /// Kills node (if it is still running) and reaps it; how it had
    /// exited when it was already gone.
    pub fn stop(&mut self) -> Option<String> {
        let early = self.exit_status();
        // Closing stdin alone stops it; killed all the same.
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            if early.is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        early
    }

    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Lines of the peer's log that report a server error.
    pub fn server_errors(&self) -> usize {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("server_error"))
            .count()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the peer phases need from the run's arguments.
pub struct Plan {
    pub dir: PathBuf,
    pub node: String,
    pub client: Rp,
    pub get_requests: usize,
    pub get_concurrency: usize,
    pub token_requests: usize,
    pub token_workers: Vec<usize>,
}

/// Starts a fresh peer, runs the same phases as against ours, stops it.
/// Fills `out` as it goes, so a failure keeps what was measured.
pub async fn run(plan: &Plan, out: &mut PeerReport) -> anyhow::Result<()> {
    println!(
        "==> peer: starting {PACKAGE} {VERSION} on Node.js {} (in {})",
        plan.node,
        plan.dir.display()
    );
    let mut peer = Peer::start(&plan.dir, &plan.client).await?;
    out.pid = peer.pid;
    out.url = peer.issuer.clone();
    out.log_path = peer.log_path.display().to_string();
    println!("    pid {} listening at {}", peer.pid, peer.issuer);
    let result = phases_against(plan, &mut peer, out).await;
    out.mem_end = ProcStat::read(peer.pid).ok();
    out.server_errors = peer.server_errors();
    if let Some(status) = peer.stop() {
        out.exited = Some(status);
    }
    if let Err(e) = &result {
        println!("peer log ends:\n{}", peer.log_tail(20));
        return Err(anyhow!("the peer phases: {e:#}"));
    }
    Ok(())
}

async fn phases_against(plan: &Plan, peer: &mut Peer, out: &mut PeerReport) -> anyhow::Result<()> {
    out.mem_start = ProcStat::read(peer.pid).ok();
    let http = phases::rp_client()?;
    let ep = Endpoints::discover(&http, &peer.issuer).await?;
    if plan.get_requests > 0 {
        println!(
            "==> peer: GET discovery, JWKS, userinfo × {} each ({} at a time)",
            plan.get_requests, plan.get_concurrency
        );
        let access = peer.access_token().await?;
        out.gets = phases::gets(
            &http,
            &[peer.pid],
            std::slice::from_ref(&ep),
            &access,
            plan.get_requests,
            plan.get_concurrency,
        )
        .await?;
    }
    for &w in &plan.token_workers {
        let w = w.max(1);
        let chains = peer.refresh_tokens(w).await?;
        println!(
            "==> peer: POST /token × {} (refresh grant, RS256 ID tokens, {w} workers with their own chains)",
            plan.token_requests
        );
        let t: Tokens = phases::refresh(
            &http,
            &[peer.pid],
            std::slice::from_ref(&ep.token),
            &plan.client,
            chains,
            plan.token_requests,
        )
        .await?;
        out.tokens.push(t);
        if let Some(status) = peer.exit_status() {
            bail!("the peer exited during the /token phase ({status})");
        }
    }
    Ok(())
}
