//! Typed configuration: defaults, then a TOML file, then `AUTHENTIQ_*`
//! environment variables (nested keys with `__`, e.g.
//! `AUTHENTIQ_EMAIL__SMTP_URL`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The URL clients reach this server at: the issuer of tokens and the
    /// audience of channel-auth JWTs. No trailing slash.
    pub public_url: String,
    /// Where the SQLite database, keys and outbox live.
    pub data_dir: PathBuf,
    /// `postgres://user:password@host/db` (or `postgresql://…`): keep
    /// everything in PostgreSQL, shared by any number of instances, instead
    /// of the SQLite file in `data_dir`. Unset (the default): SQLite.
    /// Never logged (it may hold the password).
    pub database_url: Option<String>,
    /// A file holding the master key that seals the key material in the
    /// database (32 bytes, base64 or hex; `openssl rand -base64 32`).
    /// Every instance on one database needs the same one.
    pub master_key_file: Option<PathBuf>,
    /// The master key itself (set it as `AUTHENTIQ_MASTER_KEY`). Neither
    /// set: a single server on SQLite generates `<data_dir>/keys/master.key`.
    pub master_key: Option<String>,
    pub limits: Limits,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub rate: RateLimits,
    /// External signing authorities that may `PUT /scope/{job}`.
    pub authorities: Vec<Authority>,
    /// OpenID Connect clients (more can be added with `client add`).
    pub clients: Vec<crate::oidc::clients::Client>,
    /// Serve the demo relying party at `/demo`.
    pub demo: bool,
    /// Reverse proxies (CIDRs or addresses) whose forwarding header names
    /// the client: only requests from these peers have it believed. Empty
    /// (the default): the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The header those proxies write: `x-forwarded-for` (the default) or
    /// `forwarded` (RFC 7239). Only this one is read.
    pub client_ip_header: crate::security::client_ip::ForwardedHeader,
    pub oidc: OidcConfig,
    pub accounts: AccountsConfig,
    pub sdk: SdkConfig,
    /// Who may register clients at `POST /client`: `account` (the default:
    /// with an account token; the client belongs to that account), `token`
    /// (an initial access token from `authentiq-server client token`, or an
    /// account token), or `open` (anyone; rate-limited per address).
    pub registration: RegistrationMode,
    /// Several devices per ID: linking and recovery.
    pub devices: crate::devices::DevicesConfig,
    /// Serve `GET /metrics` only on this address (e.g. `127.0.0.1:9100`),
    /// where the main listener answers 404 for it. Unset (the default): on
    /// the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// `text` (the default) or `json` (one JSON object a line, for log
    /// shippers).
    pub log_format: crate::logging::LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    #[default]
    Account,
    Token,
    Open,
}

/// SDK tokens (seed 003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SdkConfig {
    /// How long a minted token may be used.
    pub token_ttl_secs: i64,
    /// Tokens one client may mint per minute.
    pub mints_per_client_per_minute: u32,
}

impl Default for SdkConfig {
    fn default() -> Self {
        Self {
            token_ttl_secs: 600,
            mints_per_client_per_minute: 60,
        }
    }
}

/// Accounts (seed 004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// The role of a newly registered account: `user`, or `guest` (an
    /// admin must then make it a user before it can own clients).
    pub default_role: crate::accounts::Role,
    /// How long an account token lives.
    pub token_ttl_secs: i64,
    /// Failed logins per account, and per client address, within
    /// `login_window_secs`, before logins are refused (429).
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_window_secs: u64,
    /// Accounts registered per client address per hour.
    pub registrations_per_ip_per_hour: u32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            default_role: crate::accounts::Role::User,
            token_ttl_secs: 3600,
            login_failures_per_account: 5,
            login_failures_per_ip: 20,
            login_window_secs: 900,
            registrations_per_ip_per_hour: 20,
        }
    }
}

/// OpenID Connect provider settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Client-Initiated Backchannel Authentication (CIBA, poll and ping).
    pub ciba: bool,
    /// The device authorization grant (RFC 8628) at `/device`.
    pub device_authorization: bool,
    /// Pushed authorization requests (RFC 9126).
    pub par: bool,
    /// DPoP-bound tokens (RFC 9449).
    pub dpop: bool,
    /// DPoP proofs must carry a nonce from the server (`DPoP-Nonce`).
    pub dpop_require_nonce: bool,
    /// Seconds after a refresh token is rotated during which the same
    /// client presenting it again gets the same new tokens instead of
    /// having the whole family revoked as a reuse (a response lost to a
    /// network failure or a crash is then not fatal). 0, the default, is
    /// strict rotation as RFC 9700 §4.14 recommends: a longer grace gives a
    /// thief who replays a stolen token within it the same new tokens.
    pub refresh_reuse_grace_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            ciba: true,
            device_authorization: true,
            par: true,
            dpop: true,
            dpop_require_nonce: false,
            refresh_reuse_grace_secs: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            master_key_file: None,
            master_key: None,
            limits: Limits::default(),
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
            rate: RateLimits::default(),
            authorities: Vec::new(),
            clients: Vec::new(),
            demo: false,
            trusted_proxies: Vec::new(),
            client_ip_header: Default::default(),
            oidc: OidcConfig::default(),
            accounts: AccountsConfig::default(),
            sdk: SdkConfig::default(),
            registration: RegistrationMode::default(),
            devices: Default::default(),
            metrics_listen: None,
            log_format: Default::default(),
        }
    }
}

