//! The server's own keys: the Ed25519 issuer keys (which sign scope grants
//! and device events), the secret of the keyed hashes, and the sealing key,
//! all kept in the database under the master key ([`vault`]).
//!
//! Issuer keys are a list: one active key signs; the others still verify,
//! so a rotation never invalidates what was signed before it.

pub mod live;
pub mod vault;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use live::{LiveKeys, SigningKeys};
pub use vault::Vault;

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    /// The 32-byte Ed25519 seed, base64url.
    seed: String,
    created: i64,
    /// When it stopped signing (rotated out); it still verifies.
    #[serde(default)]
    retired: Option<i64>,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredKeys {
    keys: Vec<StoredKey>,
}

/// A public issuer key with its id.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub kid: String,
    pub key: VerifyingKey,
}

/// The loaded issuer keys.
pub struct IssuerKeys {
    active_kid: String,
    active: SigningKey,
    public: Vec<PublicKey>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("active_kid", &self.active_kid)
            .field(
                "public",
                &self.public.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// RFC 7638 JWK thumbprint of an Ed25519 key: its `kid`.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

pub(crate) fn keys_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join("keys");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    restrict(&dir, 0o700)?;
    Ok(dir)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot restrict permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// Writes `bytes` to `path` atomically and durably, readable by the owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn parse_stored(doc: Option<&str>) -> anyhow::Result<StoredKeys> {
    match doc {
        None => Ok(StoredKeys::default()),
        Some(doc) => serde_json::from_str(doc).context("the issuer keys are corrupt"),
    }
}

fn new_stored_key(now: i64) -> StoredKey {
    let key = SigningKey::generate(&mut OsRng);
    StoredKey {
        kid: thumbprint(&key.verifying_key()),
        seed: URL_SAFE_NO_PAD.encode(key.to_bytes()),
        created: now,
        retired: None,
    }
}

fn decode_seed(s: &StoredKey) -> anyhow::Result<SigningKey> {
    let bytes = URL_SAFE_NO_PAD
        .decode(&s.seed)
        .with_context(|| format!("issuer key {} is corrupt", s.kid))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("issuer key {} has the wrong length", s.kid))?;
    Ok(SigningKey::from_bytes(&seed))
}

impl IssuerKeys {
    /// Loads the issuer keys, generating the first one on first start.
    pub fn load_or_create(vault: &Vault, now: i64) -> anyhow::Result<Self> {
        let doc = vault.update(vault::ISSUER_KEYS, now, |current| {
            let mut stored = parse_stored(current)?;
            if !stored.keys.is_empty() {
                return Ok(None);
            }
            stored.keys.push(new_stored_key(now));
            tracing::info!(kid = %stored.keys[0].kid, "generated the issuer key");
            Ok(Some(serde_json::to_string_pretty(&stored)?))
        })?;
        Self::from_stored(&parse_stored(Some(&doc))?)
    }

    /// Adds a new active key; the previous ones keep verifying.
    pub fn rotate(vault: &Vault, now: i64) -> anyhow::Result<Self> {
        let doc = vault.update(vault::ISSUER_KEYS, now, |current| {
            let mut stored = parse_stored(current)?;
            for k in stored.keys.iter_mut().filter(|k| k.retired.is_none()) {
                k.retired = Some(now);
            }
            stored.keys.push(new_stored_key(now));
            Ok(Some(serde_json::to_string_pretty(&stored)?))
        })?;
        Self::from_stored(&parse_stored(Some(&doc))?)
    }

    fn from_stored(stored: &StoredKeys) -> anyhow::Result<Self> {
        let Some(active) = stored.keys.iter().rev().find(|k| k.retired.is_none()) else {
            bail!("no active issuer key");
        };
        let public = stored
            .keys
            .iter()
            .map(|k| {
                Ok(PublicKey {
                    kid: k.kid.clone(),
                    key: decode_seed(k)?.verifying_key(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            active_kid: active.kid.clone(),
            active: decode_seed(active)?,
            public,
        })
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.active
    }

    /// Every key that verifies, newest last.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
    }

    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.public.iter().find(|k| k.kid == kid).map(|k| &k.key)
    }
}

/// Rotates every signing key (what `authentiq-server keys rotate` and the
/// dashboard do): a new issuer key, and RS256/ES256 keys published now
/// that sign `publish_ahead` seconds from now. Returns the new issuer keys.
pub fn rotate(vault: &Vault, now: i64, publish_ahead: i64) -> anyhow::Result<IssuerKeys> {
    let issuer = IssuerKeys::rotate(vault, now)?;
    crate::oidc::keys::OidcKeys::rotate(vault, now, publish_ahead)?;
    Ok(issuer)
}

/// The secret of the keyed hashes, generated on first start.
pub fn load_or_create_hash_key(vault: &Vault, now: i64) -> anyhow::Result<[u8; 32]> {
    vault.secret(vault::HASH_KEY, now)
}

/// The key that seals secrets the server must read back (registered HS256
/// clients' secrets), generated on first start.
pub fn load_or_create_sealing_key(vault: &Vault, now: i64) -> anyhow::Result<[u8; 32]> {
    vault.secret(vault::SEALING_KEY, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_and_later_starts_reload() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::for_tests(dir.path());
        let a = IssuerKeys::load_or_create(&vault, 1).unwrap();
        let b = IssuerKeys::load_or_create(&vault, 2).unwrap();
        assert_eq!(a.active_kid(), b.active_kid());
        assert_eq!(a.signing_key().to_bytes(), b.signing_key().to_bytes());
        assert_eq!(a.active_kid(), thumbprint(&a.signing_key().verifying_key()));
    }

    #[test]
    fn rotation_keeps_old_keys_for_verification() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::for_tests(dir.path());
        let old = IssuerKeys::load_or_create(&vault, 1).unwrap();
        let new = IssuerKeys::rotate(&vault, 2).unwrap();
        assert_ne!(old.active_kid(), new.active_kid());
        assert!(new.find(old.active_kid()).is_some());
        assert_eq!(new.public_keys().len(), 2);
        let reloaded = IssuerKeys::load_or_create(&vault, 3).unwrap();
        assert_eq!(reloaded.active_kid(), new.active_kid());
    }

    #[test]
    fn rfc7638_thumbprint_of_rfc8037_key() {
        // RFC 8037 A.3: the thumbprint of the example key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn hash_key_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::for_tests(dir.path());
        assert_eq!(
            load_or_create_hash_key(&vault, 1).unwrap(),
            load_or_create_hash_key(&vault, 2).unwrap()
        );
        assert_ne!(
            load_or_create_hash_key(&vault, 1).unwrap(),
            load_or_create_sealing_key(&vault, 1).unwrap()
        );
    }
}
