//! `authentiq-server`: parse the command line and configuration, set up
//! logging, serve.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use authentiq_server::config::Config;
use authentiq_server::keys::IssuerKeys;
use authentiq_server::oidc::keys::{DEFAULT_PUBLISH_AHEAD, KeyState, OidcKeys};
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
    /// Manage the signing keys: the issuer's Ed25519 keys (also the EdDSA
    /// ID token keys) and the OpenID Connect RS256 and ES256 keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Make new signing keys; older keys keep verifying what they signed.
    ///
    /// The new issuer (Ed25519, EdDSA) key signs once the server restarts.
    /// The new RS256 and ES256 keys are published once the server restarts
    /// and sign from --publish-ahead seconds after now; the keys they
    /// replace stay published until the ID tokens they signed have expired.
    Rotate {
        /// Seconds between now and when the new RS256/ES256 keys start
        /// signing. Restart the server well within this time, so relying
        /// parties (which cache the key set for 5 minutes) see them first.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_PUBLISH_AHEAD.unsigned_abs())]
        publish_ahead: u64,
    },
    /// List the keys with their algorithm, id and state: active (signs),
    /// published-only (will sign), retiring (verifies what it signed).
    List,
}

fn now() -> i64 {
    authentiq_server::clock::Clock::default().now()
}

/// A timestamp as RFC 3339, for people.
fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
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
            let now = now();
            let dir = &config.data_dir;
            let issuer = match action {
                KeysAction::Rotate { publish_ahead } => {
                    let publish_ahead =
                        i64::try_from(publish_ahead).context("--publish-ahead is too large")?;
                    let issuer = IssuerKeys::rotate(dir, now)?;
                    OidcKeys::rotate(dir, now, publish_ahead)?;
                    println!(
                        "Rotated. Restart the server to publish the new keys; the new issuer \
                         key signs from the restart, the new RS256 and ES256 keys from {}.\n",
                        date(now.saturating_add(publish_ahead))
                    );
                    issuer
                }
                KeysAction::List => IssuerKeys::load_or_create(dir, now)?,
            };
            let keys = OidcKeys::load_or_create(dir, &issuer, now)?;
            for k in keys.list(now) {
                let state = match k.state {
                    KeyState::PublishedOnly { signs_from } => {
                        format!("{} (signs from {})", k.state, date(signs_from))
                    }
                    KeyState::Retiring {
                        published_until: Some(t),
                    } => format!("{} (published until {})", k.state, date(t)),
                    KeyState::Retiring {
                        published_until: None,
                    } => format!("{} (verifies as long as it is kept)", k.state),
                    KeyState::Active | KeyState::Expired => k.state.to_string(),
                };
                println!("{:<5}  {}  {state}", k.alg, k.kid);
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
