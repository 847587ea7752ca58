//! The summary table of `bench-oidc`.

use std::sync::Arc;
use std::time::Duration;

use crate::device::Approvers;
use crate::flow::STEPS;
use crate::phases::refresh_label;
use crate::report::{Phase, pct, print_phase_header, print_phase_row};
use crate::server::{LogSummary, ProcStat};

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .unwrap_or_else(|| "-".into())
}

/// A sign-in phase: the full flows, and each step's times (sorted).
#[derive(Debug, Default)]
pub struct SignIns {
    pub phase: Phase,
    pub steps: [Vec<Duration>; 6],
    pub aborted: Option<String>,
}

/// A `/token` phase over refresh-token chains.
#[derive(Debug, Default)]
pub struct Tokens {
    pub phase: Phase,
    pub chains: usize,
    pub chains_left: usize,
}

/// The peer (`--peer`): the same phases against oidc-provider.
#[derive(Debug, Default)]
pub struct PeerReport {
    /// E.g. "oidc-provider 9.13.3 on Node.js v20.20.2".
    pub name: String,
    pub pid: u32,
    pub url: String,
    pub log_path: String,
    pub gets: Vec<Phase>,
    pub tokens: Vec<Tokens>,
    /// After start (tokens seeded) and after the last phase.
    pub mem_start: Option<ProcStat>,
    pub mem_end: Option<ProcStat>,
    pub server_errors: usize,
    /// How it had exited, when it was gone before being stopped.
    pub exited: Option<String>,
    /// Why the peer phases stopped, if they did.
    pub failed: Option<String>,
}

/// The servers' memory and data directory after a phase.
#[derive(Debug)]
pub struct Mem {
    pub after: String,
    /// One per instance, in order.
    pub stats: Vec<ProcStat>,
    /// Bytes of the SQLite files (database, WAL, shared memory), or of
    /// PostgreSQL's data directory (when its pid is known).
    pub db_bytes: Option<u64>,
}

impl Mem {
    /// The instances' figures summed (CPU too).
    pub fn total(&self) -> ProcStat {
        self.stats
            .iter()
            .fold(ProcStat::default(), |a, s| ProcStat {
                rss_kib: a.rss_kib + s.rss_kib,
                hwm_kib: a.hwm_kib + s.hwm_kib,
                threads: a.threads + s.threads,
                fds: a.fds + s.fds,
                cpu_secs: a.cpu_secs + s.cpu_secs,
            })
    }
}

#[derive(Debug, Default)]
pub struct Approvals {
    pub sign_in_events: usize,
    pub other_events: usize,
    pub approved: usize,
    pub unmatched: usize,
    pub bad_events: usize,
    pub answer_failed: usize,
    pub channels_lost: usize,
    pub answers_elsewhere: usize,
    pub last_channel_error: Option<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub server_bin: String,
    /// "SQLite" or "PostgreSQL".
    pub backend: String,
    /// Where the data is, in a sentence.
    pub storage: String,
    /// Each instance's pid and URL (instance 0's is everyone's public URL).
    pub instances: Vec<(u32, String)>,
    /// The PostgreSQL postmaster whose CPU was counted per phase.
    pub database_pid: Option<u32>,
    /// Pushes sent, and those sent from an instance other than the device channel's.
    pub pushes: usize,
    pub pushes_elsewhere: usize,
    pub cpus: usize,
    pub loadavg_start: String,
    pub loadavg_end: String,
    pub devices: usize,
    pub flow_timeout: Duration,
    pub enrol: Option<Phase>,
    pub sign_ins: Vec<SignIns>,
    /// GET discovery, JWKS and userinfo.
    pub gets: Vec<Phase>,
    pub tokens: Vec<Tokens>,
    /// `POST /introspect` of one live access token.
    pub introspection: Option<Phase>,
    pub mem: Vec<Mem>,
    pub approvals: Approvals,
    /// Read into `approvals` at the end.
    pub approvers: Option<Arc<Approvers>>,
    pub client_at_end: ProcStat,
    pub peer: Option<PeerReport>,
}

