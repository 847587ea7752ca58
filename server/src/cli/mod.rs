//! The `authentiq-server` command line: `serve` (the default), `keys`,
//! `client` and `account`. `main` only calls [`main`]; each group of
//! commands has its module.

mod account;
mod client;
mod keys;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::config::Config;

pub use account::AccountAction;
pub use client::ClientAction;
pub use keys::KeysAction;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Authentiq server: issuer API, device channel and OpenID Connect provider",
    after_help = "Configuration is read from defaults, then --config FILE (TOML), then AUTHENTIQ_* \
                  environment variables (nested keys with __, e.g. AUTHENTIQ_EMAIL__SMTP_URL), then \
                  the flags below.\n\nExamples:\n  authentiq-server\n  authentiq-server --listen \
                  0.0.0.0:8080 --public-url https://id.example.com\n  authentiq-server keys rotate"
)]
struct Cli {
    /// A TOML configuration file.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// The URL clients reach this server at.
    #[arg(long, global = true)]
    public_url: Option<String>,
    /// Where the database, keys and outbox live.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Manage the signing keys: the issuer's Ed25519 keys (also the EdDSA
    /// ID token keys) and the OpenID Connect RS256 and ES256 keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage OpenID Connect clients (relying parties) kept in the database.
    /// Clients can also be listed in the configuration file (`[[clients]]`).
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Manage accounts (the people who own clients and run the server).
    /// The first admin: `echo "$PASSWORD" | authentiq-server account add --email you@example.com --role admin`.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
}

/// Runs the command line; the process's exit code.
pub async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), not a backtrace.
            eprintln!("authentiq-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref());
    // An invalid configuration is reported in text (on standard error).
    crate::logging::init(config.as_ref().map(|c| c.log_format).unwrap_or_default());
    let mut config = config.context("invalid configuration")?;
    if let Some(l) = cli.listen {
        config.listen = l;
        if cli.public_url.is_none() && std::env::var_os("AUTHENTIQ_PUBLIC_URL").is_none() {
            config.public_url = format!("http://{l}");
        }
    }
    if let Some(u) = cli.public_url {
        config.public_url = u;
    }
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Client { action } => client::run(&config, action),
        Command::Keys { action } => keys::run(&config, action).await,
        Command::Account { action } => account::run(&config, action).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    tracing::info!(?config, "starting");
    let state = crate::AppState::open(config)?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "authentiq-server listening");
    let metrics = match state.config.metrics_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (metrics_listen)"))?;
            tracing::info!(addr = %l.local_addr()?, "metrics listening");
            let serving = crate::serve_metrics(l, state.clone(), std::future::pending());
            Some(tokio::spawn(serving))
        }
        None => None,
    };
    let served = crate::serve(listener, state, shutdown_signal()).await;
    if let Some(m) = metrics {
        m.abort();
    }
    served.context("server failed")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, so service and container stops are graceful.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The key material of the configured database.
pub(super) fn open_vault(config: &Config) -> anyhow::Result<crate::keys::Vault> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store =
        crate::store::open(config).map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    crate::keys::Vault::open(config, store)
}

pub(super) fn now() -> i64 {
    crate::clock::Clock::default().now()
}

/// A timestamp as RFC 3339, for people.
pub(super) fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}
