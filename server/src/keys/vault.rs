//! Where the server's key material lives: named documents in the store
//! (`key_material`), each sealed under the master key (XChaCha20-Poly1305,
//! the document's name as associated data), so every instance on one
//! database signs with and publishes the same keys, and the database alone
//! (a dump, a backup) reveals none of them.
//!
//! The master key comes from `master_key_file` or `AUTHENTIQ_MASTER_KEY`
//! (32 bytes, base64 or hex). A server on the embedded SQLite database
//! without either generates `<data_dir>/keys/master.key` (owner-only) on
//! first start; on PostgreSQL it must be given, the same to every instance.
//!
//! Every change is a compare-and-swap on the document's version, retried:
//! two instances starting at once on an empty database agree on one key,
//! and a rotation never overwrites another one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::{keys_dir, write_private};
use crate::secrets::Sealer;
use crate::store::{Store, StoreError};

/// The generated master key of a single SQLite server, under `<data_dir>/keys/`.
pub const MASTER_KEY_FILE: &str = "master.key";

/// How often a change races another writer before giving up.
const MAX_RETRIES: usize = 16;

/// The key material documents (and, for an upgrade, the file each one was
/// kept in before it moved into the database).
pub const ISSUER_KEYS: &str = "issuer-keys";
pub const OIDC_KEYS: &str = "oidc-keys";
pub const HASH_KEY: &str = "hash-key";
pub const SEALING_KEY: &str = "sealing-key";

/// The file under `<data_dir>/keys/` a document was kept in by older
/// versions, and whether it held raw bytes (rather than JSON).
fn legacy_file(name: &str) -> Option<(&'static str, bool)> {
    match name {
        ISSUER_KEYS => Some(("issuer-keys.json", false)),
        OIDC_KEYS => Some(("oidc-keys.json", false)),
        HASH_KEY => Some(("hash.key", true)),
        SEALING_KEY => Some(("sealing.key", true)),
        _ => None,
    }
}

/// Reads a master key: 32 bytes as base64 (standard or URL-safe, padded
/// or not) or hex, surrounding whitespace ignored.
pub fn parse_master_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
    } else {
        [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
    };
    decoded
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            anyhow!("a master key is 32 bytes in base64 or hex (e.g. `openssl rand -base64 32`)")
        })
}

/// Where the master key comes from.
#[derive(Clone)]
pub enum MasterKeySource {
    /// Given (from `AUTHENTIQ_MASTER_KEY` or the configuration).
    Value(String),
    File(PathBuf),
    /// Generated on first start in the data directory: only for a single
    /// server on its own database.
    Generated(PathBuf),
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value(<hidden>)"),
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Generated(p) => f.debug_tuple("Generated").field(p).finish(),
        }
    }
}

impl MasterKeySource {
    /// From the configuration. `shared`: the database is shared by several
    /// instances (PostgreSQL), so a key generated here would be wrong.
    pub fn from_config(config: &crate::config::Config, shared: bool) -> anyhow::Result<Self> {
        Ok(match (&config.master_key, &config.master_key_file) {
            (Some(value), _) => Self::Value(value.clone()),
            (None, Some(path)) => Self::File(path.clone()),
            (None, None) if shared => bail!(
                "a shared database needs a master key: set master_key_file or \
                 AUTHENTIQ_MASTER_KEY (32 bytes, e.g. `openssl rand -base64 32`), the same on every instance"
            ),
            (None, None) => Self::Generated(config.data_dir.clone()),
        })
    }

    pub fn load(&self) -> anyhow::Result<[u8; 32]> {
        match self {
            Self::Value(v) => parse_master_key(v).context("AUTHENTIQ_MASTER_KEY"),
            Self::File(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the master key file {}", path.display())
                })?;
                parse_master_key(&text).with_context(|| path.display().to_string())
            }
            Self::Generated(data_dir) => {
                let path = keys_dir(data_dir)?.join(MASTER_KEY_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => parse_master_key(&text).with_context(|| path.display().to_string()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        let key = crate::secrets::random_bytes::<32>();
                        write_private(&path, URL_SAFE_NO_PAD.encode(key).as_bytes())?;
                        tracing::info!(path = %path.display(), "generated the master key");
                        Ok(key)
                    }
                    Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
                }
            }
        }
    }
}

