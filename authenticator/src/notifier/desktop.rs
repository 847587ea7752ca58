//! Sending notifications through the desktop's notification daemon
//! ([`DesktopNotifier`]): the notification built for a notice, shown until
//! its request expires, and the daemon's errors told apart ([`classify`]).

use std::time::{SystemTime, UNIX_EPOCH};

use notify_rust::{Hint, Notification, NotificationHandle, Timeout, Urgency};

use super::text::{body, device_body, plain, summary};
use super::{APP_NAME, DeviceNotice, Notice, Notifier, NotifyError, OPEN_ACTION, REQUEST_HINT};

/// Native notifications through the desktop's notification daemon.
#[derive(Debug, Clone)]
pub struct DesktopNotifier {
    app_name: String,
}

impl DesktopNotifier {
    pub fn new() -> Self {
        Self::with_app_name(APP_NAME)
    }

    pub fn with_app_name(app_name: impl Into<String>) -> Self {
        Self {
            app_name: app_name.into(),
        }
    }

    /// The notification for `n` at time `now` (Unix seconds), or `None` when
    /// the request has already expired.
    pub(super) fn build(&self, n: &Notice, now: i64) -> Option<Notification> {
        let remaining = n.expires_at.checked_sub(now).filter(|s| *s > 0)?;
        let timeout_ms = u32::try_from(remaining.saturating_mul(1000)).unwrap_or(u32::MAX);
        let mut notification = Notification::new();
        notification
            .appname(&self.app_name)
            .summary(&summary(n))
            .body(&body(n))
            .icon("dialog-password")
            .action("default", "Open Authentiq")
            .action(OPEN_ACTION, "Open")
            .hint(Hint::Custom(REQUEST_HINT.to_owned(), n.id.clone()))
            .hint(Hint::Category("x-authentiq.sign-in".to_owned()))
            .urgency(Urgency::Normal)
            .timeout(Timeout::Milliseconds(timeout_ms));
        Some(notification)
    }
}

impl DesktopNotifier {
    /// The notification for a device notice at `now`, or `None` when it
    /// is moot already.
    pub(super) fn build_device(&self, n: &DeviceNotice, now: i64) -> Option<Notification> {
        let remaining = n.expires_at.checked_sub(now).filter(|s| *s > 0)?;
        let timeout_ms = u32::try_from(remaining.saturating_mul(1000)).unwrap_or(u32::MAX);
        let mut notification = Notification::new();
        notification
            .appname(&self.app_name)
            .summary(&plain(&n.title))
            .body(&device_body(&n.body))
            .icon("dialog-password")
            .action("default", "Open Authentiq")
            .action(OPEN_ACTION, "Open")
            .hint(Hint::Custom(REQUEST_HINT.to_owned(), n.id.clone()))
            .hint(Hint::Category("x-authentiq.device".to_owned()))
            .urgency(Urgency::Normal)
            .timeout(Timeout::Milliseconds(timeout_ms));
        Some(notification)
    }

    /// Sends the notification for a device notice and returns its handle.
    pub fn show_device(&self, n: &DeviceNotice) -> Result<NotificationHandle, NotifyError> {
        let Some(notification) = self.build_device(n, unix_now()) else {
            return Err(NotifyError::Failed(format!(
                "{} is over already; no notification shown",
                n.id
            )));
        };
        notification.show().map_err(|e| classify(&e.to_string()))
    }
}

impl Default for DesktopNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl DesktopNotifier {
    /// Sends the notification for `n` and returns its handle, for a caller
    /// that waits for a click (`wait_for_action`, on a thread of its own).
    /// One D-Bus round trip: it blocks the calling thread for that long.
    pub fn show(&self, n: &Notice) -> Result<NotificationHandle, NotifyError> {
        let Some(notification) = self.build(n, unix_now()) else {
            return Err(NotifyError::Failed(format!(
                "Sign-in request {} has already expired; no notification shown",
                n.id
            )));
        };
        notification.show().map_err(|e| classify(&e.to_string()))
    }
}

impl Notifier for DesktopNotifier {
    /// Sends the notification and returns once the daemon has accepted it.
    fn sign_in_request(&self, n: &Notice) -> Result<(), NotifyError> {
        // Dropping the handle does not close the notification.
        self.show(n).map(drop)
    }
}
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// notify-rust's error hides zbus's, so it is told apart by its text: the
/// D-Bus error names, and zbus's messages for a failed connection.
pub(super) fn classify(message: &str) -> NotifyError {
    const NO_DAEMON: [&str; 3] = [
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.Spawn.",
    ];
    const NO_BUS: [&str; 5] = [
        "failed to connect to",
        "I/O error",
        "address error",
        "Handshake",
        "handshake",
    ];
    if NO_DAEMON.iter().any(|m| message.contains(m)) {
        NotifyError::NoDaemon(format!(
            "No notification daemon is running on the session bus, so sign-in requests are not \
             announced (open Authentiq to see them): run a desktop session or a notification \
             daemon such as dunst or mako ({message})"
        ))
    } else if NO_BUS.iter().any(|m| message.contains(m)) {
        NotifyError::NoDaemon(format!(
            "There is no D-Bus session bus, so sign-in requests are not announced (open \
             Authentiq to see them): run Authentiq inside your desktop session ({message})"
        ))
    } else {
        NotifyError::Failed(format!("The desktop notification failed: {message}"))
    }
}
