//! `authentiq-server keys …`: the signing keys.

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::keys::IssuerKeys;
use crate::oidc::keys::{DEFAULT_PUBLISH_AHEAD, KeyState, OidcKeys};

use super::{date, now};

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Make new signing keys; older keys keep verifying what they signed.
    ///
    /// Running servers (every instance on the database) load them within
    /// a few seconds: the new issuer (Ed25519, EdDSA) key signs from then;
    /// the new RS256 and ES256 keys are published from then and sign from
    /// --publish-ahead seconds after now; the keys they replace stay
    /// published until the ID tokens they signed have expired.
    Rotate {
        /// Seconds between now and when the new RS256/ES256 keys start
        /// signing, so relying parties (which cache the key set for 5
        /// minutes) see them first.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_PUBLISH_AHEAD.unsigned_abs())]
        publish_ahead: u64,
    },
    /// List the keys with their algorithm, id and state: active (signs),
    /// published-only (will sign), retiring (verifies what it signed).
    List,
}

#[allow(clippy::print_stdout)] // the point of these commands is their output
pub async fn run(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    let now = now();
    let vault = super::open_vault(config)?;
    let issuer = match action {
        KeysAction::Rotate { publish_ahead } => {
            let publish_ahead =
                i64::try_from(publish_ahead).context("--publish-ahead is too large")?;
            let issuer = crate::keys::rotate(&vault, now, publish_ahead)?;
            if let Some(url) = &config.database_url {
                // Instances reload at once rather than on their next check.
                if let Err(e) = crate::hub::postgres::announce(url, &crate::hub::Topic::Keys).await
                {
                    tracing::warn!(error = %e, "cannot notify the running instances");
                }
            }
            println!(
                "Rotated. Running servers load the new keys within {} s; the new issuer \
                 key signs from then, the new RS256 and ES256 keys from {}.\n",
                crate::keys::live::RELOAD_EVERY.as_secs(),
                date(now.saturating_add(publish_ahead))
            );
            issuer
        }
        KeysAction::List => IssuerKeys::load_or_create(&vault, now)?,
    };
    let keys = OidcKeys::load_or_create(&vault, &issuer, now)?;
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
