//! The app's settings: a small JSON file in the profile home (`$AQ_HOME`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::CommandError;

pub const FILE_NAME: &str = "settings.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The server for a new identity (an identity's own server never changes).
    pub server: String,
    /// Announce sign-in requests with a desktop notification.
    pub notifications: bool,
    /// Start (hidden, in the tray) when the user logs in.
    pub start_at_login: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: String::new(),
            notifications: true,
            start_at_login: false,
        }
    }
}

pub fn path(home: &Path) -> PathBuf {
    home.join(FILE_NAME)
}

impl Settings {
    /// The saved settings; defaults when there is no file or it is unreadable
    /// (settings are never worth refusing to start for).
    pub fn load(file: &Path) -> Self {
        match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %file.display(), "ignoring unreadable settings: {e}");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Writes the file whole (a temporary file renamed over it).
    pub fn save(&self, file: &Path) -> Result<(), CommandError> {
        let fail = |e: std::io::Error| {
            CommandError::Internal(format!("cannot save settings to {}: {e}", file.display()))
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| CommandError::Internal(format!("cannot encode settings: {e}")))?;
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(fail)?;
        std::fs::rename(&tmp, file).map_err(fail)
    }
}

/// A server URL as typed: https (http only on this computer), no query or
/// fragment, without a trailing slash.
pub fn normalize_server(input: &str) -> Result<String, CommandError> {
    let trimmed = input.trim().trim_end_matches('/');
    let invalid =
        |why: &str| CommandError::Invalid(format!("{trimmed:?} is not a server URL: {why}"));
    let url = url::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    authentiq_authenticator::client::check_transport(&url).map_err(|why| invalid(&why))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_broken_files_give_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        assert_eq!(Settings::load(&file), Settings::default());
        std::fs::write(&file, "{not json").unwrap();
        assert_eq!(Settings::load(&file), Settings::default());
        assert!(Settings::default().notifications);
    }

    #[test]
    fn saves_and_loads_and_fills_missing_fields() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(&dir.path().join("new"));
        let s = Settings {
            server: "https://id.example".into(),
            notifications: false,
            start_at_login: true,
        };
        s.save(&file).unwrap();
        assert_eq!(Settings::load(&file), s);
        std::fs::write(&file, r#"{"server":"http://127.0.0.1:8080"}"#).unwrap();
        let partial = Settings::load(&file);
        assert_eq!(partial.server, "http://127.0.0.1:8080");
        assert!(partial.notifications && !partial.start_at_login);
    }

    #[test]
    fn server_urls_are_checked_and_trimmed() {
        assert_eq!(
            normalize_server(" https://id.example/ ").unwrap(),
            "https://id.example"
        );
        assert_eq!(
            normalize_server("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "",
            "id.example",
            "ftp://id.example",
            "http://id.example",
            "http://192.168.1.2:8080",
            "https://id.example/?a=1",
            "file:///x",
        ] {
            assert!(
                matches!(normalize_server(bad), Err(CommandError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
