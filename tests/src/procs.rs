//! Processes the end-to-end tests and benchmarks run beside ours: finding
//! a program, a virtual display (Xvfb) stopped when its guard drops, and
//! small helpers (free ports, log tails, signalling a process group).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A program on `PATH` or in one of the `extra` directories.
pub fn find_tool(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// [`find_tool`], or a panic that says how to install it: a test fails,
/// it never skips.
pub fn tool(name: &str, extra: &[PathBuf], install: &str) -> PathBuf {
    find_tool(name, extra)
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

pub fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))
}

/// A free TCP port on 127.0.0.1 (free when asked; nobody else here binds
/// random ports in that range on purpose).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `kill -s <signal> -- -<pgid>`: the whole process group we started.
pub fn kill_group(pgid: u32, signal: &str) {
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

/// (pid, ppid, pgrp) of every process, from `/proc/*/stat`.
pub fn all_processes() -> Vec<(u32, u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the parenthesised name: state, ppid, pgrp, …
        let rest = stat.rsplit_once(')')?.1;
        let mut f = rest.split_whitespace().skip(1);
        let ppid = f.next()?.parse().ok()?;
        let pgrp = f.next()?.parse().ok()?;
        Some((pid, ppid, pgrp))
    })
    .collect()
}

/// `root` and every process below it, by parent ids.
pub fn descendants(root: u32) -> Vec<u32> {
    let procs = all_processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    found
}

/// Live (not zombie-reaped) members of a process group.
pub fn group_members(pgid: u32) -> Vec<u32> {
    all_processes()
        .into_iter()
        .filter(|p| p.2 == pgid)
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{}/stat", p.0))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                })
                == Some(false)
        })
        .map(|p| p.0)
        .collect()
}

/// User + system CPU time of `pid` so far, in clock ticks (10 ms on every
/// Linux this runs on), from `/proc/<pid>/stat`.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the parenthesised name: state is field 3; utime 14, stime 15.
    let after: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| -> u64 { after.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    Some(ticks(11) + ticks(12))
}

/// What one process uses: memory resident (RSS), proportional (PSS:
/// shared pages divided among their users) and unique (USS: private
/// pages), in KiB; and CPU time so far (user + system, in clock ticks of
/// 10 ms).
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub pid: u32,
    pub name: String,
    pub rss_kib: u64,
    pub pss_kib: u64,
    pub uss_kib: u64,
    pub cpu_ticks: u64,
}

impl Usage {
    pub fn read(pid: u32) -> Option<Self> {
        // argv[0]'s file name: `comm` is cut at 15 bytes (WebKitWebProces).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        let argv0 = String::from_utf8_lossy(argv0);
        let name = argv0.rsplit('/').next().unwrap_or_default().to_string();
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
        let field = |key: &str| -> u64 {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Some(Self {
            pid,
            name: name.trim().to_string(),
            cpu_ticks: cpu_ticks(pid)?,
            rss_kib: field("Rss:"),
            pss_kib: field("Pss:"),
            uss_kib: field("Private_Clean:") + field("Private_Dirty:"),
        })
    }
}

/// Whether one of `pids` holds an established TCP connection to `port` on
/// the loopback (the device channel to the server).
pub fn connected_to(pids: &[u32], port: u16) -> bool {
    let want = format!(":{port:04X}");
    pids.iter().any(|pid| {
        let inodes: Vec<String> = ["tcp", "tcp6"]
            .iter()
            .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
            .flat_map(|text| {
                text.lines()
                    .skip(1)
                    .filter_map(|l| {
                        // sl local rem st … uid timeout inode
                        let f: Vec<&str> = l.split_whitespace().collect();
                        (f.len() > 9 && f[2].ends_with(&want) && f[3] == "01")
                            .then(|| f[9].to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter_map(|l| {
                l.to_str()?
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')
                    .map(str::to_string)
            })
            .any(|inode| inodes.contains(&inode))
    })
}

/// One test with windows or a browser at a time, across processes too
/// (nextest runs each test in a process of its own): two browsers on two
/// cores only slow each other. An exclusive lock on
/// `tests/artifacts/browser/.lock`, held until the returned file drops;
/// blocks until it is free.
pub fn one_window_at_a_time() -> std::io::Result<std::fs::File> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/browser");
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))?;
    file.lock()?;
    Ok(file)
}

/// Processes whose environment has `name=value` (e.g. a test's own
/// `AQ_PROFILE`): how to find what a launcher we do not control started.
pub fn with_env(name: &str, value: &str) -> Vec<u32> {
    let want = format!("{name}={value}");
    all_processes()
        .into_iter()
        .map(|p| p.0)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
        })
        .collect()
}
