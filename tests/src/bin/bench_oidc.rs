//! `bench-oidc`: load numbers for the OpenID Connect provider, measured
//! against the real (release-built) server process on its default SQLite
//! storage in a fresh temporary data directory, over loopback only; or,
//! with `--database-url postgres://…`, against `--instances N` server
//! processes sharing that PostgreSQL database (and one random master key),
//! each with its own data directory, all with instance 0's URL as their
//! public URL as behind a load balancer. The load then crosses instances on
//! purpose: a sign-in's browser steps at one instance, the device's channel
//! (and its enrolment) at device d mod N, the device's answers round-robin,
//! the code exchange at the instance after the browser's, and the GET,
//! refresh and introspection requests round-robin (request i at i mod N).
//! Server CPU is the instances' CPU summed; memory is summed and per instance.
//!
//! Setup: a configuration file with an RS256 and an EdDSA confidential
//! client and raised rate limits; N devices enrolled (key registered, email
//! verified with the code from the server's outbox, bound), each with its
//! device channel open and a scripted approver answering `sign-in` events
//! with the number the browser's page shows.
//!
//! 1. complete sign-ins (authorize → page → push → the device approves →
//!    continue → code + PKCE at `/token`), a fixed number at each of a few
//!    concurrencies; sign-ins/s and full-flow latency;
//! 2. `GET` discovery, the JWKS (`jwks_uri`) and userinfo with a live
//!    access token (Bearer), N each at `--get-concurrency`;
//! 3. `/token` with `grant_type=refresh_token` (new access, refresh and ID
//!    token each time) for the RS256 and for the EdDSA client, at each of
//!    the `--token-workers` counts (8 and 32), each worker on its own
//!    rotating refresh-token chain;
//! 4. `/introspect` of a live access token by its client;
//! 5. the server's memory after each phase.
//!
//! `--peer` then runs panva's `oidc-provider` (9.13.3, installed with npm
//! into `--peer-dir`, `target/bench-peer` by default; needs `node` and
//! `npm`) on a fresh Node.js process with its in-memory adapter, RS256 ID
//! tokens, rotating refresh tokens and one client like our RS256 one
//! (tests/bench-peer/oidc-provider.mjs, which seeds the refresh-token
//! chains and an access token without a browser), runs phases 2 and 3
//! against it with the same client, counts and concurrencies, measuring its
//! process's CPU and memory the same way, and prints a side-by-side table:
//! ours and its requests/s, the ratio, server CPU ms per request and p99.
//!
//! Run it with `bash .ci/bench oidc [--peer]` (or `bash .ci/bench oidc
//! --database postgres [--instances N]`, which starts a throwaway
//! PostgreSQL cluster for the run); it is a command, not a test.
#![allow(clippy::print_stdout)]

// Shared with bench-issuer: a binary's root looks for modules beside it, in
// src/bin/, so point at their folder. Not every item is used here.
#[allow(dead_code)]
#[path = "bench_issuer/channel.rs"]
mod channel;
#[path = "bench_issuer/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "bench_issuer/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "bench_issuer/server.rs"]
mod server;

#[path = "bench_oidc/device.rs"]
mod device;
#[path = "bench_oidc/flow.rs"]
mod flow;
#[path = "bench_oidc/instances.rs"]
mod instances;
#[path = "bench_oidc/peer.rs"]
mod peer;
#[path = "bench_oidc/phases.rs"]
mod phases;
#[path = "bench_oidc/summary.rs"]
mod summary;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use reqwest::StatusCode;

use channel::Channel;
use device::{Approvers, Device, Outbox};
use flow::{Browsers, Flow, REDIRECT_URI, Rp, Wait};
use instances::{Backend, CpuMark, Instances};
use phases::Endpoints;
use report::Phase;
use server::{ProcStat, expect_status, interrupted, loadavg, request_error};
use summary::{Approvals, Mem, PeerReport, Report, SignIns, Tokens};

