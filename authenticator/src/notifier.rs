//! Telling the user about a sign-in request: a native desktop notification.
//!
//! On Linux that is a `Notify` call to `org.freedesktop.Notifications` on the
//! D-Bus session bus (notify-rust, pure-Rust zbus backend). Sending never
//! waits for the user: what a click does is the desktop app's business. A
//! missing notification daemon is never fatal ([`notify_or_log`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use notify_rust::{Hint, Notification, NotificationHandle, Timeout, Urgency};

use crate::local::Request;
use crate::purpose::{self, Purpose};

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
    /// the body (as plain text: see [`plain`]).
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
    fn build(&self, n: &Notice, now: i64) -> Option<Notification> {
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
    fn build_device(&self, n: &DeviceNotice, now: i64) -> Option<Notification> {
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

/// The sign-in notifications on screen, by request id, for an app that
/// waits for their clicks: it withdraws a notification once its request is
/// answered, expires or goes, and the thread waiting for that notification
/// ends then (rather than with the user's next look at the notification
/// history, which may be never).
#[derive(Default)]
pub struct OnScreen {
    shown: Mutex<HashMap<String, NotificationHandle>>,
}

impl fmt::Debug for OnScreen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        f.debug_struct("OnScreen").field("shown", &ids).finish()
    }
}

impl OnScreen {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, NotificationHandle>> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shows `n` and blocks (call it on a thread of its own) until the
    /// notification is clicked, closed by the user or the daemon, or
    /// withdrawn. Returns whether it was clicked open.
    pub fn show_and_wait(
        &self,
        notifier: &DesktopNotifier,
        n: &Notice,
    ) -> Result<bool, NotifyError> {
        self.wait_for(&n.id, || notifier.show(n))
    }

    /// [`OnScreen::show_and_wait`] for a notice about the ID's devices
    /// (withdrawn by its `id` alike).
    pub fn show_device_and_wait(
        &self,
        notifier: &DesktopNotifier,
        n: &DeviceNotice,
    ) -> Result<bool, NotifyError> {
        self.wait_for(&n.id, || notifier.show_device(n))
    }

    fn wait_for(
        &self,
        key: &str,
        show: impl FnOnce() -> Result<NotificationHandle, NotifyError>,
    ) -> Result<bool, NotifyError> {
        // Listening first: the notification can be clicked or withdrawn as
        // soon as it is shown, and a signal nobody listened to is gone.
        let signals = Signals::subscribe()?;
        let handle = show()?;
        let nid = handle.id();
        if let Some(old) = self.lock().insert(key.to_owned(), handle) {
            old.close();
        }
        let waited = signals.wait(nid);
        // Gone from the screen: drop its handle unless a newer one took its place.
        let mut shown = self.lock();
        if shown.get(key).is_some_and(|h| h.id() == nid) {
            shown.remove(key);
        }
        waited
    }

    /// Withdraws the notifications of every request not in `keep`.
    pub fn withdraw_except(&self, keep: &[&str]) {
        let gone: Vec<(String, NotificationHandle)> = {
            let mut shown = self.lock();
            let ids: Vec<String> = shown
                .keys()
                .filter(|id| !keep.contains(&id.as_str()))
                .cloned()
                .collect();
            ids.into_iter()
                .filter_map(|id| shown.remove(&id).map(|h| (id, h)))
                .collect()
        };
        for (id, handle) in gone {
            tracing::debug!(request = %id, "notification withdrawn");
            handle.close();
        }
    }

    /// How many notifications are on screen.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The notification daemon's signals (`ActionInvoked`, `NotificationClosed`)
/// on a connection of their own, subscribed to before the notification is
/// shown. (notify-rust's `handle_action` subscribes after, and reads with a
/// new stream for each message, losing those that come in between: a
/// notification withdrawn at once left its waiting thread waiting for ever.)
struct Signals {
    stream: zbus::MessageStream,
}

const NOTIFICATIONS_INTERFACE: &str = "org.freedesktop.Notifications";

impl Signals {
    fn subscribe() -> Result<Self, NotifyError> {
        zbus::block_on(async {
            let connection = zbus::Connection::session().await?;
            let rule = zbus::MatchRule::builder()
                .msg_type(zbus::message::Type::Signal)
                .interface(NOTIFICATIONS_INTERFACE)
                .build()?;
            // The stream is in place when the bus has the subscription.
            let stream = zbus::MessageStream::for_match_rule(rule, &connection, None).await?;
            Ok(Self { stream })
        })
        .map_err(|e: zbus::Error| classify(&e.to_string()))
    }