pub fn print(r: &Report, log: &LogSummary, early_exit: Option<&str>) {
    let line = "=".repeat(118);
    println!("\n{line}");
    let n = r.instances.len();
    let plural = if n == 1 { "" } else { "s" };
    println!("bench-oidc summary: {}, {n} instance{plural}", r.backend);
    println!("{line}");
    println!("backend      {}, {n} server instance{plural}", r.backend);
    match r.instances.as_slice() {
        [(pid, url)] => println!("server       {} (pid {pid}) at {url}", r.server_bin),
        all => {
            println!(
                "servers      {} × {n}, all with public URL {} (as behind a load balancer):",
                r.server_bin,
                all.first().map_or("?", |(_, u)| u.as_str())
            );
            for (i, (pid, url)) in all.iter().enumerate() {
                println!("               instance {i}: pid {pid} at {url}");
            }
        }
    }
    println!("storage      {}", r.storage);
    if n > 1 {
        println!(
            "routing      sign-in i: browser steps at instance (i + i / devices) mod {n}, device d's enrolment and channel at d mod {n},\n             \
             the device's answers round-robin, the code exchange at the browser's instance + 1; GET, refresh and introspection\n             \
             requests round-robin (request j at j mod {n}). {} of {} pushes sent from an instance other than the device channel's,\n             \
             {} of {} answers posted to an instance other than the page's",
            r.pushes_elsewhere,
            r.pushes,
            r.approvals.answers_elsewhere,
            r.approvals.approved + r.approvals.answer_failed,
        );
    }
    println!(
        "machine      {} CPU(s) shared by client and server; load average {} at start, {} at end",
        r.cpus, r.loadavg_start, r.loadavg_end
    );
    println!(
        "clients      RS256 and EdDSA confidential clients (client_secret_basic); scope \"openid email~rs aq:name\""
    );
    println!(
        "devices      {} enrolled (email verified through the outbox, bound, channel open), each answered by a scripted approver",
        r.devices
    );
    println!();
    print_phase_header(40, line.len());
    if let Some(p) = &r.enrol {
        print_phase_row(p, 40);
    }
    for s in &r.sign_ins {
        print_phase_row(&s.phase, 40);
        if let Some(why) = &s.aborted {
            println!("      sampling stopped early: {why}");
        }
    }
    for p in &r.gets {
        print_phase_row(p, 40);
    }
    print_token_rows(&r.tokens);
    if let Some(p) = &r.introspection {
        print_phase_row(p, 40);
    }
    println!(
        "  (sign-in: latency = GET /authorize sent → /token answered with tokens, one browser per flow, each ≤ {} s;\n   \
         token: grant_type=refresh_token, each answer a new access, refresh and ID token, one chain per worker;\n   \
         srv CPU = user + system seconds of {})",
        r.flow_timeout.as_secs(),
        if n == 1 {
            "the server process".to_string()
        } else {
            format!("all {n} server processes, summed")
        }
    );
    if let Some(pid) = r.database_pid {
        print_database_cpu(r, pid);
    }
    println!();
    println!(
        "sign-in steps, p50 / p99 ms: authorize = /authorize → 303 · page = the sign-in page (and, via /events, its status stream opened)\n  \
         push = POST …/push · approval = push answered → the device's signed answer accepted (or /events says approved)\n  \
         continue = …/continue → 302 with the code · token = code + PKCE → tokens"
    );
    print!("{:<40}", "");
    for name in STEPS {
        print!(" {name:>13}");
    }
    println!();
    for s in &r.sign_ins {
        print!("{:<40}", s.phase.label);
        for v in &s.steps {
            print!(
                " {:>13}",
                format!("{}/{}", ms(pct(v, 50.0)), ms(pct(v, 99.0)))
            );
        }
        println!();
    }
    println!();
    println!(
        "{:<41} VmRSS MiB  VmHWM MiB  threads    fds  {}{}",
        if n == 1 {
            "server after".to_string()
        } else {
            format!("servers after ({n} summed)")
        },
        if r.backend == "SQLite" {
            "SQLite MiB"
        } else {
            "PG dir MiB"
        },
        if n == 1 {
            ""
        } else {
            "  VmRSS MiB per instance"
        }
    );
    for m in &r.mem {
        let t = m.total();
        let db = m
            .db_bytes
            .map(|b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "-".into());
        let each = if n == 1 {
            String::new()
        } else {
            let v: Vec<String> = m
                .stats
                .iter()
                .map(|s| format!("{:.1}", s.rss_mib()))
                .collect();
            format!("  {}", v.join(" / "))
        };
        println!(
            "  {:<38} {:>10.1} {:>10.1} {:>8} {:>6} {:>11}{each}",
            m.after,
            t.rss_mib(),
            t.hwm_mib(),
            t.threads,
            t.fds,
            db
        );
    }
    println!(
        "  client (bench-oidc) at end: VmRSS {:.1} MiB, VmHWM {:.1} MiB, {:.1} CPU s",
        r.client_at_end.rss_mib(),
        r.client_at_end.hwm_mib(),
        r.client_at_end.cpu_secs
    );
    println!();
    let a = &r.approvals;
    println!(
        "devices      {} sign-in events ({} other), {} approved, {} answers refused or failed, {} for no waiting browser, {} not verifiable",
        a.sign_in_events, a.other_events, a.approved, a.answer_failed, a.unmatched, a.bad_events
    );
    match &a.last_channel_error {
        Some(e) if a.channels_lost > 0 => {
            println!(
                "             {} device channels ended; the last: {e}",
                a.channels_lost
            )
        }
        _ => println!("             {} device channels ended", a.channels_lost),
    }
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
    if let Some(peer) = &r.peer {
        println!();
        print_peer(r, peer, line.len());
    }
    println!("{line}");
}