#[derive(Debug, Parser)]
#[command(
    about = "Benchmark the Authentiq OpenID Connect provider: complete sign-ins per second and their \
             latency, /token (refresh grant) per second for an RS256 and an EdDSA client, and the \
             server's memory",
    after_help = "Usually run through `bash .ci/bench oidc`, which builds both binaries in release mode."
)]
struct Args {
    /// The server binary to start (release build).
    #[arg(long)]
    server: PathBuf,
    /// Run on this PostgreSQL database (`postgres://…`, e.g.
    /// `postgres:///bench?host=/tmp/pg&user=postgres`), empty, instead of
    /// SQLite: every instance gets it as AUTHENTIQ_DATABASE_URL, with one
    /// random AUTHENTIQ_MASTER_KEY (so the keys a run stores there open in
    /// no other run).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Server processes sharing the database (more than 1 needs
    /// --database-url; SQLite is one process).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// The PostgreSQL postmaster's pid (`.ci/bench` passes it): the CPU of
    /// it and its backends is reported per phase, beside the servers'.
    #[arg(long, value_name = "PID", requires = "database_url")]
    database_pid: Option<u32>,
    /// Devices to enrol; sign-in i uses device i mod N.
    #[arg(long, default_value_t = 64)]
    devices: usize,
    /// Enrolments in flight.
    #[arg(long, default_value_t = 8)]
    enrol_concurrency: usize,
    /// Unmeasured sign-ins first (at the lowest concurrency).
    #[arg(long, default_value_t = 32)]
    warmup: usize,
    /// Complete sign-ins per concurrency level.
    #[arg(long, default_value_t = 2000)]
    sign_ins: usize,
    /// Concurrent browsers, one phase each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    concurrency: Vec<usize>,
    /// Sign-ins, at the highest concurrency, whose browser waits for the
    /// approval on `/sign-in/{sid}/events` as the real page does (0: none).
    #[arg(long, default_value_t = 200)]
    events_sign_ins: usize,
    /// Each sign-in must complete within this many seconds.
    #[arg(long, default_value_t = 10)]
    flow_timeout_secs: u64,
    /// A sign-in phase stops after this many failures in a row.
    #[arg(long, default_value_t = 20)]
    max_failures_in_a_row: usize,
    /// `/token` refresh requests per client.
    #[arg(long, default_value_t = 5000)]
    token_requests: usize,
    /// `/token` workers per client, each with its own refresh-token chain:
    /// one phase per count (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    token_workers: Vec<usize>,
    /// `POST /introspect` requests (of one live access token), by as many
    /// workers as the first `--token-workers`; 0 skips the phase.
    #[arg(long, default_value_t = 20000)]
    introspections: usize,
    /// `GET` discovery, JWKS and userinfo requests, each; 0 skips them.
    #[arg(long, default_value_t = 20000)]
    get_requests: usize,
    /// Concurrent requests of the `GET` phases.
    #[arg(long, default_value_t = 8)]
    get_concurrency: usize,
    /// Also run oidc-provider (npm) and print the ratios side by side.
    #[arg(long)]
    peer: bool,
    /// The scratch folder for oidc-provider (installed there once).
    #[arg(long, default_value = "target/bench-peer")]
    peer_dir: PathBuf,
    /// Keep the server's data directory and log after the run.
    #[arg(long)]
    keep_data: bool,
}

/// Bytes of the SQLite files in `dir` (`*.db`, `*-wal`, `*-shm`, …).
fn db_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.contains(".db") || n.contains(".sqlite")
                })
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Bytes of the files under `dir` (a PostgreSQL data directory: tables, WAL, …).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// The configuration: two confidential clients and rate limits out of the way.
fn config_toml(rps: &[Rp]) -> String {
    let mut out = String::from(
        "# Written by bench-oidc.\n\
         [rate]\n\
         sign_ins_per_ip_per_minute = 1000000\n\
         pushes_per_key_per_minute = 1000000\n\
         wrong_numbers_per_key_per_hour = 1000000\n",
    );
    for rp in rps {
        out.push_str(&format!(
            "\n[[clients]]\n\
             client_id = \"{}\"\n\
             client_secret = \"{}\"\n\
             name = \"Bench RP ({})\"\n\
             redirect_uris = [\"{REDIRECT_URI}\"]\n\
             token_endpoint_auth_method = \"client_secret_basic\"\n\
             response_types = [\"code\"]\n\
             id_token_signed_response_alg = \"{}\"\n",
            rp.client_id, rp.secret, rp.alg, rp.alg
        ));
    }
    out
}

