//! How long the app took to show its first screen. `run()` notes when it
//! began; the front end says when its first screen has been painted
//! (`ui_painted`), and that is logged once, at `info` on this module's
//! target (`AQ_LOG=authentiq_desktop::startup=info`), with the wall clock,
//! so that `bench-desktop` can measure from the moment it spawned the
//! process. The steps before it (setup, window made, the UI's first
//! command) are logged the same way, to see where the time goes.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

static STARTED: OnceLock<Instant> = OnceLock::new();
static PAINTED: AtomicBool = AtomicBool::new(false);

/// Called first thing in `run()`.
pub fn begin() {
    let _ = STARTED.set(Instant::now());
}

/// A step of the start, logged with the time since `run()` began (the
/// first time only: later windows are not the start).
pub fn mark(step: &'static str) {
    if PAINTED.load(Ordering::SeqCst) {
        return;
    }
    let since_run_ms = STARTED
        .get()
        .map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3);
    tracing::info!(since_run_ms = format_args!("{since_run_ms:.1}"), "{step}");
}

/// The first screen is on the window (later calls, e.g. after the window
/// was closed and opened again, are not a start and are ignored).
pub fn painted() {
    if PAINTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let since_run_ms = STARTED.get().map(|t| t.elapsed().as_secs_f64() * 1e3);
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or_default();
    tracing::info!(
        unix_ms = format_args!("{unix_ms:.1}"),
        since_run_ms = format_args!("{:.1}", since_run_ms.unwrap_or_default()),
        "first paint"
    );
}