/// The key material of one database, opened with the master key.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn Store>,
    sealer: Sealer,
    /// Where older versions kept the keys, to import them once.
    legacy_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

fn store_error(e: StoreError) -> anyhow::Error {
    anyhow!("key material: {e}")
}

impl Vault {
    pub fn new(store: Arc<dyn Store>, master: [u8; 32]) -> Self {
        Self {
            store,
            sealer: Sealer::new(master),
            legacy_dir: None,
        }
    }

    /// The vault of `store`, opened with the master key the configuration
    /// names (importing the key files of older versions from the data
    /// directory).
    pub fn open(config: &crate::config::Config, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let shared = config.database_url.is_some();
        let master = MasterKeySource::from_config(config, shared)?.load()?;
        Ok(Self::new(store, master).importing_from(&config.data_dir))
    }

    /// Imports, once, the key files older versions kept in `<data_dir>/keys/`.
    pub fn importing_from(mut self, data_dir: &Path) -> Self {
        self.legacy_dir = Some(data_dir.join("keys"));
        self
    }

    /// The document `name` and its version, opened; `None` if there is none.
    pub fn read(&self, name: &str) -> anyhow::Result<Option<(i64, String)>> {
        match self.store.get_key_material(name) {
            Ok((version, sealed)) => {
                let doc = self.sealer.open(&sealed, name).map_err(|e| {
                    anyhow!("cannot open the key material {name:?}: {e} — is this the master key it was sealed with?")
                })?;
                Ok(Some((version, doc)))
            }
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The version of every document.
    pub fn versions(&self) -> anyhow::Result<Vec<(String, i64)>> {
        self.store.key_material_versions().map_err(store_error)
    }

    /// Read, change, write back, as a compare-and-swap: `change` gets the
    /// current document (`None` when there is none yet) and returns the new
    /// one, or `None` to leave it as it is; when another writer got there
    /// first it runs again on theirs. Returns the document as stored.
    pub fn update(
        &self,
        name: &str,
        now: i64,
        mut change: impl FnMut(Option<&str>) -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<String> {
        for _ in 0..MAX_RETRIES {
            let current = match self.read(name)? {
                Some(doc) => Some(doc),
                None => self.import(name, now)?,
            };
            let (version, doc) = match &current {
                Some((v, d)) => (*v, Some(d.as_str())),
                None => (0, None),
            };
            let Some(new) = change(doc)? else {
                return doc
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("the key material {name:?} does not exist"));
            };
            let sealed = self.sealer.seal(&new, name).map_err(|e| anyhow!("{e}"))?;
            match self.store.put_key_material(name, version, &sealed, now) {
                Ok(_) => return Ok(new),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        bail!("the key material {name:?} kept changing under this writer")
    }

    /// Moves the file an older version kept `name` in into the store, if
    /// there is one (another instance may have stored it first: theirs wins).
    fn import(&self, name: &str, now: i64) -> anyhow::Result<Option<(i64, String)>> {
        let (Some(dir), Some((file, raw))) = (&self.legacy_dir, legacy_file(name)) else {
            return Ok(None);
        };
        let path = dir.join(file);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let doc = if raw {
            URL_SAFE_NO_PAD.encode(bytes)
        } else {
            String::from_utf8(bytes).with_context(|| format!("{} is corrupt", path.display()))?
        };
        let sealed = self.sealer.seal(&doc, name).map_err(|e| anyhow!("{e}"))?;
        match self.store.put_key_material(name, 0, &sealed, now) {
            Ok(_) => {
                tracing::info!(
                    file = %path.display(),
                    "moved key material into the database (sealed with the master key); the file can be deleted"
                );
                Ok(Some((1, doc)))
            }
            Err(StoreError::Conflict(_)) => self.read(name),
            Err(e) => Err(store_error(e)),
        }
    }

    /// 32 random bytes kept as `name`, generated on first use.
    pub fn secret(&self, name: &str, now: i64) -> anyhow::Result<[u8; 32]> {
        let doc = self.update(name, now, |current| {
            Ok(match current {
                Some(_) => None,
                None => Some(URL_SAFE_NO_PAD.encode(crate::secrets::random_bytes::<32>())),
            })
        })?;
        URL_SAFE_NO_PAD
            .decode(doc.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| anyhow!("the key material {name:?} is corrupt (not 32 bytes)"))
    }

    /// A vault on a fresh SQLite database in `dir`, for tests.
    #[cfg(test)]
    pub fn for_tests(dir: &Path) -> Self {
        #[allow(clippy::unwrap_used)] // test code
        let store = crate::store::SqliteStore::open(&dir.join("keys-test.db")).unwrap();
        Self::new(Arc::new(store), [42; 32])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn documents_are_sealed_and_open_only_with_their_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open(&dir.path().join("db")).unwrap());
        let vault = Vault::new(Arc::clone(&store), [1; 32]);
        let secret = vault.secret(HASH_KEY, 10).unwrap();
        assert_eq!(
            vault.secret(HASH_KEY, 11).unwrap(),
            secret,
            "generated once"
        );
        let (_, sealed) = store.get_key_material(HASH_KEY).unwrap();
        assert!(
            !sealed.contains(&URL_SAFE_NO_PAD.encode(secret)),
            "stored sealed"
        );
        let other = Vault::new(store, [2; 32]);
        let err = other.secret(HASH_KEY, 12).unwrap_err().to_string();
        assert!(err.contains("master key"), "{err}");
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(crate::store::SqliteStore::open(&dir.path().join("db")).unwrap());
        let secrets: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let vault = Vault::new(Arc::clone(&store), [1; 32]);
                    s.spawn(move || vault.secret(SEALING_KEY, 1).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(secrets.iter().all(|s| *s == secrets[0]));
        assert_eq!(store.get_key_material(SEALING_KEY).unwrap().0, 1);
    }

    #[test]
    fn an_update_that_loses_the_race_runs_again_on_the_winner() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::for_tests(dir.path());
        vault.update("doc", 1, |_| Ok(Some("a".into()))).unwrap();
        let mut runs = 0;
        let stored = vault
            .update("doc", 2, |current| {
                runs += 1;
                if runs == 1 {
                    // Another writer changes it between this read and write.
                    vault.update("doc", 2, |_| Ok(Some("b".into()))).unwrap();
                }
                Ok(Some(format!("{}+c", current.unwrap())))
            })
            .unwrap();
        assert_eq!(runs, 2);
        assert_eq!(stored, "b+c");
        assert_eq!(vault.read("doc").unwrap().unwrap(), (3, "b+c".to_string()));
    }

    #[test]
    fn old_key_files_are_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys_dir(dir.path()).unwrap();
        std::fs::write(keys.join("hash.key"), [9u8; 32]).unwrap();
        let vault = Vault::for_tests(dir.path()).importing_from(dir.path());
        assert_eq!(vault.secret(HASH_KEY, 1).unwrap(), [9; 32]);
        std::fs::write(keys.join("hash.key"), [8u8; 32]).unwrap();
        assert_eq!(
            vault.secret(HASH_KEY, 2).unwrap(),
            [9; 32],
            "the database wins"
        );
    }

    #[test]
    fn master_keys_parse_in_base64_and_hex() {
        let key = [7u8; 32];
        for text in [
            URL_SAFE_NO_PAD.encode(key),
            STANDARD.encode(key),
            format!("  {}\n", STANDARD.encode(key)),
            key.iter().map(|b| format!("{b:02x}")).collect(),
        ] {
            assert_eq!(parse_master_key(&text).unwrap(), key, "{text}");
        }
        for bad in ["", "short", &STANDARD.encode([7u8; 31]), &"zz".repeat(32)] {
            assert!(parse_master_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_shared_database_needs_a_master_key_given() {
        let mut config = crate::config::Config::default();
        let err = MasterKeySource::from_config(&config, true).unwrap_err();
        assert!(err.to_string().contains("AUTHENTIQ_MASTER_KEY"), "{err}");
        assert!(matches!(
            MasterKeySource::from_config(&config, false).unwrap(),
            MasterKeySource::Generated(_)
        ));
        config.master_key = Some(STANDARD.encode([3u8; 32]));
        let source = MasterKeySource::from_config(&config, true).unwrap();
        assert_eq!(source.load().unwrap(), [3; 32]);
        assert_eq!(format!("{source:?}"), "Value(<hidden>)");
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_master_key_is_owner_only_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let source = MasterKeySource::Generated(dir.path().to_path_buf());
        let key = source.load().unwrap();
        assert_eq!(source.load().unwrap(), key);
        let path = dir.path().join("keys").join(MASTER_KEY_FILE);
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
