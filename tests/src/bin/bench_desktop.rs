//! bench-desktop: how fast the desktop app starts and how much memory it
//! holds while idle. `bash .ci/bench desktop` runs it (release builds,
//! under Xvfb, on a private session bus with an unlocked gnome-keyring).
//!
//! - **Cold start to first paint**: from just before the spawn to the
//!   moment the first screen is on the window (the UI reports the frame
//!   after it rendered; `src-tauri/src/startup.rs` logs it with the wall
//!   clock). Two screens: the first run (no ID: onboarding) and a profile
//!   with an ID (read from the keyring; home with the QR code, the device
//!   channel opening). "Cold" runs follow `sync; echo 3 >
//!   /proc/sys/vm/drop_caches` (root only; skipped, and said so,
//!   otherwise); "warm" runs follow one another.
//! - **Idle memory and CPU of all the app's processes** (the app, WebKit's
//!   web and network processes): RSS, PSS and USS from
//!   `/proc/*/smaps_rollup` after `--idle-secs`, then the CPU time they use
//!   over `--cpu-secs`, with the window open and the device channel to the
//!   server established (checked); and when started at login (`--hidden`:
//!   tray only, no window).

#![allow(clippy::print_stdout, clippy::print_stderr)] // a command that prints its report

#[path = "bench_issuer/server.rs"]
#[allow(dead_code)] // shared with the other benchmarks
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use authentiq_tests::desktop_app::{Launcher, Paint};
use authentiq_tests::procs::{Usage, Xvfb, connected_to, find_tool};
use server::Server;

#[derive(Debug, Parser)]
#[command(about = "Desktop app: cold start to first paint, idle memory of all its processes")]
struct Args {
    /// The app (a release build embeds the UI).
    #[arg(long, default_value = "target/release/authentiq-desktop")]
    app: PathBuf,
    /// The server the app's ID is registered with.
    #[arg(long, default_value = "target/release/authentiq-server")]
    server: PathBuf,
    /// The command-line authenticator, to create the ID.
    #[arg(long, default_value = "target/release/aq")]
    aq: PathBuf,
    /// Warm launches per screen.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Cold launches per screen (each after dropping the page cache).
    #[arg(long, default_value_t = 3)]
    cold_runs: usize,
    /// How long the app idles before its memory is read.
    #[arg(long, default_value_t = 20)]
    idle_secs: u64,
    /// Then, how long its CPU time is watched.
    #[arg(long, default_value_t = 30)]
    cpu_secs: u64,
    /// Where the app's logs go (default: a temporary directory).
    #[arg(long)]
    logs: Option<PathBuf>,
}

/// The longest a launch may take to paint.
const PAINT_WITHIN: Duration = Duration::from_secs(60);

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    if let Err(e) = bench(args).await {
        eprintln!("bench-desktop: {e:#}");
        std::process::exit(1);
    }
}

fn canonical(p: &Path, what: &str) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(p).with_context(|| format!("no {what} at {}", p.display()))
}

