//! `authentiq-server`: parse the command line and configuration, set up
//! logging, serve.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use authentiq_server::config::Config;
use authentiq_server::keys::IssuerKeys;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

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
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Manage the issuer keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Make a new signing key; older keys keep verifying what they signed.
    /// Restart the server to start signing with it.
    Rotate,
    /// List the keys.
    List,
}

fn now() -> i64 {
    authentiq_server::clock::Clock::default().now()
}

#[tokio::main]
#[allow(clippy::print_stdout)] // `keys` prints its listing
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
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
        Command::Keys { action } => {
            let keys = match action {
                KeysAction::Rotate => IssuerKeys::rotate(&config.data_dir, now())?,
                KeysAction::List => IssuerKeys::load_or_create(&config.data_dir, now())?,
            };
            for k in keys.public_keys() {
                let mark = if k.kid == keys.active_kid() {
                    "active"
                } else {
                    "verify-only"
                };
                println!("{}  {mark}", k.kid);
            }
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    tracing::info!(?config, "starting");
    let state = authentiq_server::AppState::open(config)?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "authentiq-server listening");
    authentiq_server::serve(listener, state, shutdown_signal())
        .await
        .context("server failed")?;
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
