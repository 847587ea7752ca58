//! Turning timings into the summary table.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::load::Load;
use crate::server::{LogSummary, ProcStat};

/// A phase of requests, summarised.
#[derive(Debug, Default)]
pub struct Phase {
    pub label: String,
    pub count: usize,
    pub ok: usize,
    pub errors: BTreeMap<String, usize>,
    pub wall: Duration,
    /// Successful requests' latencies, sorted.
    pub latencies: Vec<Duration>,
    pub server_cpu: f64,
    pub client_cpu: f64,
    /// One request at a time with pauses: a rate would mean nothing.
    pub sequential: bool,
}

impl Phase {
    pub fn from_load<T>(label: &str, load: &Load<T>, cpu: (f64, f64)) -> Self {
        let mut latencies = load.ok_latencies();
        latencies.sort();
        Self {
            label: label.into(),
            count: load.outcomes.len(),
            ok: latencies.len(),
            errors: load.errors(),
            wall: load.wall,
            latencies,
            server_cpu: cpu.0,
            client_cpu: cpu.1,
            sequential: false,
        }
    }

    /// Successful requests per second of wall time.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted `v`.
pub fn pct(v: &[Duration], p: f64) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}", d.as_secs_f64() * 1e3))
        .unwrap_or_else(|| "-".into())
}

/// Everything measured in one run.
#[derive(Debug, Default)]
pub struct Report {
    pub server_bin: String,
    pub server_pid: u32,
    pub server_url: String,
    pub data_dir: String,
    pub cpus: usize,
    pub nofile: u64,
    pub loadavg_start: String,
    pub loadavg_end: String,
    pub keys: usize,
    pub keygen: Duration,
    pub phases: Vec<Phase>,
    /// Push-to-device: event latencies in `latencies`, the POST's own in `post_latencies`.
    pub push: Phase,
    pub push_post_latencies: Vec<Duration>,
    pub push_aborted: Option<String>,
    pub channels_opened: usize,
    pub channels_open_at_end: usize,
    pub mem_idle: ProcStat,
    pub mem_after_http: ProcStat,
    pub mem_channels_idle: ProcStat,
    pub mem_after_push: ProcStat,
    pub client_at_end: ProcStat,
}

/// The phase table's header and rule (both benchmarks print one); the
/// first column is `label` characters wide.
pub fn print_phase_header(label: usize, rule: usize) {
    println!(
        "{:<label$} {:>6} {:>6} {:>5} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "phase",
        "n",
        "ok",
        "err",
        "wall s",
        "ok/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "srv CPU",
        "cli CPU"
    );
    println!("{}", "-".repeat(rule));
}

/// One phase of the table, and its errors under it.
pub fn print_phase_row(p: &Phase, label: usize) {
    let rate = if p.sequential {
        "-".to_string()
    } else {
        format!("{:.1}", p.rate())
    };
    println!(
        "{:<label$} {:>6} {:>6} {:>5} {:>7.2} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6.1}s {:>6.1}s",
        p.label,
        p.count,
        p.ok,
        p.count - p.ok,
        p.wall.as_secs_f64(),
        rate,
        ms(pct(&p.latencies, 50.0)),
        ms(pct(&p.latencies, 90.0)),
        ms(pct(&p.latencies, 99.0)),
        ms(p.latencies.last().copied()),
        p.server_cpu,
        p.client_cpu,
    );
    for (why, n) in &p.errors {
        println!("      {n:>6} × {why}");
    }
}

pub fn print(r: &Report, log: &LogSummary, early_exit: Option<&str>) {
    let line = "=".repeat(118);
    println!("\n{line}");
    println!("bench-issuer summary");
    println!("{line}");
    println!(
        "server       {} (pid {}) at {}",
        r.server_bin, r.server_pid, r.server_url
    );
    println!(
        "storage      default SQLite (WAL, synchronous=FULL) in fresh {}",
        r.data_dir
    );
    println!(
        "machine      {} CPU(s) shared by client and server; open-file limit {}; load average {} at start, {} at end",
        r.cpus, r.nofile, r.loadavg_start, r.loadavg_end
    );
    println!(
        "setup        {} Ed25519 keys generated and registration JWTs pre-signed in {:.2} s (not timed below)",
        r.keys,
        r.keygen.as_secs_f64()
    );
    println!();
    print_phase_header(40, line.len());
    for p in r.phases.iter().chain(std::iter::once(&r.push)) {
        print_phase_row(p, 40);
    }
    let mut post = r.push_post_latencies.clone();
    post.sort();
    println!(
        "  (push: latency = POST /login sent → `event: sign-in` block read on that key's idle channel, {} channels open;\n   \
         the POST's own response: p50 {} ms, p99 {} ms; samples are sequential, a few ms apart)",
        r.channels_opened,
        ms(pct(&post, 50.0)),
        ms(pct(&post, 99.0)),
    );
    if let Some(why) = &r.push_aborted {
        println!("  push sampling stopped early: {why}");
    }
    println!();
    println!("server memory (MiB)            VmRSS    VmHWM  threads      fds");
    for (label, s) in [
        ("idle, empty database", &r.mem_idle),
        ("after POST/GET /key phases", &r.mem_after_http),
        ("channels open, idle", &r.mem_channels_idle),
        ("after push samples", &r.mem_after_push),
    ] {
        println!(
            "  {:<26} {:>8.1} {:>8.1} {:>8} {:>8}",
            label,
            s.rss_mib(),
            s.hwm_mib(),
            s.threads,
            s.fds
        );
    }
    if r.channels_opened > 0 {
        let n = r.channels_opened as f64;
        let delta = r
            .mem_channels_idle
            .rss_kib
            .saturating_sub(r.mem_after_http.rss_kib) as f64;
        println!(
            "  per open channel: {:.1} KiB (RSS growth from opening {} channels) — {:.1} KiB (VmRSS after push samples / channels)",
            delta / n,
            r.channels_opened,
            r.mem_after_push.rss_kib as f64 / n,
        );
    }
    println!(
        "  client (bench-issuer) at end: VmRSS {:.1} MiB, VmHWM {:.1} MiB, {:.1} CPU s",
        r.client_at_end.rss_mib(),
        r.client_at_end.hwm_mib(),
        r.client_at_end.cpu_secs
    );
    println!();
    println!(
        "channels     {} opened, {} still open at the end",
        r.channels_opened, r.channels_open_at_end
    );
    match early_exit {
        Some(status) => println!("server       EXITED ON ITS OWN during the run: {status}"),
        None => println!("server       still running at the end; killed"),
    }
    println!(
        "server log   {} lines: {} WARN, {} ERROR, {} panic lines",
        log.lines, log.warnings, log.errors, log.panics
    );
    for e in &log.examples {
        println!("      {e}");
    }
    println!("{line}");
}

/// CPU seconds of (server, client) since `new`.
pub struct CpuMark {
    pid: u32,
    server: f64,
    client: f64,
}

impl CpuMark {
    pub fn new(pid: u32) -> Self {
        let read = |p| {
            crate::server::ProcStat::read(p)
                .map(|s| s.cpu_secs)
                .unwrap_or(0.0)
        };
        Self {
            pid,
            server: read(pid),
            client: read(std::process::id()),
        }
    }

    pub fn since(&self) -> (f64, f64) {
        let now = Self::new(self.pid);
        (now.server - self.server, now.client - self.client)
    }
}