/// `sync; echo 3 > /proc/sys/vm/drop_caches`: whether it worked.
fn drop_page_cache() -> bool {
    let _ = Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let app_bin = canonical(&args.app, "app")?;
    let server_bin = canonical(&args.server, "server")?;
    let aq_bin = canonical(&args.aq, "aq")?;
    let xvfb_bin = find_tool("Xvfb", &[]).context("`Xvfb` is missing (Debian's xvfb)")?;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        bail!("no session bus: run `bash .ci/bench desktop` (a private bus with gnome-keyring)");
    }
    let scratch = tempfile::Builder::new()
        .prefix("bench-desktop-")
        .tempdir()?;
    let logs = match &args.logs {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => scratch.path().join("logs"),
    };
    std::fs::create_dir_all(&logs)?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let data = scratch.path().join("server");
    std::fs::create_dir_all(&data)?;
    let mut server = Server::start(&server_bin, &data, &http).await?;
    let xvfb = Xvfb::start(&xvfb_bin, &logs.join("xvfb.log"))?;

    println!(
        "app     {} ({:.1} MiB)",
        app_bin.display(),
        file_mib(&app_bin)
    );
    println!("server  {} (pid {})", server.url, server.pid);
    println!("display {}   cpus {}", xvfb.display, cpus());

    // A profile with an ID, registered with the server, its key in the keyring.
    let with_id = scratch.path().join("with-id");
    let out = Command::new(&aq_bin)
        .args(["init", "--server", &server.url, "--json"])
        .env("AQ_HOME", &with_id)
        .output()
        .context("running aq init")?;
    if !out.status.success() {
        bail!("aq init failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    let can_drop = drop_page_cache();
    if !can_drop {
        println!("note: cannot write /proc/sys/vm/drop_caches (needs root): no cold runs");
    }
    let mut rows = Vec::new();
    for (screen, home) in [
        ("first run (onboarding)", None),
        ("with an ID (home)", Some(&with_id)),
    ] {
        for cold in [true, false] {
            let n = if cold {
                args.cold_runs * usize::from(can_drop)
            } else {
                args.runs
            };
            let mut paints = Vec::new();
            // One launch first so that "warm" means warm.
            let warmup = usize::from(!cold);
            for i in 0..n + warmup {
                let fresh;
                let home = match home {
                    Some(h) => h.clone(),
                    None => {
                        fresh = scratch.path().join(format!("fresh-{}-{i}", rows.len()));
                        fresh
                    }
                };
                if cold {
                    drop_page_cache();
                }
                let launcher = Launcher {
                    bin: &app_bin,
                    display: &xvfb.display,
                    home: &home,
                    server: &server.url,
                    log: logs.join(format!("app-{}-{i}.log", rows.len())),
                    env: &[],
                };
                let mut running = launcher.spawn(&[])?;
                let paint = running.first_paint(PAINT_WITHIN)?;
                running.stop();
                if i >= warmup {
                    paints.push(paint);
                }
            }
            if !paints.is_empty() {
                rows.push((screen, if cold { "cold" } else { "warm" }, paints));
            }
        }
    }
    print_starts(&rows);

    // Idle memory: window open, channel up; then started at login (hidden).
    for (label, hidden) in [
        ("window open", false),
        ("started at login (--hidden, tray only)", true),
    ] {
        let launcher = Launcher {
            bin: &app_bin,
            display: &xvfb.display,
            home: &with_id,
            server: &server.url,
            log: logs.join(format!(
                "app-idle-{}.log",
                if hidden { "hidden" } else { "open" }
            )),
            env: &[],
        };
        let mut running = launcher.spawn(if hidden { &["--hidden"] } else { &[] })?;
        if !hidden {
            running.first_paint(PAINT_WITHIN)?;
        }
        tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
        let pids = running.processes();
        let connected = connected_to(&pids, server.addr.port());
        let before: Vec<Usage> = pids.iter().filter_map(|&p| Usage::read(p)).collect();
        tokio::time::sleep(Duration::from_secs(args.cpu_secs)).await;
        let after: Vec<Usage> = pids.iter().filter_map(|&p| Usage::read(p)).collect();
        print_idle(label, &args, connected, &before, &after);
        running.stop();
        if !connected {
            bail!(
                "the app had no channel open to the server after {} s; its log {}",
                args.idle_secs,
                running.log.display()
            );
        }
    }
    drop(xvfb);
    if let Some(status) = server.stop() {
        bail!("the server exited during the benchmark ({status})");
    }
    if args.logs.is_none() {
        println!("\n(logs were in a temporary directory; keep them with --logs DIR)");
    }
    Ok(())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn file_mib(p: &Path) -> f64 {
    std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1048576.0)
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn print_starts(rows: &[(&str, &str, Vec<Paint>)]) {
    println!("\nstart to first paint (ms; from the spawn, and the part inside run())");
    println!(
        "{:<24} {:<5} {:>4} {:>7} {:>7} {:>7} {:>13}",
        "screen", "cache", "runs", "min", "median", "max", "run() median"
    );
    for (screen, cache, paints) in rows {
        let spawn: Vec<Duration> = paints.iter().map(|p| p.from_spawn).collect();
        let run: Vec<Duration> = paints.iter().map(|p| p.from_run).collect();
        println!(
            "{:<24} {:<5} {:>4} {:>7} {:>7} {:>7} {:>13}",
            screen,
            cache,
            paints.len(),
            ms(spawn.iter().copied().min().unwrap_or_default()),
            ms(median(spawn.clone())),
            ms(spawn.iter().copied().max().unwrap_or_default()),
            ms(median(run)),
        );
    }
}

fn print_idle(label: &str, args: &Args, connected: bool, before: &[Usage], after: &[Usage]) {
    let mib = |k: u64| format!("{:.1}", k as f64 / 1024.0);
    // CPU ticks are 10 ms: the share of one core over the window, in %.
    let cpu_pct = |ticks: u64| ticks as f64 * 10.0 / (args.cpu_secs as f64 * 1000.0) * 100.0;
    let spent = |u: &Usage| {
        let was = before
            .iter()
            .find(|b| b.pid == u.pid)
            .map_or(0, |b| b.cpu_ticks);
        u.cpu_ticks.saturating_sub(was)
    };
    println!(
        "\nidle, {label}: memory after {} s, CPU over the next {} s (device channel to the \
         server: {})",
        args.idle_secs,
        args.cpu_secs,
        if connected {
            "established"
        } else {
            "NOT established"
        }
    );
    println!(
        "{:<24} {:>8} {:>9} {:>9} {:>9} {:>7}",
        "process", "pid", "RSS MiB", "PSS MiB", "USS MiB", "CPU %"
    );
    for u in after {
        println!(
            "{:<24} {:>8} {:>9} {:>9} {:>9} {:>7.2}",
            u.name,
            u.pid,
            mib(u.rss_kib),
            mib(u.pss_kib),
            mib(u.uss_kib),
            cpu_pct(spent(u))
        );
    }
    let sum = |f: &dyn Fn(&Usage) -> u64| after.iter().map(f).sum::<u64>();
    println!(
        "{:<24} {:>8} {:>9} {:>9} {:>9} {:>7.2}",
        format!("all {} processes", after.len()),
        "",
        mib(sum(&|u| u.rss_kib)),
        mib(sum(&|u| u.pss_kib)),
        mib(sum(&|u| u.uss_kib)),
        cpu_pct(sum(&spent))
    );
}