/// Stops a phase after too many failures in a row: the rest are skipped.
struct Breaker {
    in_a_row: AtomicUsize,
    max: usize,
    tripped: Mutex<Option<String>>,
}

impl Breaker {
    fn new(max: usize) -> Self {
        Self {
            in_a_row: AtomicUsize::new(0),
            max: max.max(1),
            tripped: Mutex::new(None),
        }
    }

    fn open(&self) -> bool {
        self.in_a_row.load(Ordering::Relaxed) >= self.max
    }

    fn record<T>(&self, r: &Result<T, String>) {
        match r {
            Ok(_) => self.in_a_row.store(0, Ordering::Relaxed),
            Err(e) => {
                if self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1 == self.max
                    && let Ok(mut t) = self.tripped.lock()
                {
                    *t = Some(format!("{} failures in a row, the last: {e}", self.max));
                }
            }
        }
    }

    fn why(&self) -> Option<String> {
        self.tripped.lock().ok().and_then(|t| t.clone())
    }
}

struct Ctx {
    args: Args,
    http: reqwest::Client,
    browsers: Arc<Browsers>,
    /// Refresh tokens from completed sign-ins, by client.
    refresh: Vec<Vec<String>>,
}

/// Runs `n` sign-ins at `concurrency`; records the phase unless `label` is `None`.
async fn sign_ins(
    ctx: &mut Ctx,
    servers: &Instances,
    label: &str,
    n: usize,
    concurrency: usize,
    wait: Wait,
) -> anyhow::Result<SignIns> {
    let breaker = Arc::new(Breaker::new(ctx.args.max_failures_in_a_row));
    let limit = Duration::from_secs(ctx.args.flow_timeout_secs);
    let mark = CpuMark::new(&servers.pids());
    let load = load::run(label, n, concurrency, {
        let (browsers, breaker) = (Arc::clone(&ctx.browsers), Arc::clone(&breaker));
        move |i| {
            let (browsers, breaker) = (Arc::clone(&browsers), Arc::clone(&breaker));
            async move {
                if breaker.open() {
                    return Err("skipped (the phase stopped)".to_string());
                }
                let r = match tokio::time::timeout(limit, browsers.sign_in(i, wait)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("not done within {} s", limit.as_secs())),
                };
                breaker.record(&r);
                r
            }
        }
    })
    .await?;
    let phase = mark.phase(label, &load);
    let mut steps: [Vec<Duration>; 6] = Default::default();
    for o in load.outcomes {
        if let Ok(Flow {
            rp,
            steps: s,
            refresh_token,
        }) = o.result
        {
            for (all, d) in steps.iter_mut().zip(s) {
                all.push(d);
            }
            if let Some(chain) = ctx.refresh.get_mut(rp) {
                chain.push(refresh_token);
            }
        }
    }
    for v in &mut steps {
        v.sort();
    }
    Ok(SignIns {
        phase,
        steps,
        aborted: breaker.why(),
    })
}

