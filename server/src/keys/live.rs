//! The signing keys a running server uses, reloaded when the stored ones
//! change: after `authentiq-server keys rotate` (from any instance or the
//! command line) every instance publishes the same JWK Set.
//!
//! [`LiveKeys::refresh`] compares the stored documents' versions with those
//! it loaded (one cheap query) and reloads only when they moved; the server
//! calls it on a timer and, on PostgreSQL, whenever another instance
//! announces a change.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::{IssuerKeys, Vault, vault};
use crate::oidc::keys::OidcKeys;

/// How often a server checks for keys rotated elsewhere (PostgreSQL's
/// notifications make it immediate between instances).
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// One consistent set of signing keys.
#[derive(Debug)]
pub struct SigningKeys {
    /// Ed25519: scope grants, device events, account sessions, EdDSA ID tokens.
    pub issuer: IssuerKeys,
    /// ID token keys (RS256, ES256, and EdDSA = the issuer keys).
    pub oidc: OidcKeys,
}

pub struct LiveKeys {
    vault: Vault,
    current: ArcSwap<SigningKeys>,
    /// The versions of the documents `current` was loaded from.
    loaded: Mutex<Vec<(String, i64)>>,
}

impl std::fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKeys")
            .field("current", &self.current.load())
            .finish_non_exhaustive()
    }
}

/// The versions that matter for signing.
fn signing_versions(all: Vec<(String, i64)>) -> Vec<(String, i64)> {
    all.into_iter()
        .filter(|(name, _)| name == vault::ISSUER_KEYS || name == vault::OIDC_KEYS)
        .collect()
}

impl LiveKeys {
    /// Loads the keys, generating what is missing on a first start.
    pub fn load(vault: Vault, now: i64) -> anyhow::Result<Self> {
        let (keys, versions) = Self::read(&vault, now)?;
        Ok(Self {
            vault,
            current: ArcSwap::from_pointee(keys),
            loaded: Mutex::new(versions),
        })
    }

    /// Loads the keys with the versions they were loaded at. A change while
    /// loading (a first start creating them, or a rotation elsewhere) is
    /// loaded again, so the versions never claim keys that were not loaded.
    fn read(vault: &Vault, now: i64) -> anyhow::Result<(SigningKeys, Vec<(String, i64)>)> {
        let mut before = signing_versions(vault.versions()?);
        loop {
            let issuer = IssuerKeys::load_or_create(vault, now)?;
            let oidc = OidcKeys::load_or_create(vault, &issuer, now)?;
            let after = signing_versions(vault.versions()?);
            if after == before {
                return Ok((SigningKeys { issuer, oidc }, after));
            }
            before = after;
        }
    }

    /// The keys in use now.
    pub fn get(&self) -> Arc<SigningKeys> {
        self.current.load_full()
    }

    /// Where the keys are stored (for rotating them).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Reloads the keys if the stored ones changed since they were loaded;
    /// whether they did. Blocking (database reads): call it off the async
    /// threads.
    pub fn refresh(&self, now: i64) -> anyhow::Result<bool> {
        let stored = signing_versions(self.vault.versions()?);
        let mut loaded = self
            .loaded
            .lock()
            .map_err(|_| anyhow::anyhow!("key reload lock poisoned"))?;
        if *loaded == stored {
            return Ok(false);
        }
        let (keys, versions) = Self::read(&self.vault, now)?;
        tracing::info!(issuer_kid = %keys.issuer.active_kid(), "reloaded the signing keys");
        self.current.store(Arc::new(keys));
        *loaded = versions;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn a_rotation_elsewhere_is_picked_up_by_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let a = LiveKeys::load(Vault::for_tests(dir.path()), 1).unwrap();
        let b = LiveKeys::load(Vault::for_tests(dir.path()), 1).unwrap();
        assert_eq!(a.get().oidc.jwks(1), b.get().oidc.jwks(1), "one key set");
        assert!(!a.refresh(2).unwrap(), "nothing changed");

        // Another process rotates.
        let other = Vault::for_tests(dir.path());
        IssuerKeys::rotate(&other, 3).unwrap();
        OidcKeys::rotate(&other, 3, 60).unwrap();
        assert_ne!(
            a.get().oidc.jwks(3),
            LiveKeys::load(other, 3).unwrap().get().oidc.jwks(3)
        );
        assert!(a.refresh(4).unwrap());
        assert!(b.refresh(4).unwrap());
        assert_eq!(a.get().oidc.jwks(4), b.get().oidc.jwks(4));
        assert_eq!(a.get().issuer.active_kid(), b.get().issuer.active_kid());
        assert_eq!(a.get().oidc.jwks(4)["keys"].as_array().unwrap().len(), 6);
        assert!(!a.refresh(5).unwrap());
    }
}
