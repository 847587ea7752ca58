//! The background service: runs for the app's whole life, window shown or
//! not. One thread keeps the device channel open (`Authenticator::watch`);
//! another (the hub) turns what it hears into `requests-changed` and
//! `connection` events, the tray's count, and a notification per new
//! request. Keyring calls happen only on the channel thread.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use authentiq_authenticator::Authenticator;
use authentiq_authenticator::app::{AppError, Incoming, Revocation, now};
use authentiq_authenticator::local::Request;
use authentiq_authenticator::notifier::{DesktopNotifier, Notice};
use serde_json::Value;
use tauri::{AppHandle, Manager};

use crate::device_views::{DeviceRequest, DeviceRequestKind};
use crate::state::AppState;
use crate::views::RequestView;
use crate::{events, tray};

/// What the hub hears. Channel messages carry the generation of the
/// identity they are about.
#[derive(Debug)]
pub enum Msg {
    Incoming(u64, Incoming),
    Connected(u64, bool),
    /// Something changed the inbox or the grants (a command ran).
    Refresh,
}

/// The longest the hub sleeps; it wakes earlier when a request expires.
const IDLE: Duration = Duration::from_secs(60);
/// After a locked or missing keyring, retry at the latest after this (or
/// when the user is back in the app).
const KEYRING_RETRY: Duration = Duration::from_secs(15 * 60);

/// Starts the hub, and the channel of the identity already open, if any.
pub fn start(app: &AppHandle, rx: Receiver<Msg>) {
    let hub_app = app.clone();
    spawn("authentiq-hub", move || hub(hub_app, rx));
    if let Some((generation, identity)) = app.state::<AppState>().current() {
        start_channel(app, generation, identity);
    }
}

/// Keeps the device channel of identity `generation` open until it is
/// revoked or replaced.
pub fn start_channel(app: &AppHandle, generation: u64, identity: Arc<Authenticator>) {
    let app = app.clone();
    spawn("authentiq-channel", move || {
        channel(app, generation, identity)
    });
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::error!(thread = name, "cannot start: {e}");
    }
}

fn channel(app: AppHandle, generation: u64, identity: Arc<Authenticator>) {
    let state = app.state::<AppState>();
    let (events, status) = (state.hub(), state.hub());
    while state.is_current(generation) {
        // `watch` reconnects by itself; it returns only when the key is
        // revoked or the keyring cannot give the key.
        let ending = Mutex::new(Ending::default());
        let ending_of = || ending.lock().unwrap_or_else(PoisonError::into_inner);
        let result = tauri::async_runtime::block_on(identity.watch_connection(
            &mut |i| {
                ending_of().heard(&i);
                let _ = events.send(Msg::Incoming(generation, i));
            },
            &mut |c| {
                ending_of().connected(c);
                let _ = status.send(Msg::Connected(generation, c));
            },
        ));
        let ended = ending_of().why();
        match result {
            Ok(()) => {
                // Revoked elsewhere (`aq revoke`), this device removed (by
                // another device, or replaced by a recovery), or refused by
                // the server: forget it here too, and the app goes back to
                // onboarding, saying which when the channel said.
                match ended {
                    Some(Revocation::DeviceRemoved) => tracing::warn!(
                        "this device was removed from its Authentiq ID: the device channel is closed"
                    ),
                    _ => tracing::warn!(
                        "this Authentiq ID was revoked: the device channel is closed"
                    ),
                }
                if let Err(e) = identity.forget() {
                    tracing::warn!("clearing the revoked ID: {e}");
                }
                if state.clear_if_current(generation) {
                    state.refresh();
                    events::revoked(&app, ended);
                }
                return;
            }
            Err(AppError::KeyMissing) => {
                tracing::warn!("device channel stopped: the key is not in the keyring");
                let why = "Your Authentiq ID's key is not in this computer's keyring \
                           (deleted, or another keyring is open). Revoke the ID with its \
                           revocation secret and create a new one.";
                problem(&app, generation, Some(why.into()));
                state.kick.wait(KEYRING_RETRY);
            }
            Err(AppError::KeyStore(e)) => {
                tracing::warn!("device channel waiting for the keyring: {e}");
                problem(&app, generation, Some(e.to_string()));
                state.kick.wait(KEYRING_RETRY);
            }
            Err(e) => {
                tracing::warn!("device channel stopped: {e}");
                state.kick.wait(Duration::from_secs(30));
            }
        }
    }
}