/// Bounds on what one request may cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Largest JWT accepted anywhere, in bytes.
    pub jwt_bytes: usize,
    /// Total size of all request headers, in bytes.
    pub header_bytes: usize,
    /// Most request headers.
    pub header_count: usize,
    /// Seconds before an ordinary (non-streaming) request is answered 408.
    pub request_timeout_secs: u64,
    /// Allowed clock skew for JWT time claims, in seconds.
    pub jwt_leeway_secs: i64,
    /// Longest lifetime (`exp - iat`) accepted on a self-signed action JWT.
    pub jwt_max_lifetime_secs: i64,
    /// Sign-in status streams one client address may hold open at once.
    pub event_streams_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 64 * 1024,
            jwt_bytes: 8 * 1024,
            header_bytes: 16 * 1024,
            header_count: 64,
            request_timeout_secs: 30,
            jwt_leeway_secs: 60,
            jwt_max_lifetime_secs: 3600,
            event_streams_per_ip: 32,
        }
    }
}

/// How verification codes reach an email address.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `outbox` (files in `<data_dir>/outbox`, the default) or `smtp`.
    pub mode: DeliveryMode,
    /// e.g. `smtps://user:password@mail.example.com` or
    /// `smtp://localhost:25` (see lettre's `from_url`).
    pub smtp_url: Option<String>,
    /// The From address.
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            mode: DeliveryMode::Outbox,
            smtp_url: None,
            from: "Authentiq <no-reply@localhost>".into(),
        }
    }
}

/// How verification codes reach a phone.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// `outbox` (the default) or `webhook`.
    pub mode: DeliveryMode,
    /// The webhook receives `POST {"to": "+31…", "text": "…"}`.
    pub webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer <token>` to the webhook.
    pub webhook_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    #[default]
    Outbox,
    Smtp,
    Webhook,
}

/// Abuse limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Claim-verification jobs per address or number per window.
    pub scope_per_address: u32,
    /// The window for `scope_per_address`, in seconds.
    pub scope_window_secs: u64,
    /// Wrong codes before a job (or a revocation code) is cancelled.
    pub code_attempts: u32,
    /// Pushes (`POST /login`, sign-in pages) per key per minute.
    pub pushes_per_key_per_minute: u32,
    /// Sign-in sessions started per client IP per minute.
    pub sign_ins_per_ip_per_minute: u32,
    /// Wrong numbers picked per key per hour before its sign-ins are refused.
    pub wrong_numbers_per_key_per_hour: u32,
    /// Client registrations (`POST /client`) per client address per hour.
    pub registrations_per_ip_per_hour: u32,
    /// Device codes entered at `/device` per client address per minute
    /// (RFC 8628 §5.1: user codes are short, so guesses are counted).
    pub device_codes_per_ip_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            scope_per_address: 5,
            scope_window_secs: 3600,
            code_attempts: 5,
            pushes_per_key_per_minute: 10,
            sign_ins_per_ip_per_minute: 30,
            wrong_numbers_per_key_per_hour: 5,
            registrations_per_ip_per_hour: 20,
            device_codes_per_ip_per_minute: 10,
        }
    }
}

/// An external authority that signs grants for some scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// The `kid` the authority puts in its JWT headers.
    pub kid: String,
    /// Its Ed25519 public key, unpadded base64url (43 characters).
    pub public_key: String,
    /// The scopes (`email`, `phone`) whose jobs wait for this authority.
    pub scopes: Vec<String>,
}

impl Config {
    /// Defaults, then `file` when given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            fig = fig.merge(Toml::file_exact(path));
        }
        fig.merge(Env::prefixed("AUTHENTIQ_").split("__"))
            .extract()
            .map_err(Box::new)
    }

    /// `public_url` without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// Hides secrets (SMTP credentials, webhook token).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<hidden>"),
            )
            .field("master_key_file", &self.master_key_file)
            .field("master_key", &self.master_key.as_ref().map(|_| "<hidden>"))
            .field("limits", &self.limits)
            .field("email", &self.email)
            .field("sms", &self.sms)
            .field("rate", &self.rate)
            .field("authorities", &self.authorities)
            .field("clients", &self.clients)
            .field("demo", &self.demo)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("client_ip_header", &self.client_ip_header)
            .field("oidc", &self.oidc)
            .field("accounts", &self.accounts)
            .field("sdk", &self.sdk)
            .field("registration", &self.registration)
            .field("metrics_listen", &self.metrics_listen)
            .field("log_format", &self.log_format)
            .finish()
    }
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("mode", &self.mode)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<hidden>"))
            .field("from", &self.from)
            .finish()
    }
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsConfig")
            .field("mode", &self.mode)
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_token",
                &self.webhook_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn layers_defaults_file_and_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "authentiq.toml",
                r#"
                public_url = "https://id.example"
                [limits]
                body_bytes = 1000
                [email]
                mode = "smtp"
                smtp_url = "smtp://user:hunter2@mail.example"
                "#,
            )?;
            jail.set_env("AUTHENTIQ_LISTEN", "0.0.0.0:9000");
            jail.set_env("AUTHENTIQ_LIMITS__BODY_BYTES", "2000");
            jail.set_env(
                "AUTHENTIQ_DATABASE_URL",
                "postgres://aq:s3cret-pw@db.example/authentiq",
            );
            let c = Config::load(Some(Path::new("authentiq.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.public_url, "https://id.example");
            assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
            assert_eq!(c.limits.body_bytes, 2000, "env beats file");
            assert_eq!(c.limits.jwt_bytes, 8 * 1024, "defaults fill the rest");
            assert_eq!(c.email.mode, DeliveryMode::Smtp);
            let shown = format!("{c:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert_eq!(
                c.database_url.as_deref(),
                Some("postgres://aq:s3cret-pw@db.example/authentiq")
            );
            assert!(!shown.contains("s3cret-pw"), "{shown}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listen_on = \"x\"")?;
            let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(err.to_string().contains("listen_on"), "{err}");
            Ok(())
        });
    }
}
