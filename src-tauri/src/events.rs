//! Rust → UI events (see `ui/src/contract.md`) and bringing the window up.

use std::time::Duration;

use authentiq_authenticator::app::Revocation;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, WebviewWindowBuilder};

use crate::cmd::link::LinkFinished;
use crate::device_views::DeviceRequest;
use crate::state::{AppState, ForUi};
use crate::views::RequestView;

pub const MAIN_WINDOW: &str = "main";
/// Payload: `RequestView[]`, the pending, unexpired requests.
pub const REQUESTS_CHANGED: &str = "requests-changed";
/// Payload: `{connected, problem}`.
pub const CONNECTION: &str = "connection";
/// Payload: `{screen: "request", id}`.
pub const NAVIGATE: &str = "navigate";
/// Payload: `{reason: "key-revoked" | "device-removed" | null}`: this
/// app's key stopped working and the ID is gone from this app; the reason
/// is the channel's last event (`null`: the server refused the key without
/// saying, e.g. on reconnecting).
pub const REVOKED: &str = "revoked";
/// Payload: `{message}`: a sign-in link could not be opened, and why.
pub const LINK_ERROR: &str = "link-error";
/// Payload: `{status: "linked" | "refused", message}`: this computer's
/// link to an existing ID ended.
pub const LINK_FINISHED: &str = "link-finished";
/// Payload: `DeviceRequest[]`, what the ID's other devices ask of this one.
pub const DEVICE_REQUESTS_CHANGED: &str = "device-requests-changed";
/// No payload: the ID's devices changed elsewhere (one removed, or linked).
pub const DEVICES_CHANGED: &str = "devices-changed";

/// How long after its first `status()` the front end gets to register its
/// listeners before a held navigation is sent.
const LISTEN_GRACE: Duration = Duration::from_millis(400);

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub connected: bool,
    /// Why the channel cannot run (a locked keyring…), if it cannot.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkError<'a> {
    pub message: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Navigate<'a> {
    pub screen: &'static str,
    pub id: &'a str,
}

pub fn requests_changed(app: &AppHandle, pending: &[RequestView]) {
    emit(app, REQUESTS_CHANGED, pending);
}

/// The channel's state as the app knows it now.
pub fn connection(app: &AppHandle) {
    let state = app.state::<AppState>();
    let payload = Connection {
        connected: state.connected(),
        problem: state.channel_problem(),
    };
    emit(app, CONNECTION, payload);
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revoked {
    pub reason: Option<&'static str>,
}

impl Revoked {
    pub fn new(why: Option<Revocation>) -> Self {
        Self {
            reason: why.map(|w| match w {
                Revocation::KeyRevoked => "key-revoked",
                Revocation::DeviceRemoved => "device-removed",
            }),
        }
    }
}

pub fn revoked(app: &AppHandle, why: Option<Revocation>) {
    emit(app, REVOKED, Revoked::new(why));
}

pub fn link_finished(app: &AppHandle, finished: &LinkFinished) {
    emit(app, LINK_FINISHED, finished.clone());
}

pub fn device_requests_changed(app: &AppHandle, open: &[DeviceRequest]) {
    emit(app, DEVICE_REQUESTS_CHANGED, open);
}

pub fn devices_changed(app: &AppHandle) {
    emit(app, DEVICES_CHANGED, ());
}

fn emit<S: Serialize + Clone>(app: &AppHandle, event: &str, payload: S) {
    match app.emit(event, payload) {
        Ok(()) => tracing::debug!(event, "emitted"),
        Err(e) => tracing::warn!(event, "cannot emit: {e}"),
    }
}

/// Shows and focuses the main window, creating it again if it is gone.
pub fn show_main(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(w) => w,
        None => {
            let config = app
                .config()
                .app
                .windows
                .iter()
                .find(|w| w.label == MAIN_WINDOW)
                .cloned();
            let Some(config) = config else { return };
            app.state::<AppState>().ui_reloaded();
            match WebviewWindowBuilder::from_config(app, &config).and_then(|b| b.build()) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("cannot open the window: {e}");
                    return;
                }
            }
        }
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

/// Opens the request screen on `id` (a notification was clicked, or a deep
/// link opened), holding it until the front end listens.
pub fn navigate(app: &AppHandle, id: &str) {
    tracing::info!(request = id, "opening the request screen");
    tell(app, ForUi::Open(id.to_string()));
}

/// A sign-in link could not be opened: the window says why.
pub fn link_error(app: &AppHandle, message: &str) {
    tell(app, ForUi::LinkError(message.to_string()));
}

fn tell(app: &AppHandle, msg: ForUi) {
    show_main(app);
    if let Some(msg) = app.state::<AppState>().for_ui_now_or_later(msg) {
        send(app, &msg);
    }
}

fn send(app: &AppHandle, msg: &ForUi) {
    match msg {
        ForUi::Open(id) => emit(
            app,
            NAVIGATE,
            Navigate {
                screen: "request",
                id,
            },
        ),
        ForUi::LinkError(message) => emit(app, LINK_ERROR, LinkError { message }),
    }
}

/// The front end asked for its status: it is up. What was held until then
/// follows shortly, once its listeners are registered.
pub fn ui_ready(app: &AppHandle) {
    if let Some(msg) = app.state::<AppState>().take_ui_ready() {
        let app = app.clone();
        std::thread::spawn(move || {
            std::thread::sleep(LISTEN_GRACE);
            send(&app, &msg);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_says_why_the_key_stopped_working() {
        let json = |why| serde_json::to_value(Revoked::new(why)).unwrap();
        assert_eq!(
            json(Some(Revocation::DeviceRemoved)),
            serde_json::json!({"reason": "device-removed"})
        );
        assert_eq!(
            json(Some(Revocation::KeyRevoked)),
            serde_json::json!({"reason": "key-revoked"})
        );
        assert_eq!(json(None), serde_json::json!({"reason": null}));
    }
}
