//! A cap on the long-lived streams (a sign-in page's live status) that one
//! client address holds open at once, so nobody can tie up the server with
//! idle connections. Counted per instance, in memory: a stream is a
//! connection to this instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct StreamLimiter {
    open: Mutex<HashMap<String, usize>>,
}

/// One open stream; frees its place when dropped (the stream ends).
#[derive(Debug)]
pub struct StreamSlot {
    limiter: Arc<StreamLimiter>,
    key: String,
}

impl StreamLimiter {
    /// A place for one more stream from `key`, unless it holds `max` already.
    pub fn acquire(self: &Arc<Self>, key: &str, max: usize) -> Option<StreamSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(key.to_string()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            limiter: Arc::clone(self),
            key: key.to_string(),
        })
    }

    /// Streams open from `key`.
    pub fn open(&self, key: &str) -> usize {
        self.open
            .lock()
            .map(|m| m.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.limiter.open.lock()
            && let Some(n) = open.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_per_key_and_places_come_back() {
        let l = Arc::new(StreamLimiter::default());
        let a = l.acquire("1.1.1.1", 2);
        let b = l.acquire("1.1.1.1", 2);
        assert!(a.is_some() && b.is_some());
        assert!(l.acquire("1.1.1.1", 2).is_none());
        assert!(l.acquire("2.2.2.2", 2).is_some(), "per address");
        drop(a);
        assert_eq!(l.open("1.1.1.1"), 1);
        assert!(l.acquire("1.1.1.1", 2).is_some());
        drop(b);
        assert_eq!(l.open("1.1.1.1"), 0);
    }
}