/// `n` introspections of one live access token of client 0, by
/// as many workers as the first `--token-workers` (request i at instance i mod N).
async fn introspections(ctx: &mut Ctx, servers: &Instances, n: usize) -> anyhow::Result<Phase> {
    let workers = first_workers(&ctx.args);
    let (client, access) = live_access_token(ctx).await?;
    let label = format!("POST /introspect ({}, c={workers})", client.alg);
    let urls = endpoint_urls(&ctx.browsers, "/introspect");
    let mark = CpuMark::new(&servers.pids());
    let load = load::run(&label, n, workers, {
        let (http, client, access) = (ctx.browsers.rp_http.clone(), client.clone(), access.clone());
        move |i| {
            let (http, client, access) = (http.clone(), client.clone(), access.clone());
            let url = urls[i % urls.len()].clone();
            async move {
                let res = http
                    .post(&url)
                    .basic_auth(&client.client_id, Some(&client.secret))
                    .form(&[("token", access.as_str())])
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                let status = res.status();
                let body = res.text().await.map_err(|e| request_error(&e))?;
                if status != StatusCode::OK || !body.contains("\"active\":true") {
                    return Err(format!("HTTP {} {body}", status.as_u16()));
                }
                Ok(())
            }
        }
    })
    .await?;
    Ok(mark.phase(&label, &load))
}

/// `path` on every instance.
fn endpoint_urls(browsers: &Browsers, path: &str) -> Vec<String> {
    browsers.urls.iter().map(|u| format!("{u}{path}")).collect()
}

/// The first `--token-workers` count (at least 1).
fn first_workers(args: &Args) -> usize {
    args.token_workers.first().copied().unwrap_or(8).max(1)
}

/// A live access token of client 0: a sign-in, then a refresh grant (at
/// the last instance).
async fn live_access_token(ctx: &mut Ctx) -> anyhow::Result<(Rp, String)> {
    let client = ctx
        .browsers
        .rps
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("no client"))?;
    let flow = tokio::time::timeout(
        Duration::from_secs(ctx.args.flow_timeout_secs),
        ctx.browsers.sign_in(0, Wait::Device),
    )
    .await
    .map_err(|_| anyhow!("the sign-in for an access token timed out"))?
    .map_err(|e| anyhow!("the sign-in for an access token: {e}"))?;
    let last = ctx.browsers.urls.last().unwrap_or(&ctx.browsers.public);
    let res = ctx
        .browsers
        .rp_http
        .post(format!("{last}/token"))
        .basic_auth(&client.client_id, Some(&client.secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", flow.refresh_token.as_str()),
        ])
        .send()
        .await
        .map_err(|e| anyhow!("refresh for an access token: {}", request_error(&e)))?;
    let body: serde_json::Value = res.json().await?;
    let access = body["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no access token: {body}"))?
        .to_string();
    Ok((client, access))
}

/// `n` refresh grants for client `rp` over `workers` rotating chains.
async fn tokens(
    ctx: &mut Ctx,
    servers: &Instances,
    rp: usize,
    n: usize,
    workers: usize,
) -> anyhow::Result<Tokens> {
    let workers = workers.max(1);
    let client = ctx
        .browsers
        .rps
        .get(rp)
        .cloned()
        .ok_or_else(|| anyhow!("no client {rp}"))?;
    // Enough chains: sign in more when the sign-in phases left too few.
    let mut extra = 0;
    let mut index = rp;
    while ctx.refresh.get(rp).map_or(0, Vec::len) < workers {
        if extra >= workers * 3 {
            bail!(
                "cannot get {workers} refresh tokens for {}: sign-ins keep failing",
                client.client_id
            );
        }
        extra += 1;
        let r = tokio::time::timeout(
            Duration::from_secs(ctx.args.flow_timeout_secs),
            ctx.browsers.sign_in(index, Wait::Device),
        )
        .await;
        index += ctx.browsers.rps.len();
        if let Ok(Ok(f)) = r
            && let Some(chain) = ctx.refresh.get_mut(f.rp)
        {
            chain.push(f.refresh_token);
        }
    }
    let chains: Vec<String> = ctx
        .refresh
        .get_mut(rp)
        .map(|c| c.drain(..workers).collect())
        .unwrap_or_default();
    let urls = endpoint_urls(&ctx.browsers, "/token");
    let pids = servers.pids();
    phases::refresh(&ctx.browsers.rp_http, &pids, &urls, &client, chains, n).await
}

