//! The app's shared state: where the profile lives, the open identity (if
//! any), the settings, and the line to the background service.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use authentiq_authenticator::Authenticator;
use authentiq_authenticator::app::default_home;
use authentiq_authenticator::keystore::KeyStore;
use authentiq_authenticator::notifier::OnScreen;
use zeroize::Zeroizing;

mod devices;
use devices::Linking;
pub use devices::Recovering;

use crate::device_views::DeviceRequests;
use crate::error::{CmdResult, CommandError};
use crate::service::Msg;
use crate::settings::{self, Settings};
use crate::views::{ProfileView, RequestView};

/// What the environment says: `AQ_HOME`, `AQ_PROFILE`, `AUTHENTIQ_SERVER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The profile home: `$AQ_HOME`, else the XDG data dir (as `aq` uses).
    pub home: PathBuf,
    /// One identity per profile: `$AQ_PROFILE`, else `default`.
    pub profile: String,
    /// A server to offer during onboarding: `$AUTHENTIQ_SERVER`.
    pub server: Option<String>,
}

impl Env {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            home: default_home(),
            profile: var("AQ_PROFILE").unwrap_or_else(|| "default".into()),
            server: var("AUTHENTIQ_SERVER"),
        }
    }

    /// The D-Bus name of the single running instance: one per profile home
    /// and profile, so that test runs (or two profiles) do not collide.
    pub fn instance_id(&self, identifier: &str) -> String {
        let key = format!("{}\0{}", self.home.display(), self.profile);
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{identifier}.p{hash:016x}")
    }
}

/// Wakes the device channel's thread early, e.g. to retry a locked keyring
/// once the user is back in the app (retrying on a timer would keep popping
/// up unlock prompts).
#[derive(Debug, Default)]
pub struct Kick {
    count: Mutex<u64>,
    changed: Condvar,
}

impl Kick {
    pub fn kick(&self) {
        *lock(&self.count) += 1;
        self.changed.notify_all();
    }

    /// Waits for the next kick, at most `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let guard = lock(&self.count);
        let seen = *guard;
        let _ = self
            .changed
            .wait_timeout_while(guard, timeout, |count| *count == seen);
    }
}

/// A poisoned lock only means another thread panicked while holding it;
/// the data (settings, flags) is still usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The open identity, numbered so that the service can tell a revoked
/// identity's late events from the current one's.
type Current = (u64, Arc<Authenticator>);

#[derive(Debug)]
pub struct AppState {
    pub env: Env,
    pub keystore: Arc<dyn KeyStore>,
    current: RwLock<Option<Current>>,
    generation: AtomicU64,
    pub settings: Mutex<Settings>,
    connected: AtomicBool,
    hub: Sender<Msg>,
    pub kick: Kick,
    /// Serializes creating and revoking the identity.
    pub identity_lock: tokio::sync::Mutex<()>,
    /// Whether the front end listens (it has asked for its status), and a
    /// request to show once it does: one lock, so that a navigation is never
    /// parked just after the front end said it listens.
    nav: Mutex<Nav>,
    /// The revocation secret of the ID created last, until the user says
    /// it is saved: a window closed (or lost) on that step can show it
    /// again. Memory only; never written anywhere.
    unsaved_secret: Mutex<Option<(Zeroizing<String>, SecretKind)>>,
    /// Sign-in notifications on screen (withdrawn when their request goes).
    pub notices: OnScreen,
    /// Why the device channel cannot run (the keyring), in the user's words.
    channel_problem: Mutex<Option<String>>,
    /// A link of this computer to an existing ID, while it waits: its
    /// number (once the server gave it) and how to stop it.
    linking: Mutex<Option<Linking>>,
    /// The profile of an ID being recovered here: its key works nowhere
    /// until the recovery completes, so it is not [`AppState::current`]
    /// (no channel, no home screen) until then.
    recovering: Mutex<Option<Recovering>>,
    /// What the ID's other devices ask of this one (link requests,
    /// recoveries), until answered, withdrawn or over. Memory only.
    device_requests: Mutex<DeviceRequests>,
}

