//! Where an Authentiq ID's private key lives: the operating system's keyring.
//!
//! On Linux that is the freedesktop Secret Service (GNOME Keyring, KeePassXC,
//! KWallet) on the D-Bus session bus, reached through the `keyring` crate.
//! The 32-byte Ed25519 seed is stored as 43 base64url characters (no padding)
//! so that keyring tools show it as text; it is never logged, and every copy
//! this module makes is zeroized when dropped.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::{Zeroize as _, Zeroizing};

/// The Secret Service "service" attribute of the desktop app's items.
pub const DEFAULT_SERVICE: &str = "io.authentiq.desktop";

/// Storage for the seeds of Authentiq IDs, one per account name.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The 32-byte Ed25519 seed stored for `account`, if any.
    fn load(&self, account: &str) -> Result<Option<Zeroizing<[u8; 32]>>, KeyStoreError>;
    /// Stores `seed` for `account`, replacing any seed stored before.
    fn store(&self, account: &str, seed: &[u8; 32]) -> Result<(), KeyStoreError>;
    /// Removes the seed of `account`; removing a missing one is not an error.
    fn delete(&self, account: &str) -> Result<(), KeyStoreError>;
}

/// What can go wrong with the keyring. Each message says what is wrong and
/// what to do about it; none contains key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// No session bus, or no Secret Service provider on it.
    #[error("{0}")]
    NoSecretService(String),
    /// The keyring (collection) holding the key is locked.
    #[error("{0}")]
    Locked(String),
    /// The stored value is not a 32-byte seed.
    #[error("{0}")]
    Corrupt(String),
    /// Anything else the keyring reported.
    #[error("{0}")]
    Other(String),
}

const HEADLESS_HINT: &str = "or on a headless machine run under `dbus-run-session` with \
                             `gnome-keyring-daemon --unlock`";

/// The OS keyring: items with attributes `service` = the service name and
/// `username` = the account, in the default collection.
///
/// Every call is blocking D-Bus traffic (libdbus): call it from a blocking
/// thread (`tokio::task::spawn_blocking`), not from async code. When the
/// keyring is locked, reading, replacing or deleting asks the Secret Service
/// to unlock it, and on a desktop that shows an unlock prompt: the call then
/// waits until the user answers (it is not bounded by `keyring`). Where no
/// prompt can be shown (no display, no prompter) the prompt is dismissed at
/// once and the call fails with [`KeyStoreError::Locked`].
#[derive(Debug, Clone)]
pub struct OsKeyring {
    service: String,
}

impl OsKeyring {
    /// The desktop app's keyring items (service [`DEFAULT_SERVICE`]).
    pub fn new() -> Self {
        Self::with_service(DEFAULT_SERVICE)
    }

    /// Items under another service name (tests, or several installations).
    pub fn with_service(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, KeyStoreError> {
        keyring::Entry::new(&self.service, account).map_err(|e| self.error(account, e))
    }

    /// Turns a `keyring` error into one that says what to do.
    fn error(&self, account: &str, err: keyring::Error) -> KeyStoreError {
        match err {
            keyring::Error::PlatformFailure(source) => classify(source.as_ref(), Fallback::Other),
            keyring::Error::NoStorageAccess(source) => classify(source.as_ref(), Fallback::Locked),
            keyring::Error::BadEncoding(mut bytes) => {
                bytes.zeroize();
                self.corrupt(account, "it is not UTF-8 text")
            }
            keyring::Error::Ambiguous(items) => KeyStoreError::Other(format!(
                "The OS keyring holds {} items for account {account:?} of service {:?}; \
                 keep only the right one (for example with Seahorse, \"Passwords and Keys\")",
                items.len(),
                self.service
            )),
            keyring::Error::Invalid(attr, reason) => KeyStoreError::Other(format!(
                "The OS keyring rejected the {attr} of account {account:?}: {reason}"
            )),
            other => KeyStoreError::Other(format!("The OS keyring failed: {other}")),
        }
    }

    fn corrupt(&self, account: &str, why: &str) -> KeyStoreError {
        KeyStoreError::Corrupt(format!(
            "The key stored in the OS keyring for account {account:?} (service {:?}) is not an \
             Authentiq key: {why}. It was damaged or written by another program; remove that \
             item (for example with Seahorse, \"Passwords and Keys\") and set up Authentiq \
             again",
            self.service
        ))
    }
}

impl Default for OsKeyring {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyStore for OsKeyring {
    fn load(&self, account: &str) -> Result<Option<Zeroizing<[u8; 32]>>, KeyStoreError> {
        let entry = self.entry(account)?;
        let text = match entry.get_password() {
            Ok(text) => Zeroizing::new(text),
            Err(keyring::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(self.error(account, e)),
        };
        decode_seed(&text)
            .map(Some)
            .map_err(|why| self.corrupt(account, why))
    }

    fn store(&self, account: &str, seed: &[u8; 32]) -> Result<(), KeyStoreError> {
        let entry = self.entry(account)?;
        let text = Zeroizing::new(URL_SAFE_NO_PAD.encode(seed));
        entry
            .set_password(&text)
            .map_err(|e| self.error(account, e))
    }

    fn delete(&self, account: &str) -> Result<(), KeyStoreError> {
        let entry = self.entry(account)?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.error(account, e)),
        }
    }
}

/// The seed from its stored form: exactly 43 base64url characters.
fn decode_seed(text: &str) -> Result<Zeroizing<[u8; 32]>, &'static str> {
    if text.len() != 43 {
        return Err("it is not 43 base64url characters long");
    }
    let bytes = Zeroizing::new(
        URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| "it is not base64url text")?,
    );
    let mut seed = Zeroizing::new([0u8; 32]);
    if bytes.len() != seed.len() {
        return Err("it does not decode to 32 bytes");
    }
    seed.copy_from_slice(&bytes);
    Ok(seed)
}

