//! `bench-issuer`: load numbers for the issuer server, measured against the
//! real (release-built) server process on its default SQLite storage in a
//! fresh temporary data directory, over loopback only.
//!
//! 1. `POST /key` with pre-signed registration JWTs, a fixed number in flight;
//! 2. `GET /key/{PK}` over keep-alive connections;
//! 3. one idle device channel (`GET /channel`, raw HTTP/1.1) per key, then
//!    sequential `POST /login` pushes, timed until the `sign-in` event
//!    arrives on that key's channel; with the server's memory at that point.
//!
//! Run it with `bash .ci/bench`; it is a command, not a test.
#![allow(clippy::print_stdout)]

// A binary's root looks for modules beside it, in src/bin/: point at its folder.
#[path = "bench_issuer/channel.rs"]
mod channel;
#[path = "bench_issuer/device.rs"]
mod device;
#[path = "bench_issuer/load.rs"]
mod load;
#[path = "bench_issuer/push.rs"]
mod push;
#[allow(dead_code)] // shared with bench-oidc and bench-accounts (CpuMark is theirs)
#[path = "bench_issuer/report.rs"]
mod report;
#[path = "bench_issuer/server.rs"]
mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use reqwest::StatusCode;

use channel::{Channel, Liveness};
use device::Device;
use push::Open;
use report::{Phase, Report};
use server::{ProcStat, Server, expect_status, interrupted, loadavg, request_error};

/// Open files needed beyond one per channel.
const FD_HEADROOM: u64 = 1024;

#[derive(Debug, Parser)]
#[command(
    about = "Benchmark the Authentiq issuer server: registrations, key reads, and push-to-device \
             latency with many idle device channels open",
    after_help = "Usually run through `bash .ci/bench`, which builds both binaries in release \
                  mode and raises the open-file limit."
)]
struct Args {
    /// The server binary to start (release build).
    #[arg(long)]
    server: PathBuf,
    /// Keys to register; one device channel is opened per key.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Push-latency samples, taken one at a time.
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Registrations in flight.
    #[arg(long, default_value_t = 32)]
    register_concurrency: usize,
    /// `GET /key/{PK}` requests in all.
    #[arg(long, default_value_t = 20_000)]
    gets: usize,
    /// `GET /key/{PK}` requests in flight.
    #[arg(long, default_value_t = 64)]
    get_concurrency: usize,
    /// Channel opens in flight.
    #[arg(long, default_value_t = 64)]
    channel_concurrency: usize,
    /// Pause between push samples, in milliseconds.
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
    /// Keep the server's data directory and log after the run.
    #[arg(long)]
    keep_data: bool,
}

/// Makes sure this process (and so the server it starts) may open `need`
/// files; raises the soft limit as far as the hard one allows.
fn raise_nofile(need: u64) -> anyhow::Result<u64> {
    use rlimit::Resource;
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).context("cannot read RLIMIT_NOFILE")?;
    if soft >= need {
        return Ok(soft);
    }
    let want = need.max(65_536);
    if rlimit::setrlimit(Resource::NOFILE, want, want.max(hard)).is_err() {
        // Without privilege only the soft limit moves, up to the hard one.
        let _ = rlimit::setrlimit(Resource::NOFILE, hard.min(want), hard);
    }
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).context("cannot read RLIMIT_NOFILE")?;
    if soft < need {
        bail!(
            "the open-file limit is {soft} (hard limit {hard}), but this run needs about {need} \
             (one per channel plus {FD_HEADROOM}). Raise it (`ulimit -n {need}` as a user allowed \
             to, `--ulimit nofile={need}` for a container) or pass --keys {}",
            soft.saturating_sub(FD_HEADROOM)
        );
    }
    Ok(soft)
}

/// CPU seconds of (server, client) since `since`.
struct CpuMark {
    pid: u32,
    server: f64,
    client: f64,
}

impl CpuMark {
    fn new(pid: u32) -> Self {
        let read = |p| ProcStat::read(p).map(|s| s.cpu_secs).unwrap_or(0.0);
        Self {
            pid,
            server: read(pid),
            client: read(std::process::id()),
        }
    }

    fn since(&self) -> (f64, f64) {
        let now = Self::new(self.pid);
        (now.server - self.server, now.client - self.client)
    }
}