fn mem(r: &mut Report, servers: &Instances, after: &str) -> anyhow::Result<()> {
    let db_bytes = match (&servers.backend, servers.data_dirs.first()) {
        (Backend::Sqlite, Some(dir)) => Some(db_bytes(dir)),
        // The postmaster runs in its data directory.
        (Backend::Postgres { .. }, _) => r
            .database_pid
            .map(|pid| tree_bytes(Path::new(&format!("/proc/{pid}/cwd")))),
        _ => None,
    };
    r.mem.push(Mem {
        after: after.into(),
        stats: servers.stats()?,
        db_bytes,
    });
    Ok(())
}

/// The issuer's Ed25519 key, as the app learns it: the OKP key in `/jwks`.
async fn issuer_key(
    http: &reqwest::Client,
    url: &str,
) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let jwks: serde_json::Value = http
        .get(format!("{url}/jwks"))
        .send()
        .await
        .context("GET /jwks")?
        .json()
        .await
        .context("GET /jwks: not JSON")?;
    let x = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kty"] == "OKP"))
        .and_then(|k| k["x"].as_str())
        .ok_or_else(|| anyhow!("no OKP key in /jwks"))?;
    let id: authentiq_protocol::AuthentiqId = x
        .parse()
        .map_err(|e| anyhow!("the OKP key in /jwks is not an Ed25519 key: {e}"))?;
    Ok(*id.verifying_key())
}

fn snapshot(a: &Approvers) -> Approvals {
    let s = &a.stats;
    let n = |v: &AtomicUsize| v.load(Ordering::Relaxed);
    Approvals {
        sign_in_events: n(&s.sign_in_events),
        other_events: n(&s.other_events),
        approved: n(&s.approved),
        unmatched: n(&s.unmatched),
        bad_events: n(&s.bad_events),
        answer_failed: n(&s.answer_failed),
        channels_lost: n(&s.channels_lost),
        answers_elsewhere: n(&s.answers_elsewhere),
        last_channel_error: a.last_channel_error.lock().ok().and_then(|e| e.clone()),
    }
}