/// Why a key's channel ended, from what it heard: the key's own
/// `key-revoked`, or `device-removed` naming this device; or a
/// `device-removed` naming another device, then the channel closed and the
/// key refused on reconnecting. That is a removal too: a recovery removes
/// every old device at once, and the server ends a removed device's channel
/// at the first `device-removed` it sends, which may name another.
#[derive(Debug, Default)]
struct Ending {
    said: Option<Revocation>,
    /// The last event was a `device-removed`, and the channel has not
    /// opened since.
    after_removal: bool,
}

impl Ending {
    fn heard(&mut self, incoming: &Incoming) {
        match incoming {
            Incoming::Revoked(why) => self.said = Some(*why),
            Incoming::Device { event, .. } => self.after_removal = event == "device-removed",
            _ => self.after_removal = false,
        }
    }

    fn connected(&mut self, connected: bool) {
        if connected {
            self.after_removal = false;
        }
    }

    /// `None`: the server refused the key without saying why.
    fn why(&self) -> Option<Revocation> {
        self.said
            .or(self.after_removal.then_some(Revocation::DeviceRemoved))
    }
}

/// Records why the channel of identity `generation` cannot run, and tells
/// the UI when that changed.
fn problem(app: &AppHandle, generation: u64, why: Option<String>) {
    let state = app.state::<AppState>();
    if state.is_current(generation) && state.set_channel_problem(why) {
        events::connection(app);
    }
}