/// PostgreSQL's CPU in each of our phases, beside the servers'.
fn print_database_cpu(r: &Report, pid: u32) {
    println!();
    println!(
        "PostgreSQL CPU (postmaster pid {pid}, its backends and background processes; not in srv CPU above)"
    );
    println!(
        "{:<40} {:>10} {:>10} {:>16} {:>16}",
        "phase", "srv CPU s", "db CPU s", "srv ms/ok", "srv+db ms/ok"
    );
    let phases = r
        .enrol
        .iter()
        .chain(r.sign_ins.iter().map(|s| &s.phase))
        .chain(&r.gets)
        .chain(r.tokens.iter().map(|t| &t.phase))
        .chain(&r.introspection);
    for p in phases {
        let Some(db) = crate::instances::database_cpu(&p.label) else {
            continue;
        };
        let per = |secs: f64| {
            if p.ok > 0 {
                format!("{:.3}", secs * 1e3 / p.ok as f64)
            } else {
                "-".into()
            }
        };
        println!(
            "{:<40} {:>10.2} {:>10.2} {:>16} {:>16}",
            p.label,
            p.server_cpu,
            db,
            per(p.server_cpu),
            per(p.server_cpu + db)
        );
    }
}

fn print_token_rows(tokens: &[Tokens]) {
    for t in tokens {
        print_phase_row(&t.phase, 40);
        if t.chains_left < t.chains {
            println!(
                "      {} of {} refresh-token chains lost to failed requests",
                t.chains - t.chains_left,
                t.chains
            );
        }
    }
}

/// Server CPU milliseconds per successful request.
fn cpu_per_request(p: &Phase) -> Option<f64> {
    (p.ok > 0).then(|| p.server_cpu * 1e3 / p.ok as f64)
}

fn cpu_ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into())
}