fn locked(detail: &str) -> KeyStoreError {
    KeyStoreError::Locked(format!(
        "The keyring is locked: unlock it (log in to your desktop session, or unlock it in \
         \"Passwords and Keys\"; on a headless machine restart GNOME Keyring unlocked with \
         `gnome-keyring-daemon --replace --unlock --components=secrets`, which reads the \
         password from stdin) and try again ({detail})"
    ))
}

fn no_session_bus(detail: &str) -> KeyStoreError {
    KeyStoreError::NoSecretService(format!(
        "There is no D-Bus session bus, so the OS keyring (Secret Service) cannot be reached: \
         run Authentiq inside your desktop session, {HEADLESS_HINT} ({detail})"
    ))
}

fn no_secret_service(detail: &str) -> KeyStoreError {
    KeyStoreError::NoSecretService(format!(
        "No Secret Service is running on the session bus: start GNOME Keyring or KeePassXC \
         (Secret Service integration), {HEADLESS_HINT} ({detail})"
    ))
}

fn no_default_keyring(detail: &str) -> KeyStoreError {
    KeyStoreError::NoSecretService(format!(
        "The Secret Service on the session bus has no default keyring to keep the key in: \
         create one and make it the default (GNOME: \"Passwords and Keys\", a new password \
         keyring, \"Set as default\"; KeePassXC: expose a database group in its Secret Service \
         integration), or on a headless machine restart GNOME Keyring with \
         `gnome-keyring-daemon --replace --unlock --components=secrets`, which creates the \
         \"login\" keyring with the password it reads from stdin ({detail})"
    ))
}

/// What an error `classify` cannot tell apart is taken for.
#[derive(Debug, Clone, Copy)]
enum Fallback {
    Locked,
    Other,
}

/// `keyring` reports "no bus", "no service" and others as `PlatformFailure`,
/// a locked collection met while creating an item as one too, and a missing
/// default collection as `NoStorageAccess`: tell them apart by the Secret
/// Service client's error underneath.
fn classify(source: &(dyn std::error::Error + 'static), fallback: Fallback) -> KeyStoreError {
    let detail = source.to_string();
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    if let Some(err) = source.downcast_ref::<dbus_secret_service::Error>() {
        use dbus_secret_service::Error as Ss;
        match err {
            Ss::Unavailable => return no_secret_service(&detail),
            // The only lookup `keyring` makes that answers "no result" is
            // the one of the collection with alias "default".
            Ss::NoResult => return no_default_keyring(&detail),
            Ss::Locked | Ss::Prompt => return locked(&detail),
            Ss::Dbus(e) => {
                if let Some(known) = classify_dbus_error(e.name().unwrap_or_default(), &detail) {
                    return known;
                }
            }
            _ => {}
        }
    }
    match fallback {
        Fallback::Locked => locked(&detail),
        Fallback::Other => KeyStoreError::Other(format!("The OS keyring failed: {detail}")),
    }
}

/// By D-Bus error name: the ones that mean no bus, no service, or locked.
fn classify_dbus_error(name: &str, detail: &str) -> Option<KeyStoreError> {
    Some(match name {
        // The bus has no `org.freedesktop.secrets` and cannot activate one.
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner"
        | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"
        | "org.freedesktop.DBus.Error.Spawn.ExecFailed"
        | "org.freedesktop.DBus.Error.Spawn.ChildExited" => no_secret_service(detail),
        // Connecting to the session bus failed (libdbus's names for it; with
        // no address at all libdbus tries X11 autolaunch, which fails with
        // NotSupported when there is no display).
        "org.freedesktop.DBus.Error.NoServer"
        | "org.freedesktop.DBus.Error.FileNotFound"
        | "org.freedesktop.DBus.Error.BadAddress"
        | "org.freedesktop.DBus.Error.NoNetwork"
        | "org.freedesktop.DBus.Error.Disconnected"
        | "org.freedesktop.DBus.Error.NotSupported" => no_session_bus(detail),
        name if name.starts_with("org.freedesktop.DBus.Error.Spawn.") => no_session_bus(detail),
        "org.freedesktop.Secret.Error.IsLocked" => locked(detail),
        _ => return None,
    })
}

/// An in-memory key store for unit tests of code that takes a [`KeyStore`].
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemoryKeyStore {
    seeds: std::sync::Mutex<std::collections::HashMap<String, Zeroizing<[u8; 32]>>>,
}

#[cfg(test)]
impl fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyStore").finish_non_exhaustive()
    }
}

