//! Telling the user about a sign-in request: a native desktop notification.
//!
//! On Linux that is a `Notify` call to `org.freedesktop.Notifications` on the
//! D-Bus session bus (notify-rust, pure-Rust zbus backend). Sending never
//! waits for the user: what a click does is the desktop app's business. A
//! missing notification daemon is never fatal ([`notify_or_log`]).
//!
//! This module holds what a notification says ([`Notice`],
//! [`DeviceNotice`]) and the [`Notifier`] seam; `desktop.rs` sends them
//! ([`DesktopNotifier`]), `on_screen.rs` waits for their clicks and
//! withdraws them ([`OnScreen`]), and `text.rs` words their titles and
//! bodies.

use std::fmt;

use crate::local::Request;
use crate::purpose::Purpose;

mod desktop;
mod on_screen;
#[cfg(test)]
mod tests;
mod text;

pub use desktop::DesktopNotifier;
pub use on_screen::OnScreen;

/// The application name notifications are sent with.
pub const APP_NAME: &str = "Authentiq";
/// The hint that carries the request id, for the app to match an action to it.
pub const REQUEST_HINT: &str = "x-authentiq-request";
/// The action that opens the app on the request.
pub const OPEN_ACTION: &str = "open";

/// What a notification says about one pending sign-in request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The request id (the server's job id).
    pub id: String,
    /// The relying party the person is signing in to.
    pub client_name: String,
    /// What the request is for: the title says so ("Sign in to X?",
    /// "Verify your details for X?", "Confirm it's you for X?").
    pub purpose: Purpose,
    /// Started by the client's backend (CIBA): there is no number to pick,
    /// the binding message is what to check ("Sign-in requested by X").
    pub backchannel: bool,
    /// With `backchannel`: the client's message, shown in the title and
    /// the body (as plain text: see [`plain`](text::plain)).
    pub binding_message: Option<String>,
    /// Where the sign-in came from.
    pub requester_ip: String,
    pub user_agent: Option<String>,
    /// Unix time (seconds) after which the request can no longer be approved.
    pub expires_at: i64,
}

impl From<&Request> for Notice {
    /// The notification of an inbox request.
    fn from(r: &Request) -> Self {
        Self {
            id: r.id.clone(),
            client_name: r.client_name.clone(),
            purpose: r.purpose,
            backchannel: r.backchannel,
            binding_message: r.binding_message.clone(),
            requester_ip: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            expires_at: r.expires_at,
        }
    }
}

/// What a notification about the ID's devices says: a new device asks to
/// be linked, or someone started recovering the ID. `title` and `body` are
/// the app's own words with the requester's strings in them; the body is
/// escaped and both are clipped when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNotice {
    /// What it is about (the pairing or recovery URL): the key it is
    /// withdrawn by.
    pub id: String,
    pub title: String,
    pub body: String,
    /// Unix time (seconds) after which it is moot.
    pub expires_at: i64,
}

/// Shows sign-in requests to the user.
pub trait Notifier: Send + Sync + fmt::Debug {
    fn sign_in_request(&self, n: &Notice) -> Result<(), NotifyError>;
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// No session bus, or no notification daemon on it.
    #[error("{0}")]
    NoDaemon(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}
/// Sends, and on failure logs a warning and returns false: a missing daemon
/// is never fatal.
pub fn notify_or_log(n: &dyn Notifier, notice: &Notice) -> bool {
    match n.sign_in_request(notice) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(request = %notice.id, "sign-in notification not shown: {e}");
            false
        }
    }
}
