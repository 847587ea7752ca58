//! Live device channels: who is connected, and handing them new events.
//!
//! Events are stored before they are published, so the hub may drop
//! anything: a connection whose buffer is full is cut off and replays from
//! the store when it reconnects. Publishing never waits on a client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::store::StoredEvent;

/// Events buffered per connection before it counts as too slow.
pub const BUFFER: usize = 32;

#[derive(Debug, Clone)]
pub enum Push {
    Event(StoredEvent),
    /// The key was revoked: end the stream after what came before.
    Close,
}

/// The open connections of one key, by connection id.
type Connections = Vec<(u64, mpsc::Sender<Push>)>;

#[derive(Debug, Default)]
pub struct Hub {
    next_id: AtomicU64,
    channels: Mutex<HashMap<String, Connections>>,
}

/// A connection's end of the hub; leaving the hub when dropped.
#[derive(Debug)]
pub struct Subscription<'a> {
    hub: &'a Hub,
    pk: String,
    id: u64,
    pub rx: mpsc::Receiver<Push>,
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        self.hub.remove(&self.pk, self.id);
    }
}

impl Hub {
    pub fn subscribe(&self, pk: &str) -> Subscription<'_> {
        let (tx, rx) = mpsc::channel(BUFFER);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.channels.lock() {
            map.entry(pk.to_string()).or_default().push((id, tx));
        }
        Subscription {
            hub: self,
            pk: pk.to_string(),
            id,
            rx,
        }
    }

    fn remove(&self, pk: &str, id: u64) {
        if let Ok(mut map) = self.channels.lock()
            && let Some(list) = map.get_mut(pk)
        {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                map.remove(pk);
            }
        }
    }

    /// Hands `push` to every connection of `pk` without waiting; a full or
    /// closed connection is dropped from the hub.
    pub fn publish(&self, pk: &str, push: Push) {
        if let Ok(mut map) = self.channels.lock()
            && let Some(list) = map.get_mut(pk)
        {
            list.retain(|(_, tx)| tx.try_send(push.clone()).is_ok());
            if list.is_empty() {
                map.remove(pk);
            }
        }
    }

    /// Open connections in all.
    pub fn connections(&self) -> usize {
        self.channels
            .lock()
            .map(|m| m.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64) -> Push {
        Push::Event(StoredEvent {
            id,
            pk: "k".into(),
            kind: "scope-job".into(),
            data: "jwt".into(),
            expires_at: 0,
        })
    }

    #[test]
    fn publishes_to_every_connection_of_the_key_only() {
        let hub = Hub::default();
        let mut a = hub.subscribe("k");
        let mut b = hub.subscribe("k");
        let mut other = hub.subscribe("o");
        hub.publish("k", ev(1));
        assert!(matches!(a.rx.try_recv(), Ok(Push::Event(e)) if e.id == 1));
        assert!(matches!(b.rx.try_recv(), Ok(Push::Event(e)) if e.id == 1));
        assert!(other.rx.try_recv().is_err());
        assert_eq!(hub.connections(), 3);
        drop(a);
        assert_eq!(hub.connections(), 2);
    }

    #[test]
    fn a_slow_connection_is_cut_off_without_blocking() {
        let hub = Hub::default();
        let slow = hub.subscribe("k");
        let mut fast = hub.subscribe("k");
        for i in 0..BUFFER as i64 {
            hub.publish("k", ev(i));
            assert!(fast.rx.try_recv().is_ok());
        }
        hub.publish("k", ev(99)); // slow's buffer is full now
        assert!(matches!(fast.rx.try_recv(), Ok(Push::Event(e)) if e.id == 99));
        assert_eq!(hub.connections(), 1);
        drop(slow);
    }
}