#[cfg(test)]
impl KeyStore for MemoryKeyStore {
    fn load(&self, account: &str) -> Result<Option<Zeroizing<[u8; 32]>>, KeyStoreError> {
        let seeds = self.seeds.lock().unwrap_or_else(|e| e.into_inner());
        Ok(seeds.get(account).cloned())
    }

    fn store(&self, account: &str, seed: &[u8; 32]) -> Result<(), KeyStoreError> {
        let mut seeds = self.seeds.lock().unwrap_or_else(|e| e.into_inner());
        seeds.insert(account.to_owned(), Zeroizing::new(*seed));
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<(), KeyStoreError> {
        let mut seeds = self.seeds.lock().unwrap_or_else(|e| e.into_inner());
        seeds.remove(account);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_round_trips_through_its_stored_form() {
        let seed = [7u8; 32];
        let text = URL_SAFE_NO_PAD.encode(seed);
        assert_eq!(text.len(), 43);
        assert_eq!(*decode_seed(&text).unwrap(), seed);
    }

    #[test]
    fn wrong_length_or_alphabet_is_corrupt() {
        assert!(decode_seed("").is_err());
        assert!(decode_seed(&"A".repeat(42)).is_err());
        assert!(decode_seed(&"A".repeat(44)).is_err());
        // Standard-alphabet characters are not base64url.
        assert!(decode_seed(&format!("{}+", "A".repeat(42))).is_err());
        let err = OsKeyring::new().corrupt("me", decode_seed("xyz").unwrap_err());
        assert!(matches!(err, KeyStoreError::Corrupt(_)));
        assert!(err.to_string().contains("\"me\""), "{err}");
    }

    #[test]
    fn dbus_error_names_map_to_what_to_do() {
        let e = classify_dbus_error("org.freedesktop.DBus.Error.ServiceUnknown", "d").unwrap();
        assert!(matches!(e, KeyStoreError::NoSecretService(_)));
        assert!(e.to_string().starts_with("No Secret Service is running"));
        assert!(e.to_string().contains("gnome-keyring-daemon --unlock"));
        let e = classify_dbus_error("org.freedesktop.DBus.Error.NoServer", "d").unwrap();
        assert!(matches!(e, KeyStoreError::NoSecretService(_)));
        assert!(e.to_string().contains("no D-Bus session bus"));
        let e = classify_dbus_error("org.freedesktop.Secret.Error.IsLocked", "d").unwrap();
        assert!(matches!(e, KeyStoreError::Locked(_)));
        assert!(
            e.to_string()
                .starts_with("The keyring is locked: unlock it")
        );
        assert!(classify_dbus_error("org.freedesktop.DBus.Error.AccessDenied", "d").is_none());
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    fn keyring_errors_map_to_what_to_do() {
        let ks = OsKeyring::with_service("test");
        let e = ks.error("a", keyring::Error::NoStorageAccess("locked".into()));
        assert!(matches!(e, KeyStoreError::Locked(_)));
        let e = ks.error("a", keyring::Error::BadEncoding(vec![0xff; 32]));
        assert!(matches!(e, KeyStoreError::Corrupt(_)));
        let e = ks.error(
            "a",
            keyring::Error::PlatformFailure(Box::new(dbus_secret_service::Error::Unavailable)),
        );
        assert!(matches!(e, KeyStoreError::NoSecretService(_)));
        let e = ks.error(
            "a",
            keyring::Error::PlatformFailure(Box::new(dbus_secret_service::Error::Locked)),
        );
        assert!(matches!(e, KeyStoreError::Locked(_)));
        let e = ks.error(
            "a",
            keyring::Error::NoStorageAccess(Box::new(dbus_secret_service::Error::NoResult)),
        );
        assert!(matches!(e, KeyStoreError::NoSecretService(_)));
        assert!(e.to_string().contains("no default keyring"), "{e}");
        let e = ks.error(
            "a",
            keyring::Error::PlatformFailure(Box::new(dbus_secret_service::Error::Parse)),
        );
        assert!(matches!(e, KeyStoreError::Other(_)));
    }

    #[test]
    fn memory_store_keeps_seeds_per_account() {
        let ks = MemoryKeyStore::default();
        assert!(ks.load("a").unwrap().is_none());
        ks.store("a", &[1; 32]).unwrap();
        ks.store("b", &[2; 32]).unwrap();
        assert_eq!(*ks.load("a").unwrap().unwrap(), [1; 32]);
        ks.delete("a").unwrap();
        ks.delete("a").unwrap();
        assert!(ks.load("a").unwrap().is_none());
        assert_eq!(*ks.load("b").unwrap().unwrap(), [2; 32]);
        assert!(!format!("{ks:?}").contains('2'));
    }
}
