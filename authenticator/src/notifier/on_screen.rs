//! The notifications on screen ([`OnScreen`]): each shown, waited for
//! until it is clicked, closed or withdrawn, and withdrawn once its request
//! is over; the daemon's signals read on a connection of their own.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use futures_util::StreamExt as _;
use notify_rust::NotificationHandle;

use super::desktop::{DesktopNotifier, classify};
use super::{DeviceNotice, Notice, NotifyError, OPEN_ACTION};

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