async fn run(
    args: &Args,
    server: &mut Server,
    http: &reqwest::Client,
    r: &mut Report,
) -> anyhow::Result<()> {
    let pid = server.pid;
    r.mem_idle = ProcStat::read(pid)?;

    println!(
        "==> generating {} keys and pre-signing their registrations",
        args.keys
    );
    let t = Instant::now();
    let devices = (0..args.keys)
        .map(|_| Device::new())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let registrations = devices
        .iter()
        .map(Device::registration)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!(e))?;
    r.keygen = t.elapsed();
    let devices = Arc::new(devices);

    println!(
        "==> POST /key × {} ({} in flight)",
        args.keys, args.register_concurrency
    );
    let registrations = Arc::new(registrations);
    let url = Arc::new(server.url.clone());
    let mark = CpuMark::new(pid);
    let load = load::run("POST /key", args.keys, args.register_concurrency, {
        let (http, url) = (http.clone(), Arc::clone(&url));
        move |i| {
            let (http, url, regs) = (http.clone(), Arc::clone(&url), Arc::clone(&registrations));
            async move {
                let token = regs.get(i).cloned().unwrap_or_default();
                let res = http
                    .post(format!("{url}/key"))
                    .header("content-type", "application/jwt")
                    .body(token)
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                expect_status(res, StatusCode::CREATED).await
            }
        }
    })
    .await?;
    let registered: Vec<usize> = load
        .outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .map(|o| o.index)
        .collect();
    r.phases.push(Phase::from_load(
        &format!("POST /key (c={})", args.register_concurrency),
        &load,
        mark.since(),
    ));
    if registered.is_empty() {
        bail!("no key could be registered: {:?}", load.errors());
    }
    if let Some(status) = server.exit_status() {
        bail!("the server exited during registration ({status})");
    }

    println!(
        "==> GET /key/{{PK}} × {} ({} in flight, keep-alive)",
        args.gets, args.get_concurrency
    );
    let pks: Arc<Vec<String>> =
        Arc::new(registered.iter().map(|&i| devices[i].pk.clone()).collect());
    let mark = CpuMark::new(pid);
    let load = load::run("GET /key", args.gets, args.get_concurrency, {
        let (http, url, pks) = (http.clone(), Arc::clone(&url), Arc::clone(&pks));
        move |i| {
            let (http, url) = (http.clone(), Arc::clone(&url));
            let pk = pks[i % pks.len()].clone();
            async move {
                let res = http
                    .get(format!("{url}/key/{pk}"))
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                expect_status(res, StatusCode::OK).await
            }
        }
    })
    .await?;
    r.phases.push(Phase::from_load(
        &format!("GET /key/{{PK}} (c={})", args.get_concurrency),
        &load,
        mark.since(),
    ));
    r.mem_after_http = ProcStat::read(pid)?;

    println!(
        "==> opening {} device channels ({} in flight, raw HTTP/1.1, fresh channel-auth JWT each)",
        registered.len(),
        args.channel_concurrency
    );
    let addr = server.addr;
    let registered = Arc::new(registered);
    let mark = CpuMark::new(pid);
    let load = load::run(
        "GET /channel",
        registered.len(),
        args.channel_concurrency,
        {
            let (url, devices, registered) = (
                Arc::clone(&url),
                Arc::clone(&devices),
                Arc::clone(&registered),
            );
            move |i| {
                let device = registered[i];
                let token = devices[device].channel_auth(&url);
                async move {
                    let channel = Channel::open(addr, &token?, Duration::from_secs(10)).await?;
                    Ok((device, channel))
                }
            }
        },
    )
    .await?;
    r.phases.push(Phase::from_load(
        &format!("GET /channel open (c={})", args.channel_concurrency),
        &load,
        mark.since(),
    ));
    let mut open: Vec<Open> = load
        .outcomes
        .into_iter()
        .filter_map(|o| o.result.ok())
        .map(|(device, channel)| Open {
            device,
            channel,
            usable: true,
        })
        .collect();
    r.channels_opened = open.len();
    if open.is_empty() {
        bail!("no device channel could be opened");
    }
    // Let the streams subscribe and the server settle before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.mem_channels_idle = ProcStat::read(pid)?;
    if let Some(status) = server.exit_status() {
        bail!("the server exited while channels were opened ({status})");
    }

    println!(
        "==> {} push samples: POST /login → `sign-in` on the key's idle channel ({} open)",
        args.samples,
        open.len()
    );
    let mark = CpuMark::new(pid);
    let samples = push::sample(
        http,
        &url,
        &devices,
        &mut open,
        args.samples,
        Duration::from_millis(args.gap_ms),
    )
    .await?;
    let (server_cpu, client_cpu) = mark.since();
    let mut latencies = samples.latencies;
    latencies.sort();
    r.push = Phase {
        label: format!("push → sign-in event ({} idle)", open.len()),
        count: samples.count,
        ok: latencies.len(),
        errors: samples.errors,
        wall: samples.wall,
        latencies,
        server_cpu,
        client_cpu,
        sequential: true,
    };
    r.push_post_latencies = samples.post_latencies;
    r.push_aborted = samples.aborted;
    r.mem_after_push = ProcStat::read(pid)?;
    r.client_at_end = ProcStat::read(std::process::id())?;
    r.channels_open_at_end = open
        .iter_mut()
        .map(|o| o.channel.poll_liveness())
        .filter(|l| *l == Liveness::Open)
        .count();
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match bench(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    if args.keys == 0 {
        bail!("--keys must be at least 1");
    }
    let server_bin = std::fs::canonicalize(&args.server)
        .with_context(|| format!("no server binary at {}", args.server.display()))?;
    let nofile = raise_nofile(args.keys as u64 + FD_HEADROOM)?;
    let data = tempfile::Builder::new()
        .prefix("bench-issuer-")
        .tempdir()
        .context("cannot make a temporary data directory")?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")?;
    let mut report = Report {
        server_bin: args.server.display().to_string(),
        data_dir: data.path().display().to_string(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        nofile,
        loadavg_start: loadavg(),
        keys: args.keys,
        ..Report::default()
    };
    println!(
        "==> starting {} (data in {})",
        server_bin.display(),
        data.path().display()
    );
    // From here on the server is killed when `server` is dropped, on every path.
    let mut server = Server::start(&server_bin, data.path(), &http).await?;
    report.server_pid = server.pid;
    report.server_url = server.url.clone();
    println!("    pid {} listening at {}", server.pid, server.url);
    let outcome = tokio::select! {
        r = run(&args, &mut server, &http, &mut report) => r,
        why = interrupted() => Err(anyhow!("interrupted by {why}")),
    };
    report.loadavg_end = loadavg();
    let early_exit = server.stop();
    let log = server.log_summary();
    if let Err(e) = &outcome {
        println!("\nthe benchmark failed: {e:#}");
        println!("server log ends:\n{}", server.log_tail(20));
    }
    report::print(&report, &log, early_exit.as_deref());
    if args.keep_data {
        let kept = data.keep();
        println!("data directory and server log kept in {}", kept.display());
    } else {
        println!("(the data directory and server log are deleted; pass --keep-data to keep them)");
    }
    outcome
}
