//! `authentiq-server client …`: clients kept in the database.

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;

use super::now;

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start
pub enum ClientAction {
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
    /// Mint an initial access token for `POST /client` (with
    /// `registration = "token"`); printed once, stored hashed.
    Token {
        /// How many registrations it allows.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it lives, in seconds.
        #[arg(long, default_value_t = 86400)]
        ttl: i64,
    },
    /// Remove a stored client.
    Remove { client_id: String },
}

#[allow(clippy::print_stdout)] // the point of these commands is their output
pub fn run(config: &Config, action: ClientAction) -> anyhow::Result<()> {
    use crate::oidc::clients::{AuthMethod, Client, SubjectType};
    use crate::secrets;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store =
        crate::store::open(config).map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
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
                ..Client::default()
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
                .insert_client(&client.client_id, &data, None, now())
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
        ClientAction::Token { uses, ttl } => {
            if uses == 0 || ttl <= 0 {
                anyhow::bail!("--uses and --ttl must be positive");
            }
            let token = secrets::new_secret();
            let now = now();
            store
                .insert_initial_access_token(
                    &secrets::hash_secret_b64(&token),
                    uses,
                    now,
                    now + ttl,
                )
                .map_err(|e| anyhow::anyhow!("cannot store the token: {e}"))?;
            println!("{token}");
            eprintln!(
                "An initial access token for {uses} client registration(s), valid for {ttl} s. \
                 Send it as Authorization: Bearer to POST /client; it is not shown again."
            );
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
