//! The file outbox: one JSON file per message in `<data_dir>/outbox/`.
//!
//! File names are `<unix-nanos, 20 digits>-<channel>-<8 hex>.json`, so they
//! sort by time and never collide. Each file is written to a hidden temporary
//! file in the same directory, synced and renamed into place, so a reader
//! never sees half a message.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use super::{Channel, DeliveryError, Message, Sender};

/// Messages as files in a directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

/// One message file, as written by [`Outbox`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// Unix seconds.
    pub created: u64,
}

impl StoredMessage {
    /// The verification code in the text, if any (see [`find_code`]).
    pub fn code(&self) -> Option<String> {
        find_code(&self.text)
    }
}

/// The text holds a live code: never log it.
impl fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredMessage")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Opens (creating it when missing, mode 0700 on unix) the outbox
    /// directory `<data_dir>/outbox`.
    pub fn new(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join("outbox");
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            builder.mode(0o700);
            builder.create(&dir)?;
            // An existing directory keeps its mode: tighten it, since the
            // files hold live codes.
            let mode = fs::metadata(&dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
            }
        }
        #[cfg(not(unix))]
        builder.create(&dir)?;
        Ok(Self { dir })
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `message` to a new file and returns its path. Blocking.
    pub fn write(&self, message: &Message) -> io::Result<PathBuf> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(io::Error::other)?;
        let nanos = unique_nanos(u64::try_from(now.as_nanos()).unwrap_or(u64::MAX));
        let mut random = [0u8; 4];
        OsRng
            .try_fill_bytes(&mut random)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let channel = match message.channel {
            Channel::Email => "email",
            Channel::Sms => "sms",
        };
        let name = format!(
            "{nanos:020}-{channel}-{:08x}.json",
            u32::from_be_bytes(random)
        );
        let stored = StoredMessage {
            channel: message.channel,
            to: message.to.clone(),
            subject: message.subject.clone(),
            text: message.text.clone(),
            created: now.as_secs(),
        };
        let mut json = serde_json::to_vec_pretty(&stored).map_err(io::Error::other)?;
        json.push(b'\n');

        let path = self.dir.join(&name);
        // Hidden and not ending in `.json`: readers skip it.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let written = write_synced(&tmp, &json).and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // Make the rename itself durable.
        #[cfg(unix)]
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }

    /// Every message to `to`, oldest first. Blocking.
    pub fn messages_to(&self, to: &str) -> io::Result<Vec<StoredMessage>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            names.push(name.to_owned());
        }
        names.sort();
        let mut messages = Vec::new();
        for name in names {
            let bytes = match fs::read(self.dir.join(&name)) {
                Ok(bytes) => bytes,
                // Removed since we listed the directory.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let message: StoredMessage = serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("outbox file {name}: {e}"),
                )
            })?;
            if message.to == to {
                messages.push(message);
            }
        }
        Ok(messages)
    }

    /// The newest message to `to`. Blocking.
    pub fn latest_to(&self, to: &str) -> io::Result<Option<StoredMessage>> {
        Ok(self.messages_to(to)?.pop())
    }
}

#[async_trait::async_trait]
impl Sender for Outbox {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let outbox = self.clone();
        let message = message.clone();
        let channel = message.channel;
        let path = tokio::task::spawn_blocking(move || outbox.write(&message))
            .await
            .map_err(|e| DeliveryError::Failed(format!("outbox: {e}")))?
            .map_err(|e| DeliveryError::Failed(format!("outbox: {e}")))?;
        tracing::info!(?channel, file = %path.display(), "message written to the outbox");
        Ok(())
    }
}

/// The first run of exactly six ASCII digits in `text` (longer or shorter
/// runs are skipped): verification codes are six digits.
pub fn find_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return text.get(start..i).map(str::to_owned);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// `now`, or one more than the last value handed out in this process when
/// the clock has not moved on (or went back): names stay strictly ordered.
fn unique_nanos(now: u64) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => last = actual,
        }
    }
}