    /// Until notification `nid` is clicked (`true` if on "open" or the
    /// notification itself) or closed.
    fn wait(mut self, nid: u32) -> Result<bool, NotifyError> {
        zbus::block_on(async {
            while let Some(message) = self.stream.next().await {
                let message = message.map_err(|e| classify(&e.to_string()))?;
                let header = message.header();
                match header.member().map(|m| m.as_str()) {
                    Some("ActionInvoked") => {
                        if let Ok((id, action)) = message.body().deserialize::<(u32, String)>()
                            && id == nid
                        {
                            return Ok(action == "default" || action == OPEN_ACTION);
                        }
                    }
                    Some("NotificationClosed") => {
                        if let Ok((id, _reason)) = message.body().deserialize::<(u32, u32)>()
                            && id == nid
                        {
                            return Ok(false);
                        }
                    }
                    _ => {}
                }
            }
            Err(NotifyError::Failed(
                "the session bus connection closed while a notification was on screen".into(),
            ))
        })
    }
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

/// The title: what the request is for, and from whom; for a backchannel
/// request, with the client's message ("Sign-in requested by X: “Order
/// 1234”"), which is what the user checks.
fn summary(n: &Notice) -> String {
    let client = clip(&n.client_name, 80);
    let label = purpose::request_label(n.purpose, n.backchannel, &client);
    match n.binding_message.as_deref().filter(|_| n.backchannel) {
        Some(m) => format!("{label}: “{}”", plain(m)),
        None => format!("{label}?"),
    }
}

/// The body: where the request comes from, and what to do. Servers may
/// interpret a subset of HTML in bodies, so the requester's strings are
/// escaped (and clipped: a user agent is whatever the requester sent). A
/// backchannel request's body starts with what to check (the binding
/// message, as [`plain`] text) and asks for no number.
fn body(n: &Notice) -> String {
    let client = escape(&clip(&n.client_name, 80));
    let mut body = String::new();
    if n.backchannel {
        let message = n.binding_message.as_deref().map(plain);
        if let Some(check) = purpose::binding_check(true, &client, message.as_deref()) {
            body.push_str(&check);
            body.push('\n');
        }
    }
    body.push_str(&format!("From {}", escape(&clip(&n.requester_ip, 64))));
    if let Some(ua) = n.user_agent.as_deref().filter(|ua| !ua.trim().is_empty()) {
        body.push_str(&format!(" ({})", escape(&clip(ua, 120))));
    }
    if n.backchannel {
        body.push_str("\nOpen Authentiq to approve or deny: there is no number to pick.");
    } else {
        body.push_str("\nOpen Authentiq to pick the number shown on the page.");
    }
    body
}

/// A device notice's body: each line clipped and escaped (the requester's
/// strings are in it).
fn device_body(body: &str) -> String {
    body.lines()
        .map(|l| escape(&clip(l, 160)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A binding message for a notification: one clipped line with `<`, `>`
/// and `&` left out. It is untrusted text the user compares with what the
/// client shows, and daemons differ — some read markup in bodies (even in
/// titles), where an escaped `&amp;` shows as `&`, others show it as
/// `&amp;` — so rather than escape it, what could be markup is dropped. The
/// app and `aq` show the message exactly.
fn plain(message: &str) -> String {
    let kept: String = message
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&'))
        .collect();
    clip(
        kept.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
        64,
    )
}

fn clip(s: &str, max_chars: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// notify-rust's error hides zbus's, so it is told apart by its text: the
/// D-Bus error names, and zbus's messages for a failed connection.
fn classify(message: &str) -> NotifyError {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            id: "job-1".into(),
            client_name: "Example <Shop>".into(),
            purpose: Purpose::SignIn,
            backchannel: false,
            binding_message: None,
            requester_ip: "203.0.113.7".into(),
            user_agent: Some("Mozilla/5.0 <b>x</b> & co".into()),
            expires_at: 1_800_000_120,
        }
    }

    #[test]
    fn body_names_the_requester_escaped_and_says_what_to_do() {
        let b = body(&notice());
        assert!(b.starts_with("From 203.0.113.7 (Mozilla/5.0 &lt;b&gt;x&lt;/b&gt; &amp; co)"));
        assert!(b.ends_with("Open Authentiq to pick the number shown on the page."));
        let no_ua = body(&Notice {
            user_agent: None,
            ..notice()
        });
        assert!(no_ua.starts_with("From 203.0.113.7\n"), "{no_ua}");
    }

    #[test]
    fn the_title_says_what_the_request_is_for() {
        let with = |purpose| {
            summary(&Notice {
                purpose,
                ..notice()
            })
        };
        assert_eq!(with(Purpose::SignIn), "Sign in to Example <Shop>?");
        assert_eq!(
            with(Purpose::Verification),
            "Verify your details for Example <Shop>?"
        );
        assert_eq!(
            with(Purpose::Reauthentication),
            "Confirm it's you for Example <Shop>?"
        );
        let long = Notice {
            client_name: "x".repeat(200),
            purpose: Purpose::Verification,
            ..notice()
        };
        assert_eq!(
            summary(&long),
            format!("Verify your details for {}…?", "x".repeat(80))
        );
    }

    #[test]
    fn a_backchannel_request_says_what_to_check_and_asks_for_no_number() {
        let ciba = Notice {
            client_name: "Example Shop".into(),
            backchannel: true,
            binding_message: Some("Order <b>1234</b> & co".into()),
            ..notice()
        };
        assert_eq!(
            summary(&ciba),
            "Sign-in requested by Example Shop: “Order b1234/b co”"
        );
        let b = body(&ciba);
        assert!(
            b.starts_with("Check that Example Shop shows: Order b1234/b co\nFrom 203.0.113.7 ("),
            "{b}"
        );
        assert!(
            b.ends_with("Open Authentiq to approve or deny: there is no number to pick."),
            "{b}"
        );
        assert!(!b.contains("pick the number"), "{b}");
        // No markup the message brought survives, escaped or not.
        let message = b.lines().next().unwrap();
        assert!(!message.contains(['<', '>', '&']), "{message}");

        let quiet = Notice {
            binding_message: None,
            ..ciba.clone()
        };
        assert_eq!(summary(&quiet), "Sign-in requested by Example Shop?");
        assert!(
            body(&quiet).starts_with("Example Shop sent no message to check"),
            "{}",
            body(&quiet)
        );
        // A message on a request matched by number is not shown.
        let page = Notice {
            backchannel: false,
            ..ciba
        };
        assert_eq!(summary(&page), "Sign in to Example Shop?");
        assert!(!body(&page).contains("Order"));
        // Clipped, on one line.
        assert_eq!(
            plain(&format!("a\n{}", "b".repeat(100))),
            format!("a {}…", "b".repeat(62))
        );
    }

    #[test]
    fn a_device_notice_keeps_its_lines_escaped_and_ends_when_moot() {
        assert_eq!(
            device_body("“<b>Laptop</b>” from 192.0.2.1\nOpen Authentiq"),
            "“&lt;b&gt;Laptop&lt;/b&gt;” from 192.0.2.1\nOpen Authentiq"
        );
        let n = DeviceNotice {
            id: "https://id.example/link/p1".into(),
            title: "A new device asks to join your Authentiq ID".into(),
            body: "x".into(),
            expires_at: 1_800_000_100,
        };
        let d = DesktopNotifier::new();
        assert!(d.build_device(&n, 1_800_000_000).is_some());
        assert!(d.build_device(&n, 1_800_000_100).is_none());
    }

    #[test]
    fn long_or_control_text_is_clipped() {
        assert_eq!(clip("ab\ncd", 10), "abcd");
        assert_eq!(clip(&"é".repeat(10), 3), "ééé…");
    }

    #[test]
    fn times_out_at_expiry_and_expired_is_not_shown() {
        let d = DesktopNotifier::new();
        assert!(d.build(&notice(), 1_800_000_000).is_some());
        assert!(d.build(&notice(), 1_800_000_120).is_none());
        assert!(d.build(&notice(), i64::MIN).is_none());
        let far = Notice {
            expires_at: i64::MAX,
            ..notice()
        };
        assert!(d.build(&far, 0).is_some());
    }

    #[test]
    fn errors_are_classified() {
        let e = classify(
            "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.Notifications \
             was not provided by any .service files",
        );
        assert!(matches!(e, NotifyError::NoDaemon(_)));
        assert!(e.to_string().starts_with("No notification daemon"));
        let e = classify("I/O error: No such file or directory (os error 2)");
        assert!(matches!(e, NotifyError::NoDaemon(_)));
        assert!(e.to_string().starts_with("There is no D-Bus session bus"));
        assert!(matches!(classify("other"), NotifyError::Failed(_)));
    }

    #[derive(Debug)]
    struct Broken;
    impl Notifier for Broken {
        fn sign_in_request(&self, _: &Notice) -> Result<(), NotifyError> {
            Err(NotifyError::NoDaemon("none".into()))
        }
    }

    #[test]
    fn notify_or_log_is_never_fatal() {
        assert!(!notify_or_log(&Broken, &notice()));
    }
}
