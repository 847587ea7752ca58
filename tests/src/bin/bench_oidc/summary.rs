//! The summary table of `bench-oidc`.

use std::sync::Arc;
use std::time::Duration;

use crate::device::Approvers;
use crate::flow::STEPS;
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

/// The server's memory and data directory after a phase.
#[derive(Debug)]
pub struct Mem {
    pub after: String,
    pub stat: ProcStat,
    /// Bytes of the SQLite files (database, WAL, shared memory).
    pub db_bytes: u64,
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
    pub last_channel_error: Option<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub server_bin: String,
    pub server_pid: u32,
    pub server_url: String,
    pub data_dir: String,
    pub cpus: usize,
    pub loadavg_start: String,
    pub loadavg_end: String,
    pub devices: usize,
    pub flow_timeout: Duration,
    pub enrol: Option<Phase>,
    pub sign_ins: Vec<SignIns>,
    pub tokens: Vec<Tokens>,
    /// `POST /introspect` of one live access token.
    pub introspection: Option<Phase>,
    pub mem: Vec<Mem>,
    pub approvals: Approvals,
    /// Read into `approvals` at the end.
    pub approvers: Option<Arc<Approvers>>,
    pub client_at_end: ProcStat,
}

pub fn print(r: &Report, log: &LogSummary, early_exit: Option<&str>) {
    let line = "=".repeat(118);
    println!("\n{line}");
    println!("bench-oidc summary");
    println!("{line}");
    println!(
        "server       {} (pid {}) at {}",
        r.server_bin, r.server_pid, r.server_url
    );
    println!(
        "storage      default SQLite (WAL, synchronous=FULL, one writer) in fresh {}",
        r.data_dir
    );
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
    for t in &r.tokens {
        print_phase_row(&t.phase, 40);
        if t.chains_left < t.chains {
            println!(
                "      {} of {} refresh-token chains lost to failed requests",
                t.chains - t.chains_left,
                t.chains
            );
        }
    }
    if let Some(p) = &r.introspection {
        print_phase_row(p, 40);
    }
    println!(
        "  (sign-in: latency = GET /authorize sent → /token answered with tokens, one browser per flow, each ≤ {} s;\n   \
         token: grant_type=refresh_token, each answer a new access, refresh and ID token, one chain per worker)",
        r.flow_timeout.as_secs()
    );
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
        "server after                              VmRSS MiB  VmHWM MiB  threads    fds  SQLite MiB"
    );
    for m in &r.mem {
        println!(
            "  {:<38} {:>10.1} {:>10.1} {:>8} {:>6} {:>11.1}",
            m.after,
            m.stat.rss_mib(),
            m.stat.hwm_mib(),
            m.stat.threads,
            m.stat.fds,
            m.db_bytes as f64 / (1024.0 * 1024.0)
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
    println!("{line}");
}
