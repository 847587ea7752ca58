//! The servers under test: one process on SQLite, or `--instances N`
//! processes sharing one PostgreSQL database (`--database-url`), all
//! answering to instance 0's URL as their public URL, as behind a load
//! balancer, and the CPU of all of them summed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use base64::Engine;
use rand_core::{OsRng, RngCore};

use crate::server::{Launch, LogSummary, ProcStat, Server};

/// Where the instances keep their data.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The default: SQLite in the data directory (one process).
    Sqlite,
    /// One PostgreSQL database shared by every instance.
    Postgres { url: String },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres { .. } => "PostgreSQL",
        }
    }
}

/// `url` with its password (if any) hidden, for the summary.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The running instances; every one is killed when this is dropped.
#[derive(Debug)]
pub struct Instances {
    pub servers: Vec<Server>,
    pub data_dirs: Vec<PathBuf>,
    pub backend: Backend,
}

/// A fresh master key: 32 random bytes, base64 (the same for every instance).
fn master_key() -> String {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

impl Instances {
    /// Starts `count` instances of `bin` with `--config config`, each with
    /// its own data directory `<root>/instance-<i>`: instance 0 first (it
    /// runs the migrations and makes the keys), then the others, all with
    /// instance 0's URL as their public URL.
    pub async fn start(
        bin: &Path,
        root: &Path,
        config: &Path,
        backend: Backend,
        count: usize,
        http: &reqwest::Client,
    ) -> anyhow::Result<Self> {
        if count == 0 {
            bail!("--instances must be at least 1");
        }
        if count > 1 && matches!(backend, Backend::Sqlite) {
            bail!(
                "--instances {count} needs --database-url postgres://…: SQLite is one server process"
            );
        }
        let key = master_key();
        let env: Vec<(&str, &str)> = match &backend {
            Backend::Sqlite => Vec::new(),
            Backend::Postgres { url } => vec![
                ("AUTHENTIQ_DATABASE_URL", url.as_str()),
                ("AUTHENTIQ_MASTER_KEY", key.as_str()),
            ],
        };
        let args = [OsStr::new("--config"), config.as_os_str()];
        let mut out = Self {
            servers: Vec::new(),
            data_dirs: Vec::new(),
            backend: backend.clone(),
        };
        let mut public: Option<String> = None;
        for i in 0..count {
            let dir = root.join(format!("instance-{i}"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let launch = Launch {
                args: &args,
                public_url: public.as_deref(),
                env: &env,
            };
            let server = match Server::launch(bin, &dir, &launch, http).await {
                Ok(s) => s,
                Err(e) if i == 0 && matches!(backend, Backend::Postgres { .. }) => {
                    return Err(e.context(
                        "instance 0 on PostgreSQL (give bench-oidc an empty database: the keys \
                         a run stores are sealed under that run's random master key)",
                    ));
                }
                Err(e) => return Err(e.context(format!("instance {i}"))),
            };
            println!(
                "    instance {i}: pid {} listening at {} (data in {})",
                server.pid,
                server.url,
                dir.display()
            );
            public.get_or_insert_with(|| server.url.clone());
            out.servers.push(server);
            out.data_dirs.push(dir);
        }
        Ok(out)
    }

    /// Instance 0's URL: every instance's public URL (the issuer).
    pub fn public_url(&self) -> &str {
        self.servers.first().map_or("", |s| s.url.as_str())
    }

    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.url.clone()).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(|s| s.pid).collect()
    }

    /// `Some("instance i: …")` once any instance has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        let many = self.servers.len() > 1;
        self.servers.iter_mut().enumerate().find_map(|(i, s)| {
            s.exit_status().map(|st| {
                if many {
                    format!("instance {i}: {st}")
                } else {
                    st
                }
            })
        })
    }

    /// Stops every instance; how those had exited that were gone already.
    pub fn stop(&mut self) -> Option<String> {
        let many = self.servers.len() > 1;
        let early: Vec<String> = self
            .servers
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| {
                s.stop().map(|st| {
                    if many {
                        format!("instance {i}: {st}")
                    } else {
                        st
                    }
                })
            })
            .collect();
        (!early.is_empty()).then(|| early.join("; "))
    }

    /// Each instance's `/proc` figures, in order.
    pub fn stats(&self) -> anyhow::Result<Vec<ProcStat>> {
        self.servers.iter().map(|s| ProcStat::read(s.pid)).collect()
    }

    /// The logs' warnings, errors and panics, summed (examples named by instance).
    pub fn log_summary(&self) -> LogSummary {
        let many = self.servers.len() > 1;
        let mut all = LogSummary::default();
        for (i, s) in self.servers.iter().enumerate() {
            let one = s.log_summary();
            all.lines += one.lines;
            all.warnings += one.warnings;
            all.errors += one.errors;
            all.panics += one.panics;
            for e in one.examples {
                if all.examples.len() < 5 {
                    all.examples.push(if many {
                        format!("[instance {i}] {e}")
                    } else {
                        e
                    });
                }
            }
        }
        all
    }

    /// The last lines of every instance's log.
    pub fn log_tails(&self, n: usize) -> String {
        if let [one] = self.servers.as_slice() {
            return one.log_tail(n);
        }
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| format!("--- instance {i} ({}):\n{}", s.url, s.log_tail(n)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `url` (on the public address `public`) on the instance at `base`.
pub fn on(url: &str, public: &str, base: &str) -> String {
    match url.strip_prefix(public) {
        Some(rest) => format!("{base}{rest}"),
        None => url.to_string(),
    }
}

/// CPU seconds of (the servers summed, this client) since `new`; and of
/// the database server, when one is watched ([`watch_database`]).
pub struct CpuMark {
    pids: Vec<u32>,
    server: f64,
    client: f64,
    database: Option<f64>,
}

fn cpu_of(pid: u32) -> f64 {
    ProcStat::read(pid).map(|s| s.cpu_secs).unwrap_or(0.0)
}

/// The PostgreSQL postmaster watched, and the database CPU seconds of each
/// phase measured while it was (by label).
static DATABASE: Mutex<Option<u32>> = Mutex::new(None);
static DATABASE_CPU: Mutex<Vec<(String, f64)>> = Mutex::new(Vec::new());

/// Counts the CPU of PostgreSQL (`postmaster`, its pid) in every phase
/// from now on; `None` stops (before the peer runs).
pub fn watch_database(postmaster: Option<u32>) {
    if let Ok(mut d) = DATABASE.lock() {
        *d = postmaster;
    }
}

/// The database's CPU seconds in the phase `label`, if it was watched.
pub fn database_cpu(label: &str) -> Option<f64> {
    let all = DATABASE_CPU.lock().ok()?;
    all.iter().find(|(l, _)| l == label).map(|(_, s)| *s)
}

/// `/proc/<pid>/stat` fields after the name: (ppid, utime + stime, cutime + cstime) in ticks.
fn stat_ticks(pid: &str) -> Option<(u32, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |i: usize| -> u64 { after.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    Some((
        field(1) as u32,
        field(11) + field(12),
        field(13) + field(14),
    ))
}

/// CPU seconds of the postmaster, its live children (the backends and
/// background processes) and the children it has reaped.
fn database_secs(postmaster: u32) -> f64 {
    let mut ticks = stat_ticks(&postmaster.to_string()).map_or(0, |(_, own, reaped)| own + reaped);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.filter_map(Result::ok) {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some((ppid, own, _)) = stat_ticks(&name)
                && ppid == postmaster
            {
                ticks += own;
            }
        }
    }
    // USER_HZ is 100 on every Linux this runs on.
    ticks as f64 / 100.0
}

fn watched() -> Option<u32> {
    DATABASE.lock().ok().and_then(|d| *d)
}

impl CpuMark {
    pub fn new(pids: &[u32]) -> Self {
        Self {
            pids: pids.to_vec(),
            server: pids.iter().copied().map(cpu_of).sum(),
            client: cpu_of(std::process::id()),
            database: watched().map(database_secs),
        }
    }

    pub fn since(&self) -> (f64, f64) {
        let now = Self::new(&self.pids);
        (now.server - self.server, now.client - self.client)
    }

    /// The phase `label` of `load`, timed from `new`; the database's CPU
    /// over the same time is kept for [`database_cpu`].
    pub fn phase<T>(&self, label: &str, load: &crate::load::Load<T>) -> crate::report::Phase {
        let phase = crate::report::Phase::from_load(label, load, self.since());
        if let (Some(before), Some(pid)) = (self.database, watched())
            && let Ok(mut all) = DATABASE_CPU.lock()
        {
            all.push((label.to_string(), database_secs(pid) - before));
        }
        phase
    }
}
