//! Change signals: "this key has new device events", "this sign-in session
//! changed". A signal carries nothing but the fact of a change; whoever
//! waits on it re-reads the store from where it left off, so a signal can
//! never be reordered, dropped or overtaken by its data, and a slow
//! listener costs nothing.
//!
//! On PostgreSQL the instances share their signals ([`postgres`]): a
//! signal raised here is also sent to the others, and theirs arrive here,
//! so a device channel held by one instance wakes for an event another
//! stored.

pub mod postgres;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tokio::sync::{mpsc, watch};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// New events for a key's device channels.
    Key(String),
    /// A sign-in session's record changed.
    Session(String),
    /// Something was queued for delivery to another server.
    Outgoing,
    /// The stored signing keys changed (rotated).
    Keys,
}

#[derive(Debug, Default)]
pub struct Hub {
    /// A counter per watched topic, bumped on every signal.
    topics: Mutex<HashMap<Topic, watch::Sender<u64>>>,
    /// Where signals go to reach the other instances, once relayed.
    relay: OnceLock<mpsc::UnboundedSender<Topic>>,
}

/// One listener's view of a topic; leaves the hub when dropped.
#[derive(Debug)]
pub struct Watch<'a> {
    hub: &'a Hub,
    topic: Topic,
    rx: watch::Receiver<u64>,
}

impl Watch<'_> {
    /// Waits for a signal raised after this watch was made or after the
    /// previous `changed` returned. Signals raised meanwhile collapse into
    /// one: the listener re-reads everything new anyway.
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            // The hub keeps the sender while a watch exists; never here.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.hub.topics.lock()
            && map
                .get(&self.topic)
                .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            map.remove(&self.topic);
        }
    }
}

impl Hub {
    /// Starts listening to `topic`: every later [`Hub::signal`] wakes it.
    pub fn watch(&self, topic: Topic) -> Watch<'_> {
        let rx = match self.topics.lock() {
            Ok(mut map) => map
                .entry(topic.clone())
                .or_insert_with(|| watch::channel(0).0)
                .subscribe(),
            // A poisoned map: a watch that is never signalled, so its
            // listener falls back to its own timeout.
            Err(_) => watch::channel(0).1,
        };
        Watch {
            hub: self,
            topic,
            rx,
        }
    }

    /// Wakes everyone watching `topic`, here and (when relayed) on the
    /// other instances, without waiting on anyone.
    pub fn signal(&self, topic: &Topic) {
        self.signal_here(topic);
        if let Some(relay) = self.relay.get() {
            // Closed only when the relay task ended with the server.
            let _ = relay.send(topic.clone());
        }
    }

    /// Wakes the watchers of `topic` on this instance only.
    pub fn signal_here(&self, topic: &Topic) {
        if let Ok(map) = self.topics.lock()
            && let Some(tx) = map.get(topic)
        {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Wakes every watcher on this instance (after signals may have been
    /// missed: each re-reads and finds what is new).
    pub fn signal_all_here(&self) {
        if let Ok(map) = self.topics.lock() {
            for tx in map.values() {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// From now on, [`Hub::signal`] also hands each topic to `relay`.
    /// Returns false if a relay was already set.
    pub fn relay_to(&self, relay: mpsc::UnboundedSender<Topic>) -> bool {
        self.relay.set(relay).is_ok()
    }

    /// Listeners of device channels (open channels) in all.
    pub fn connections(&self) -> usize {
        self.topics
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(t, _)| matches!(t, Topic::Key(_)))
                    .map(|(_, tx)| tx.receiver_count())
                    .sum()
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use std::time::Duration;

    fn key(k: &str) -> Topic {
        Topic::Key(k.into())
    }

    async fn woken(w: &mut Watch<'_>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), w.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn signals_wake_the_topics_watchers_only() {
        let hub = Hub::default();
        let mut a = hub.watch(key("k"));
        let mut b = hub.watch(key("k"));
        let mut other = hub.watch(key("o"));
        let mut session = hub.watch(Topic::Session("k".into()));
        hub.signal(&key("k"));
        assert!(woken(&mut a).await);
        assert!(woken(&mut b).await);
        assert!(!woken(&mut other).await);
        assert!(!woken(&mut session).await);
        assert!(!woken(&mut a).await, "one signal wakes once");
        assert_eq!(hub.connections(), 3);
        drop(a);
        assert_eq!(hub.connections(), 2);
        drop((b, other));
        assert_eq!(hub.connections(), 0);
        assert_eq!(hub.topics.lock().unwrap().len(), 1, "the session's topic");
    }

    #[tokio::test]
    async fn many_signals_collapse_and_nobody_is_cut_off() {
        let hub = Hub::default();
        let mut slow = hub.watch(key("k"));
        for _ in 0..10_000 {
            hub.signal(&key("k"));
        }
        assert!(woken(&mut slow).await);
        assert!(!woken(&mut slow).await);
        assert_eq!(hub.connections(), 1);
        hub.signal(&key("k"));
        assert!(woken(&mut slow).await);
    }
}