async fn run(
    args: Args,
    servers: &mut Instances,
    http: reqwest::Client,
    rps: Vec<Rp>,
    r: &mut Report,
) -> anyhow::Result<()> {
    mem(r, servers, "start, empty database")?;
    let url = servers.public_url().to_string();
    let urls = servers.urls();
    let n = urls.len().max(1);
    let issuer_key = issuer_key(&http, &url).await?;
    let approvers = Arc::new(Approvers {
        http: http.clone(),
        public: url.clone(),
        urls: urls.clone(),
        next_answer: AtomicUsize::new(0),
        issuer_key,
        pending: Arc::new(Mutex::new(HashMap::new())),
        stats: Default::default(),
        last_channel_error: Mutex::new(None),
    });
    r.approvers = Some(Arc::clone(&approvers));

    println!(
        "==> enrolling {} devices ({} in flight{}): POST /key, POST /scope, code from the outbox, \
         POST /scope/{{job}}, GET the grant, PUT /key/{{PK}}, GET /channel",
        args.devices,
        args.enrol_concurrency,
        if n > 1 {
            ", device d wholly at instance d mod N"
        } else {
            ""
        }
    );
    let homes: Arc<Vec<_>> = Arc::new(
        servers
            .servers
            .iter()
            .zip(&servers.data_dirs)
            .map(|(s, dir)| (s.addr, s.url.clone(), Outbox::new(dir)))
            .collect(),
    );
    // Fresh addresses each run, should the database be used again.
    let tag = format!(
        "{:08x}",
        rand_core::RngCore::next_u32(&mut rand_core::OsRng)
    );
    let mark = CpuMark::new(&servers.pids());
    let load = load::run("enrol", args.devices, args.enrol_concurrency, {
        let (http, url, homes) = (http.clone(), url.clone(), Arc::clone(&homes));
        move |i| {
            let (http, url, homes) = (http.clone(), url.clone(), Arc::clone(&homes));
            let email = format!("device-{i}-{tag}@bench.example");
            async move {
                let home = i % homes.len();
                let (addr, at, outbox) = &homes[home];
                let device = Device::enrol(&http, (home, at), outbox, email).await?;
                // The token's audience is the public URL, wherever the channel is.
                let token = device.channel_auth(&url)?;
                let channel = Channel::open(*addr, &token, Duration::from_secs(10))
                    .await
                    .map_err(|e| format!("GET /channel: {e}"))?;
                Ok((device, channel))
            }
        }
    })
    .await?;
    r.enrol = Some(mark.phase(
        &format!("enrol device (c={})", args.enrol_concurrency),
        &load,
    ));
    let mut devices = Vec::new();
    for o in load.outcomes {
        if let Ok((device, channel)) = o.result {
            let device = Arc::new(device);
            approvers.spawn(Arc::clone(&device), channel);
            devices.push(device);
        }
    }
    if devices.is_empty() {
        bail!(
            "no device could be enrolled: {:?}",
            r.enrol.as_ref().map(|p| &p.errors)
        );
    }
    r.devices = devices.len();
    // Let the channels subscribe before the first push.
    tokio::time::sleep(Duration::from_millis(500)).await;
    mem(r, servers, "devices enrolled, channels open")?;

    let browser_http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("bench-oidc browser")
        .timeout(Duration::from_secs(args.flow_timeout_secs))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("cannot build the browsers' HTTP client")?;
    let rp_http = phases::rp_client()?;
    let n_rps = rps.len();
    let mut ctx = Ctx {
        browsers: Arc::new(Browsers {
            http: browser_http,
            rp_http,
            public: url.clone(),
            urls: urls.clone(),
            rps,
            devices,
            pending: Arc::clone(&approvers.pending),
            pushes_elsewhere: AtomicUsize::new(0),
            pushes: AtomicUsize::new(0),
        }),
        args,
        http,
        refresh: vec![Vec::new(); n_rps],
    };
    let levels: Vec<usize> = ctx
        .args
        .concurrency
        .iter()
        .copied()
        .filter(|c| *c > 0)
        .collect();
    let lowest = levels.iter().copied().min().unwrap_or(8);
    let highest = levels.iter().copied().max().unwrap_or(lowest);

    if ctx.args.warmup > 0 {
        println!("==> warm-up: {} sign-ins (c={lowest})", ctx.args.warmup);
        let (label, n) = (format!("sign-in warm-up (c={lowest})"), ctx.args.warmup);
        let s = sign_ins(&mut ctx, servers, &label, n, lowest, Wait::Device).await?;
        r.sign_ins.push(s);
    }
    for &c in &levels {
        println!(
            "==> {} complete sign-ins, {c} browsers at a time (RS256 and EdDSA clients alternating)",
            ctx.args.sign_ins
        );
        let (label, n) = (format!("sign-in, full flow (c={c})"), ctx.args.sign_ins);
        let s = sign_ins(&mut ctx, servers, &label, n, c, Wait::Device).await?;
        r.sign_ins.push(s);
        mem(r, servers, &format!("sign-ins c={c}"))?;
        if let Some(status) = servers.exit_status() {
            bail!("the server exited during the sign-ins ({status})");
        }
    }
    if ctx.args.events_sign_ins > 0 {
        println!(
            "==> {} sign-ins, {highest} browsers at a time, each waiting on /sign-in/{{sid}}/events like the page",
            ctx.args.events_sign_ins
        );
        let label = format!("sign-in, page waits on /events (c={highest})");
        let n = ctx.args.events_sign_ins;
        let s = sign_ins(&mut ctx, servers, &label, n, highest, Wait::Events).await?;
        r.sign_ins.push(s);
        mem(r, servers, &format!("sign-ins via /events c={highest}"))?;
    }

    if ctx.args.get_requests > 0 {
        let (n, c) = (ctx.args.get_requests, ctx.args.get_concurrency.max(1));
        println!(
            "==> GET discovery, JWKS, userinfo (a live access token) × {n} each ({c} at a time)"
        );
        let ep = Endpoints::discover(&ctx.http, &url).await?;
        let eps: Vec<Endpoints> = urls.iter().map(|u| ep.on(&url, u)).collect();
        let (_, access) = live_access_token(&mut ctx).await?;
        let pids = servers.pids();
        r.gets = phases::gets(&ctx.browsers.rp_http, &pids, &eps, &access, n, c).await?;
        mem(r, servers, "GETs")?;
        if let Some(status) = servers.exit_status() {
            bail!("the server exited during the GET phases ({status})");
        }
    }
    let worker_counts = ctx.args.token_workers.clone();
    for rp in 0..n_rps {
        let alg = ctx.browsers.rps.get(rp).map_or("?", |c| c.alg);
        for &workers in &worker_counts {
            println!(
                "==> POST /token × {} (refresh grant, {alg} ID tokens, {workers} workers with their own chains)",
                ctx.args.token_requests
            );
            let n = ctx.args.token_requests;
            let t = tokens(&mut ctx, servers, rp, n, workers).await?;
            r.tokens.push(t);
            mem(r, servers, &format!("/token refresh {alg} c={workers}"))?;
            if let Some(status) = servers.exit_status() {
                bail!("the server exited during the /token phase ({status})");
            }
        }
    }
    if ctx.args.introspections > 0 {
        println!(
            "==> POST /introspect × {} ({} workers, one live access token)",
            ctx.args.introspections,
            first_workers(&ctx.args)
        );
        let n = ctx.args.introspections;
        r.introspection = Some(introspections(&mut ctx, servers, n).await?);
        mem(r, servers, "/introspect")?;
    }
    let b = &ctx.browsers;
    r.pushes = b.pushes.load(Ordering::Relaxed);
    r.pushes_elsewhere = b.pushes_elsewhere.load(Ordering::Relaxed);
    // Every instance healthy at the end?
    for (i, u) in urls.iter().enumerate() {
        let res = ctx
            .http
            .get(format!("{u}/healthz"))
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "GET /healthz of instance {i} after the run: {}",
                    request_error(&e)
                )
            })?;
        expect_status(res, StatusCode::OK)
            .await
            .map_err(|e| anyhow!("GET /healthz of instance {i} after the run: {e}"))?;
    }
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
    if args.devices == 0 {
        bail!("--devices must be at least 1");
    }
    if args.instances == 0 {
        bail!("--instances must be at least 1");
    }
    let backend = match &args.database_url {
        None if args.instances > 1 => bail!(
            "--instances {} needs --database-url postgres://… (SQLite is one server process)",
            args.instances
        ),
        None => Backend::Sqlite,
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Backend::Postgres { url: url.clone() }
        }
        Some(url) => bail!(
            "--database-url must be a postgres:// URL, not {}",
            instances::redacted(url)
        ),
    };
    let server_bin = std::fs::canonicalize(&args.server)
        .with_context(|| format!("no server binary at {}", args.server.display()))?;
    // Each device channel holds a socket on both sides.
    let need = args.devices as u64 * 2 + 1024;
    let nofile = rlimit::increase_nofile_limit(need).unwrap_or(0);
    if nofile < need {
        println!("note: the open-file limit is {nofile}; this run may need about {need}");
    }
    // The peer is installed first: a missing node or npm fails the run at once.
    let peer_node = if args.peer {
        let dir = args.peer_dir.clone();
        Some(
            tokio::task::spawn_blocking(move || peer::install(&dir))
                .await
                .context("the peer's installation panicked")??,
        )
    } else {
        None
    };
    let data = tempfile::Builder::new()
        .prefix("bench-oidc-")
        .tempdir()
        .context("cannot make a temporary data directory")?;
    let rps = vec![
        Rp {
            client_id: "bench-rs256".into(),
            secret: flow::random_b64(32),
            alg: "RS256",
        },
        Rp {
            client_id: "bench-eddsa".into(),
            secret: flow::random_b64(32),
            alg: "EdDSA",
        },
    ];
    let config = data.path().join("bench-oidc.toml");
    std::fs::write(&config, config_toml(&rps))
        .with_context(|| format!("cannot write {}", config.display()))?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")?;
    let storage = match &backend {
        Backend::Sqlite => format!(
            "default SQLite (WAL, synchronous=FULL, one writer) in fresh {}",
            data.path().join("instance-0").display()
        ),
        Backend::Postgres { url } => format!(
            "PostgreSQL at {} shared by {} instance(s) (one master key; fan-out over LISTEN/NOTIFY), \
             each instance's own data directory under {}",
            instances::redacted(url),
            args.instances,
            data.path().display()
        ),
    };
    let mut report = Report {
        server_bin: args.server.display().to_string(),
        backend: backend.name().to_string(),
        storage,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg_start: loadavg(),
        flow_timeout: Duration::from_secs(args.flow_timeout_secs),
        ..Report::default()
    };
    println!(
        "==> starting {} × {} on {} --config {} (data in {})",
        args.instances,
        server_bin.display(),
        backend.name(),
        config.display(),
        data.path().display()
    );
    let keep_data = args.keep_data;
    let peer_plan = match (peer_node, rps.first()) {
        (Some(node), Some(client)) => Some(peer::Plan {
            dir: std::fs::canonicalize(&args.peer_dir).unwrap_or_else(|_| args.peer_dir.clone()),
            node,
            client: client.clone(),
            get_requests: args.get_requests,
            get_concurrency: args.get_concurrency.max(1),
            token_requests: args.token_requests,
            token_workers: args.token_workers.clone(),
        }),
        _ => None,
    };
    // From here on the servers are killed when `servers` is dropped, on every path.
    let count = args.instances;
    let started = tokio::select! {
        r = Instances::start(&server_bin, data.path(), &config, backend, count, &http) => r,
        why = interrupted() => Err(anyhow!("interrupted by {why}")),
    };
    let mut servers = started?;
    report.instances = servers
        .servers
        .iter()
        .map(|s| (s.pid, s.url.clone()))
        .collect();
    report.database_pid = args.database_pid;
    instances::watch_database(args.database_pid);
    let outcome = tokio::select! {
        r = run(args, &mut servers, http, rps, &mut report) => r,
        why = interrupted() => Err(anyhow!("interrupted by {why}")),
    };
    instances::watch_database(None);
    report.loadavg_end = loadavg();
    report.client_at_end = ProcStat::read(std::process::id()).unwrap_or_default();
    if let Some(a) = &report.approvers {
        report.approvals = snapshot(a);
    }
    let early_exit = servers.stop();
    let log = servers.log_summary();
    if let Err(e) = &outcome {
        println!("\nthe benchmark failed: {e:#}");
        println!("server log ends:\n{}", servers.log_tails(20));
    }
    // The peer after ours has stopped, so neither runs beside the other.
    let mut outcome = outcome;
    if let Some(plan) = peer_plan.as_ref().filter(|_| outcome.is_ok()) {
        let mut p = PeerReport {
            name: format!(
                "{} {} on Node.js {}",
                peer::PACKAGE,
                peer::VERSION,
                plan.node
            ),
            ..PeerReport::default()
        };
        let result = tokio::select! {
            r = peer::run(plan, &mut p) => r,
            why = interrupted() => Err(anyhow!("interrupted by {why}")),
        };
        if let Err(e) = &result {
            println!("\nthe peer run failed: {e:#}");
            p.failed = Some(format!("{e:#}"));
        }
        report.loadavg_end = loadavg();
        report.peer = Some(p);
        outcome = result;
    }
    summary::print(&report, &log, early_exit.as_deref());
    if keep_data {
        let kept = data.keep();
        println!("data directory and server log kept in {}", kept.display());
    } else {
        println!("(the data directory and server log are deleted; pass --keep-data to keep them)");
    }
    outcome
}
