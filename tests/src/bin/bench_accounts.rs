//! `bench-accounts`: the accounts API under load, against the real
//! (release-built) server process on its default SQLite storage in a fresh
//! temporary data directory, over loopback only.
//!
//! 1. `POST /authentiq/v1/user/register` (an Argon2id hash each);
//! 2. `POST /authentiq/v1/user/login` (an Argon2id verification and a
//!    stored session each);
//! 3. `GET /authentiq/v1/validate/token` (a signature check, the session
//!    and the account read each).
//!
//! Run it with `bash .ci/bench accounts`; it is a command, not a test.
#![allow(clippy::print_stdout)]

#[allow(dead_code)]
#[path = "bench_issuer/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "bench_issuer/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "bench_issuer/server.rs"]
mod server;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};

use report::{CpuMark, Phase, print_phase_header, print_phase_row};
use server::{Server, loadavg, request_error};

#[derive(Debug, Parser)]
#[command(
    about = "Benchmark the Authentiq accounts API: registrations, logins and token validations"
)]
struct Args {
    /// The server binary to start (release build).
    #[arg(long)]
    server: PathBuf,
    /// Accounts to register (each is then logged in to).
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Logins, spread over the accounts.
    #[arg(long, default_value_t = 400)]
    logins: usize,
    /// Token validations.
    #[arg(long, default_value_t = 20_000)]
    validations: usize,
    /// Requests in flight at a time.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

const PASSWORD: &str = "a benchmark password, long enough";

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
    let data = tempfile::tempdir().context("a data directory")?;
    let config = data.path().join("bench.toml");
    // No limit the benchmark would hit: it measures the work, not the brakes.
    std::fs::write(
        &config,
        "[accounts]\nlogin_failures_per_account = 1000000\nlogin_failures_per_ip = 1000000\nregistrations_per_ip_per_hour = 1000000\n",
    )?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let mut server = Server::start_with(
        &args.server,
        data.path(),
        &[OsStr::new("--config"), config.as_os_str()],
        &http,
    )
    .await?;
    let url = server.url.clone();
    let load_start = loadavg();
    let c = args.concurrency.max(1);
    let api = Arc::new(format!("{url}/authentiq/v1"));
    let email = |i: usize| format!("bench{i}@example.com");

    println!("==> register × {} (c={c})", args.accounts);
    let mark = CpuMark::new(server.pid);
    let register = load::run("POST user/register", args.accounts, c, {
        let (http, api) = (http.clone(), Arc::clone(&api));
        move |i| {
            let (http, api) = (http.clone(), Arc::clone(&api));
            async move {
                let res = http
                    .post(format!("{api}/user/register"))
                    .json(&json!({ "email": email(i), "password": PASSWORD }))
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                (res.status() == StatusCode::CREATED)
                    .then_some(())
                    .ok_or_else(|| format!("HTTP {}", res.status().as_u16()))
            }
        }
    })
    .await?;
    let register = Phase::from_load("POST user/register", &register, mark.since());

    println!("==> login × {} (c={c})", args.logins);
    let accounts = args.accounts.max(1);
    let mark = CpuMark::new(server.pid);
    let login = load::run("POST user/login", args.logins, c, {
        let (http, api) = (http.clone(), Arc::clone(&api));
        move |i| {
            let (http, api) = (http.clone(), Arc::clone(&api));
            async move {
                let res = http
                    .post(format!("{api}/user/login"))
                    .json(&json!({ "email": email(i % accounts), "password": PASSWORD }))
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                if res.status() != StatusCode::OK {
                    return Err(format!("HTTP {}", res.status().as_u16()));
                }
                let body: Value = res.json().await.map_err(|e| request_error(&e))?;
                body["token"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "no token".to_string())
            }
        }
    })
    .await?;
    let tokens: Arc<Vec<String>> = Arc::new(
        login
            .outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().ok().cloned())
            .collect(),
    );
    let login = Phase::from_load("POST user/login", &login, mark.since());
    if tokens.is_empty() {
        bail!("no login succeeded");
    }

    println!("==> validate/token × {} (c={c})", args.validations);
    let mark = CpuMark::new(server.pid);
    let validate = load::run("GET validate/token", args.validations, c, {
        let (http, api, tokens) = (http.clone(), Arc::clone(&api), Arc::clone(&tokens));
        move |i| {
            let (http, api, tokens) = (http.clone(), Arc::clone(&api), Arc::clone(&tokens));
            async move {
                let token = &tokens[i % tokens.len()];
                let res = http
                    .get(format!("{api}/validate/token"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| request_error(&e))?;
                (res.status() == StatusCode::OK)
                    .then_some(())
                    .ok_or_else(|| format!("HTTP {}", res.status().as_u16()))
            }
        }
    })
    .await?;
    let validate = Phase::from_load("GET validate/token", &validate, mark.since());

    let exit = server.stop();
    println!();
    println!("server       {} at {url}", args.server.display());
    println!("passwords    {}", authentiq_server_params());
    println!(
        "machine      {} CPU(s) shared by client and server; load average {load_start} at start, {} at end",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg()
    );
    println!();
    print_phase_header(24, 110);
    for p in [&register, &login, &validate] {
        print_phase_row(p, 24);
    }
    if let Some(status) = exit {
        println!("\nthe server exited with {status}");
    }
    Ok(())
}

/// The Argon2id parameters the server hashes with.
fn authentiq_server_params() -> &'static str {
    "Argon2id m=19456 KiB, t=2, p=1 (OWASP; server/src/accounts/password.rs)"
}