/// Which secret the app holds until the user says it is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// A new ID's revocation secret.
    Revocation,
    /// A recovered ID's new recovery secret.
    Recovery,
}

#[derive(Debug, Default)]
struct Nav {
    ui_ready: bool,
    held: Option<ForUi>,
}

/// What the app has to tell a front end that may not listen yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForUi {
    /// Show the request screen on this request.
    Open(String),
    /// A sign-in link could not be opened: why, in the user's words.
    LinkError(String),
}

impl AppState {
    pub fn new(env: Env, keystore: Arc<dyn KeyStore>) -> (Self, Receiver<Msg>) {
        let settings = Settings::load(&settings::path(&env.home));
        let (tx, rx) = std::sync::mpsc::channel();
        let state = Self {
            env,
            keystore,
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            settings: Mutex::new(settings),
            connected: AtomicBool::new(false),
            hub: tx,
            kick: Kick::default(),
            identity_lock: tokio::sync::Mutex::new(()),
            nav: Mutex::new(Nav::default()),
            unsaved_secret: Mutex::new(None),
            notices: OnScreen::default(),
            channel_problem: Mutex::new(None),
            linking: Mutex::new(None),
            recovering: Mutex::new(None),
            device_requests: Mutex::new(DeviceRequests::default()),
        };
        (state, rx)
    }

    pub fn current(&self) -> Option<Current> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The open identity, or `no_identity`.
    pub fn authenticator(&self) -> CmdResult<Arc<Authenticator>> {
        self.current().map(|(_, a)| a).ok_or_else(|| {
            CommandError::NoIdentity("There is no Authentiq ID here yet: create one first.".into())
        })
    }

    pub fn install(&self, app: Authenticator) -> Current {
        let current = (
            self.generation.fetch_add(1, Ordering::SeqCst) + 1,
            Arc::new(app),
        );
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(current.clone());
        current
    }

    pub fn clear(&self) {
        self.clear_generation(None);
    }

    /// Clears identity `generation` if it is still the current one (not a
    /// newer one created meanwhile); whether it was.
    pub fn clear_if_current(&self, generation: u64) -> bool {
        self.clear_generation(Some(generation))
    }

    /// Clears the identity (only if it is `only`, when given) and its
    /// unsaved secret; whether it did.
    fn clear_generation(&self, only: Option<u64>) -> bool {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = only
            && current.as_ref().is_none_or(|(c, _)| *c != g)
        {
            return false;
        }
        *current = None;
        drop(current);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.secret_saved();
        lock(&self.device_requests).clear();
        true
    }

    pub fn is_current(&self, generation: u64) -> bool {
        self.current().is_some_and(|(g, _)| g == generation)
    }