fn hub(app: AppHandle, rx: Receiver<Msg>) {
    let state = app.state::<AppState>();
    let mut shown: Option<Vec<RequestView>> = None;
    let mut wait = Duration::ZERO;
    loop {
        match rx.recv_timeout(wait) {
            Ok(Msg::Incoming(generation, incoming)) if state.is_current(generation) => {
                match incoming {
                    Incoming::Request(r) if state.notifications() => announce(&app, &r),
                    Incoming::Revoked(why) => {
                        tracing::warn!(?why, "the server says this key no longer works");
                    }
                    Incoming::Device { event, detail, exp } => {
                        device_event(&app, &event, &detail, exp);
                    }
                    _ => {}
                }
            }
            Ok(Msg::Connected(generation, c)) if state.is_current(generation) => {
                // Connected: whatever stopped it before is over.
                let cleared = c && state.set_channel_problem(None);
                if state.set_connected(c) || cleared {
                    tracing::info!(connected = c, "device channel");
                    events::connection(&app);
                }
            }
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let pending = match state.current() {
            None => {
                let cleared = state.set_channel_problem(None);
                if state.set_connected(false) || cleared {
                    events::connection(&app);
                }
                Vec::new()
            }
            Some((_, identity)) => match crate::state::snapshot(&identity) {
                Ok((_, pending)) => pending,
                Err(e) => {
                    tracing::warn!("cannot read the inbox: {e}");
                    shown.clone().unwrap_or_default()
                }
            },
        };
        if shown.as_ref() != Some(&pending) {
            events::requests_changed(&app, &pending);
            tray::set_pending(&app, pending.len());
        }
        // Link requests that expired, recoveries that completed: gone.
        let (pruned, next_end) = state.prune_device_requests(now());
        let open = state.device_requests();
        if pruned {
            events::device_requests_changed(&app, &open);
        }
        // Answered, expired or gone: its notification goes too.
        let ids: Vec<&str> = pending
            .iter()
            .map(|r| r.id.as_str())
            .chain(open.iter().map(|r| r.url.as_str()))
            .collect();
        state.notices.withdraw_except(&ids);
        wait = next_wake(&pending, now());
        if let Some(end) = next_end {
            wait = wait.min(until(end, now()));
        }
        shown = Some(pending);
    }
}

/// When the hub should look again: just after the first pending request
/// expires, so that it leaves the list; at most [`IDLE`].
fn next_wake(pending: &[RequestView], now: i64) -> Duration {
    pending
        .iter()
        .map(|r| r.expires_at)
        .min()
        .map_or(IDLE, |at| until(at, now))
}

/// Just after `at`, at least a second from `now`, at most [`IDLE`].
fn until(at: i64, now: i64) -> Duration {
    let secs = at.saturating_sub(now).saturating_add(1);
    Duration::from_secs(u64::try_from(secs).unwrap_or(0).max(1)).min(IDLE)
}

/// An event about the ID's devices: a new link request or recovery is
/// kept (and announced), a withdrawn one goes; the UI hears of changes.
fn device_event(app: &AppHandle, event: &str, detail: &Value, exp: i64) {
    let state = app.state::<AppState>();
    // Another device removed, or a new one linked (approved anywhere):
    // the device list a window shows is out of date.
    let linked = event == "withdrawn"
        && detail["outcome"] == "approved"
        && detail["request"]
            .as_str()
            .is_some_and(|url| state.device_requests().iter().any(|r| r.url == url));
    if event == "device-removed" || linked {
        events::devices_changed(app);
    }
    let changed = match event {
        "withdrawn" => detail["request"]
            .as_str()
            .is_some_and(|url| state.remove_device_request(url)),
        _ => match DeviceRequest::from_event(event, detail, exp, now()) {
            Some(r) => {
                let new = state.add_device_request(r.clone(), now());
                // A recovery is announced whatever the setting: it takes
                // the ID away from its devices unless one cancels it.
                if new && (r.kind == DeviceRequestKind::Recovery || state.notifications()) {
                    announce_device(app, r);
                }
                new
            }
            None => false,
        },
    };
    if changed {
        events::device_requests_changed(app, &state.device_requests());
    }
}

/// A native notification for a device request; clicking it shows the
/// window (which shows the request wherever the user is).
fn announce_device(app: &AppHandle, r: DeviceRequest) {
    let notice = r.notice();
    let app = app.clone();
    spawn("authentiq-notification", move || {
        let notices = &app.state::<AppState>().notices;
        match notices.show_device_and_wait(&DesktopNotifier::new(), &notice) {
            Ok(true) => events::show_main(&app),
            Ok(false) => tracing::debug!("device notification closed"),
            Err(e) => tracing::warn!("device notification not shown: {e}"),
        }
    });
}

/// A native notification for a new request; clicking it opens the request.
/// Waiting for the click holds a thread of its own until the notification
/// is clicked, closed, or withdrawn (when the request is answered or
/// expires: see the hub).
fn announce(app: &AppHandle, r: &Request) {
    let notice = Notice::from(r);
    let app = app.clone();
    spawn("authentiq-notification", move || {
        let notices = &app.state::<AppState>().notices;
        match notices.show_and_wait(&DesktopNotifier::new(), &notice) {
            Ok(true) => events::navigate(&app, &notice.id),
            Ok(false) => tracing::debug!(request = %notice.id, "notification closed"),
            Err(e) => tracing::warn!(request = %notice.id, "sign-in notification not shown: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(event: &str) -> Incoming {
        Incoming::Device {
            event: event.into(),
            detail: Value::Null,
            exp: 0,
        }
    }

    #[test]
    fn a_channel_ended_by_its_own_event_says_which() {
        for why in [Revocation::KeyRevoked, Revocation::DeviceRemoved] {
            let mut e = Ending::default();
            e.connected(true);
            e.heard(&device("link-request"));
            e.heard(&Incoming::Revoked(why));
            e.connected(false);
            assert_eq!(e.why(), Some(why));
        }
    }

    #[test]
    fn closed_after_another_devices_removal_and_refused_is_a_removal() {
        // A recovery removes A and this device: the server ends this
        // channel after A's device-removed; reconnecting is refused (410).
        let mut e = Ending::default();
        e.connected(true);
        e.heard(&device("device-removed"));
        e.connected(false);
        assert_eq!(e.why(), Some(Revocation::DeviceRemoved));
    }

    #[test]
    fn a_refusal_after_other_traffic_says_nothing() {
        let mut e = Ending::default();
        assert_eq!(e.why(), None, "refused at the first connection");
        // Another device removed, then the channel went on (and reopened).
        e.connected(true);
        e.heard(&device("device-removed"));
        e.connected(false);
        e.connected(true);
        e.connected(false);
        assert_eq!(e.why(), None);
        e.connected(true);
        e.heard(&device("device-removed"));
        e.heard(&device("withdrawn"));
        assert_eq!(e.why(), None);
    }

    fn expiring(at: i64) -> RequestView {
        RequestView {
            id: "a".into(),
            session: "s".into(),
            purpose: Default::default(),
            backchannel: false,
            binding_message: None,
            client_id: "c".into(),
            client_name: "C".into(),
            client_uri: None,
            scope: "openid".into(),
            ip: "127.0.0.1".into(),
            user_agent: None,
            numbers: [1, 2, 3],
            received_at: 0,
            expires_at: at,
            claims: Vec::new(),
            wants_push: false,
        }
    }

    #[test]
    fn wakes_just_after_the_first_expiry_and_at_most_idle() {
        assert_eq!(next_wake(&[], 100), IDLE);
        assert_eq!(
            next_wake(&[expiring(130), expiring(110)], 100),
            Duration::from_secs(11)
        );
        assert_eq!(next_wake(&[expiring(100_000)], 100), IDLE);
        // Already past: look again soon, not in a tight loop.
        assert_eq!(next_wake(&[expiring(90)], 100), Duration::from_secs(1));
    }
}