/// Creates `path` (mode 0600 on unix), writes `bytes` and syncs them.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(channel: Channel, to: &str, text: &str) -> Message {
        Message {
            channel,
            to: to.into(),
            subject: "Your Authentiq code".into(),
            text: text.into(),
        }
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn writes_one_file_per_message_and_reads_the_latest() {
        let data = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(data.path()).unwrap();
        assert_eq!(outbox.dir(), data.path().join("outbox"));
        assert_eq!(outbox.latest_to("alice@example.com").unwrap(), None);

        let first = message(Channel::Email, "alice@example.com", "Your code is 111111.");
        let other = message(Channel::Sms, "+31612345678", "Code: 222222");
        let second = message(Channel::Email, "alice@example.com", "Your code is 333333.");
        outbox.send(&first).await.unwrap();
        outbox.send(&other).await.unwrap();
        outbox.send(&second).await.unwrap();

        let names = dir_entries(outbox.dir());
        assert_eq!(names.len(), 3, "{names:?}");
        for name in &names {
            let (nanos, rest) = name.split_once('-').unwrap();
            assert_eq!(nanos.len(), 20, "{name}");
            assert!(nanos.bytes().all(|b| b.is_ascii_digit()), "{name}");
            let (channel, rest) = rest.split_once('-').unwrap();
            assert!(channel == "email" || channel == "sms", "{name}");
            let hex = rest.strip_suffix(".json").unwrap();
            assert_eq!(hex.len(), 8, "{name}");
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        }
        assert!(names[1].contains("-sms-"), "{names:?}");

        let alice = outbox.messages_to("alice@example.com").unwrap();
        assert_eq!(alice.len(), 2);
        assert_eq!(alice[0].text, first.text, "oldest first");
        assert_eq!(alice[1].text, second.text);
        let latest = outbox.latest_to("alice@example.com").unwrap().unwrap();
        assert_eq!(latest.channel, Channel::Email);
        assert_eq!(latest.subject, "Your Authentiq code");
        assert_eq!(latest.code().as_deref(), Some("333333"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            latest.created <= now && latest.created + 60 > now,
            "{}",
            latest.created
        );

        let phone = outbox.latest_to("+31612345678").unwrap().unwrap();
        assert_eq!(phone.channel, Channel::Sms);
        assert_eq!(phone.code().as_deref(), Some("222222"));
        assert_eq!(outbox.latest_to("bob@example.com").unwrap(), None);
    }

    #[test]
    fn files_are_plain_json_with_the_documented_fields() {
        let data = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(data.path()).unwrap();
        let path = outbox
            .write(&message(Channel::Sms, "+15550100", "code 424242"))
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["channel"], "sms");
        assert_eq!(json["to"], "+15550100");
        assert_eq!(json["subject"], "Your Authentiq code");
        assert_eq!(json["text"], "code 424242");
        assert!(json["created"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(json.as_object().unwrap().len(), 5, "{json}");
    }

    #[tokio::test]
    async fn writes_are_atomic_and_leave_no_temporary_files() {
        let data = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(data.path()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let outbox = outbox.clone();
            tasks.push(tokio::spawn(async move {
                let text = format!("Your code is {:06}.", 100_000 + i);
                outbox
                    .send(&message(Channel::Email, "race@example.com", &text))
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let names = dir_entries(outbox.dir());
        assert_eq!(names.len(), 20, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".json") && !n.starts_with('.')),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains(".tmp")), "{names:?}");
        let mut codes: Vec<String> = outbox
            .messages_to("race@example.com")
            .unwrap()
            .iter()
            .map(|m| m.code().unwrap())
            .collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 20, "every message is whole and distinct");
    }

    #[test]
    fn readers_skip_temporary_files() {
        let data = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(data.path()).unwrap();
        outbox
            .write(&message(Channel::Email, "a@example.com", "code 123456"))
            .unwrap();
        // What a crash mid-write would leave behind.
        fs::write(
            outbox
                .dir()
                .join(".99999999999999999999-email-deadbeef.json.tmp"),
            b"{\"channel\":\"em",
        )
        .unwrap();
        let latest = outbox.latest_to("a@example.com").unwrap().unwrap();
        assert_eq!(latest.code().as_deref(), Some("123456"));
    }

    #[test]
    fn names_sort_in_write_order() {
        let data = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(data.path()).unwrap();
        for i in 0..50 {
            outbox
                .write(&message(Channel::Sms, "+1555", &format!("code {:06}", i)))
                .unwrap();
        }
        let codes: Vec<String> = outbox
            .messages_to("+1555")
            .unwrap()
            .iter()
            .map(|m| m.code().unwrap())
            .collect();
        let expected: Vec<String> = (0..50).map(|i| format!("{i:06}")).collect();
        assert_eq!(codes, expected);
    }

    #[cfg(unix)]
    #[test]
    fn directory_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        fs::create_dir(data.path().join("outbox")).unwrap();
        fs::set_permissions(
            data.path().join("outbox"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let outbox = Outbox::new(data.path()).unwrap();
        let mode = fs::metadata(outbox.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let path = outbox
            .write(&message(Channel::Email, "a@example.com", "code 123456"))
            .unwrap();
        let mode = fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let fresh = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(&fresh.path().join("new-data")).unwrap();
        let mode = fs::metadata(outbox.dir()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn find_code_takes_the_first_run_of_exactly_six_digits() {
        assert_eq!(find_code("Your code is 123456.").as_deref(), Some("123456"));
        assert_eq!(find_code("123456").as_deref(), Some("123456"));
        assert_eq!(find_code("a000001b").as_deref(), Some("000001"));
        assert_eq!(
            find_code("Call +31612345678 or 12345; code 654321, then 111111").as_deref(),
            Some("654321")
        );
        assert_eq!(find_code("1234567 and 12345"), None);
        assert_eq!(find_code("no digits"), None);
        assert_eq!(find_code(""), None);
        assert_eq!(find_code("é123456ü").as_deref(), Some("123456"));
    }

    #[test]
    fn debug_hides_the_text() {
        let m = StoredMessage {
            channel: Channel::Email,
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "code 987654".into(),
            created: 1,
        };
        let shown = format!("{m:?}");
        assert!(!shown.contains("987654"), "{shown}");
        assert!(shown.contains("a@example.com"), "{shown}");
    }
}