    /// Opens the profile's identity if there is one (no keyring access);
    /// a profile still recovering its ID is kept aside instead.
    pub fn open_existing(&self) -> Option<Current> {
        match Authenticator::open(&self.env.home, &self.env.profile, self.keystore.clone()) {
            Ok(app) => match crate::cmd::recover::saved_recovery(&app) {
                Some(view) => {
                    self.set_recovering(Some(Recovering {
                        app: Arc::new(app),
                        view,
                    }));
                    None
                }
                None => Some(self.install(app)),
            },
            Err(authentiq_authenticator::app::AppError::NoProfile) => None,
            Err(e) => {
                tracing::error!(profile = %self.env.profile, "cannot open the profile: {e}");
                None
            }
        }
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Records the channel's state; `true` when it changed.
    pub fn set_connected(&self, connected: bool) -> bool {
        self.connected.swap(connected, Ordering::SeqCst) != connected
    }

    /// Why the channel cannot run, if it cannot (e.g. a locked keyring).
    pub fn channel_problem(&self) -> Option<String> {
        lock(&self.channel_problem).clone()
    }

    /// Records why the channel cannot run (`None`: it can); `true` when
    /// that changed.
    pub fn set_channel_problem(&self, problem: Option<String>) -> bool {
        let mut current = lock(&self.channel_problem);
        let changed = *current != problem;
        *current = problem;
        changed
    }

    /// Asks the service to recompute the pending requests (and tell the UI
    /// and the tray when they changed).
    pub fn refresh(&self) {
        self.send(Msg::Refresh);
    }

    pub fn send(&self, msg: Msg) {
        // The service only stops when the app does.
        let _ = self.hub.send(msg);
    }

    pub fn hub(&self) -> Sender<Msg> {
        self.hub.clone()
    }

    /// The server to offer for a new identity: `AUTHENTIQ_SERVER`, else the saved one.
    pub fn default_server(&self) -> Option<String> {
        self.env
            .server
            .clone()
            .or_else(|| Some(lock(&self.settings).server.clone()).filter(|s| !s.is_empty()))
    }

    pub fn notifications(&self) -> bool {
        lock(&self.settings).notifications
    }

    /// Marks the front end as listening; returns what was held until then.
    pub fn take_ui_ready(&self) -> Option<ForUi> {
        let mut nav = lock(&self.nav);
        nav.ui_ready = true;
        nav.held.take()
    }

    /// `Some` (to send now) when the front end listens; else `None`, and
    /// `msg` is kept for it (the latest wins).
    pub fn for_ui_now_or_later(&self, msg: ForUi) -> Option<ForUi> {
        let mut nav = lock(&self.nav);
        if nav.ui_ready {
            return Some(msg);
        }
        nav.held = Some(msg);
        None
    }

    /// A new web view: it listens only once it has asked for its status.
    pub fn ui_reloaded(&self) {
        lock(&self.nav).ui_ready = false;
    }

    /// Keeps `secret` until [`AppState::secret_saved`].
    pub fn hold_secret(&self, secret: &str, kind: SecretKind) {
        *lock(&self.unsaved_secret) = Some((Zeroizing::new(secret.to_string()), kind));
    }

    /// The revocation (or new recovery) secret the user has not confirmed
    /// saving yet.
    pub fn unsaved_secret(&self) -> Option<String> {
        lock(&self.unsaved_secret)
            .as_ref()
            .map(|(s, _)| s.to_string())
    }

    /// Which secret [`AppState::unsaved_secret`] is, if one is held.
    pub fn unsaved_secret_kind(&self) -> Option<SecretKind> {
        lock(&self.unsaved_secret).as_ref().map(|(_, k)| *k)
    }

    pub fn has_unsaved_secret(&self) -> bool {
        lock(&self.unsaved_secret).is_some()
    }

    /// The user saved it: forget it.
    pub fn secret_saved(&self) {
        *lock(&self.unsaved_secret) = None;
    }
}

/// The identity and its pending requests, as the UI shows them. SQLite:
/// call it off the async threads.
pub fn snapshot(app: &Authenticator) -> CmdResult<(ProfileView, Vec<RequestView>)> {
    let grants = app.grants()?;
    let pending = app
        .inbox()?
        .iter()
        .map(|r| RequestView::new(r, &grants))
        .collect();
    Ok((ProfileView::new(app.profile(), &grants), pending))
}

/// Runs `f` on a blocking thread: keyring calls may wait for an unlock
/// prompt, SQLite for a lock held by `aq`.
pub async fn blocking<T, F>(f: F) -> CmdResult<T>
where
    F: FnOnce() -> CmdResult<T> + Send + 'static,
    T: Send + 'static,
{
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::Internal(format!("the task failed: {e}")))?
}

/// [`blocking`] for the authenticator's async operations, which read the key
/// from the keyring synchronously inside: they run on a blocking thread,
/// driven by the app's runtime (so the HTTP client's connections stay on it).
pub async fn blocking_async<T, F, Fut>(f: F) -> CmdResult<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = CmdResult<T>>,
    T: Send + 'static,
{
    blocking(move || tauri::async_runtime::block_on(f())).await
}

#[cfg(test)]
mod tests;
