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
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start
enum ClientAction {
    /// Register a client and print its id and secret (the secret only this once).
    ///
    /// Example: authentiq-server client add --name "My Shop" --redirect-uri https://shop.example/oidc/callback
    Add {
        /// Shown to people on the sign-in page.
        #[arg(long)]
        name: String,
        /// Where sign-ins return to; exact match. Repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A client that cannot keep a secret (browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// ID token algorithm: RS256, ES256 or EdDSA (HS256 clients go in the configuration file).
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// `sub` per client (pairwise, the default) or the user's Authentiq ID (public).
        #[arg(long, default_value = "pairwise", value_parser = ["pairwise", "public"])]
        subject: String,
        /// Allowed response types; repeat for several (default: code).
        #[arg(long = "response-type")]
        response_types: Vec<String>,
        #[arg(long)]
        client_uri: Option<String>,
        #[arg(long)]
        logo_uri: Option<String>,
        /// Choose the client_id instead of a random one.
        #[arg(long)]
        id: Option<String>,
        /// Where the user may be sent after signing out (RP-initiated logout); repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where logout tokens are POSTed when a user's session ends (back-channel logout).
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// A confidential client that cannot send PKCE (legacy): let it sign in without.
        #[arg(long)]
        no_pkce: bool,
    },
    /// List the stored clients.
    List,
    /// Remove a stored client.
    Remove { client_id: String },
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
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), not a backtrace.
            eprintln!("authentiq-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)] // `keys` prints its listing
async fn run() -> anyhow::Result<()> {
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
        Command::Client { action } => client_command(&config, action),
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

#[allow(clippy::print_stdout)] // the point of these commands is their output
fn client_command(config: &Config, action: ClientAction) -> anyhow::Result<()> {
    use authentiq_server::oidc::clients::{AuthMethod, Client, SubjectType};
    use authentiq_server::secrets;
    use authentiq_server::store::{SqliteStore, Store};

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store = SqliteStore::open(&config.data_dir.join(authentiq_server::state::DB_FILE))
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    match action {
        ClientAction::Add {
            name,
            redirect_uris,
            public,
            alg,
            subject,
            response_types,
            client_uri,
            logo_uri,
            id,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            no_pkce,
        } => {
            let secret = (!public).then(secrets::new_secret);
            let client = Client {
                client_id: id.unwrap_or_else(secrets::new_job_id),
                client_secret: None,
                client_secret_sha256: secret.as_deref().map(secrets::hash_secret_b64),
                name,
                redirect_uris,
                client_uri,
                logo_uri,
                token_endpoint_auth_method: if public {
                    AuthMethod::None
                } else {
                    AuthMethod::ClientSecretBasic
                },
                response_types: if response_types.is_empty() {
                    vec!["code".into()]
                } else {
                    response_types
                },
                id_token_signed_response_alg: alg,
                subject_type: if subject == "public" {
                    SubjectType::Public
                } else {
                    SubjectType::Pairwise
                },
                post_logout_redirect_uris,
                backchannel_logout_session_required: backchannel_logout_uri.is_some(),
                backchannel_logout_uri,
                require_pkce: !no_pkce,
            };
            client.validate().map_err(|e| anyhow::anyhow!(e))?;
            if config
                .clients
                .iter()
                .any(|c| c.client_id == client.client_id)
            {
                anyhow::bail!(
                    "the configuration file already has a client {}",
                    client.client_id
                );
            }
            let data = serde_json::to_string(&client)?;
            store
                .insert_client(&client.client_id, &data, now())
                .map_err(|e| anyhow::anyhow!("cannot add the client: {e}"))?;
            println!("client_id:     {}", client.client_id);
            match secret {
                Some(s) => println!(
                    "client_secret: {s}\n\nKeep the secret now: it is not shown again (only its hash is stored)."
                ),
                None => println!("public client: no secret; it must use PKCE (S256)."),
            }
        }
        ClientAction::List => {
            for c in &config.clients {
                println!("{}  {}  (configuration file)", c.client_id, c.name);
            }
            for (id, data) in store.list_clients().map_err(|e| anyhow::anyhow!("{e}"))? {
                let c: Client = serde_json::from_str(&data)?;
                println!("{id}  {}  {}", c.name, c.redirect_uris.join(" "));
            }
        }
        ClientAction::Remove { client_id } => {
            store
                .delete_client(&client_id)
                .map_err(|e| anyhow::anyhow!("cannot remove {client_id}: {e}"))?;
            println!("removed {client_id}");
        }
    }
    Ok(())
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