/// One row of the side-by-side table.
fn compare_row(endpoint: &str, ours: Option<&Phase>, peer: Option<&Phase>) {
    let rate = |p: Option<&Phase>| {
        p.filter(|p| p.ok > 0)
            .map(|p| format!("{:.0}", p.rate()))
            .unwrap_or_else(|| "-".into())
    };
    let ratio = match (ours, peer) {
        (Some(o), Some(p)) if o.ok > 0 && p.ok > 0 => format!("{:.2}×", o.rate() / p.rate()),
        _ => "-".into(),
    };
    let cpu = format!(
        "{} / {}",
        cpu_ms(ours.and_then(cpu_per_request)),
        cpu_ms(peer.and_then(cpu_per_request))
    );
    let p99 = |p: Option<&Phase>| {
        p.and_then(|p| pct(&p.latencies, 99.0))
            .map(|d| format!("{:.2}", d.as_secs_f64() * 1e3))
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "{:<44} {:>10} {:>10} {:>7} {:>21} {:>17}",
        endpoint,
        rate(ours),
        rate(peer),
        ratio,
        cpu,
        format!("{} / {}", p99(ours), p99(peer)),
    );
}

fn mem_line(s: Option<&ProcStat>) -> String {
    s.map(|s| format!("VmRSS {:.1} MiB, VmHWM {:.1} MiB", s.rss_mib(), s.hwm_mib()))
        .unwrap_or_else(|| "-".into())
}

/// The side-by-side table: ours and the peer, phase by phase (matched on
/// the label), then the peer's own phase rows (with their errors).
fn print_peer(r: &Report, peer: &PeerReport, rule: usize) {
    println!(
        "side by side with {} (default in-memory adapter, RS256 ID tokens, rotateRefreshToken: true; one client, \
         client_secret_basic),\n  on a fresh process (pid {}) at {} after ours was stopped; the same load client, counts and concurrencies",
        peer.name, peer.pid, peer.url
    );
    println!(
        "{:<44} {:>10} {:>10} {:>7} {:>21} {:>17}",
        "endpoint", "ours ok/s", "peer ok/s", "ratio", "CPU ms/req ours/peer", "p99 ms ours/peer"
    );
    println!("{}", "-".repeat(rule));
    let ours_phase = |label: &str| {
        r.gets
            .iter()
            .chain(r.tokens.iter().map(|t| &t.phase))
            .find(|p| p.label == label)
    };
    for p in peer.gets.iter().chain(peer.tokens.iter().map(|t| &t.phase)) {
        compare_row(&p.label, ours_phase(&p.label), Some(p));
    }
    // Our EdDSA client against the peer's RS256 one (the peer has no other).
    for t in &peer.tokens {
        let c = t.chains;
        if t.phase.label == refresh_label("RS256", c)
            && let Some(o) = ours_phase(&refresh_label("EdDSA", c))
        {
            compare_row(&refresh_label("EdDSA/RS256", c), Some(o), Some(&t.phase));
        }
    }
    println!(
        "  (ratio = ours / peer ok/s; CPU = the server process's user + system time over its successful requests;\n   \
         EdDSA/RS256 = our EdDSA client against the peer's RS256 one)"
    );
    println!(
        "  memory: ours at the end {}; peer after start {}, after its phases {}",
        mem_line(r.mem.last().map(Mem::total).as_ref()),
        mem_line(peer.mem_start.as_ref()),
        mem_line(peer.mem_end.as_ref()),
    );
    println!();
    println!("peer phases ({}):", peer.name);
    print_phase_header(40, rule);
    for p in &peer.gets {
        print_phase_row(p, 40);
    }
    print_token_rows(&peer.tokens);
    if let Some(status) = &peer.exited {
        println!("peer         EXITED ON ITS OWN during the run: {status}");
    }
    if let Some(why) = &peer.failed {
        println!("peer         stopped early: {why}");
    }
    println!(
        "peer log     {} ({} server_error lines)",
        peer.log_path, peer.server_errors
    );
}
