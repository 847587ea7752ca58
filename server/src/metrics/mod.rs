//! What the server counts, exported at `GET /metrics` in the Prometheus
//! text format. Every metric name is in this module.
//!
//! Each server has its own [`Metrics`] (its own registry): tests start many
//! servers in one process and read each one's numbers alone. The database
//! metrics are the exception: `Db::call` has no server to hand, so they are
//! process-wide (one server per process in production, the same numbers)
//! and every server's registry exports them.

mod http;

use std::sync::LazyLock;
use std::time::Instant;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::oidc::session::{GrantLink, SessionData};

pub use http::{access_log, metrics_only, metrics_router, track_requests};

/// Requests answered, by route (axum's matched path, never the raw path),
/// method and status.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time to the response's headers (a stream's opening, not its length).
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Sign-ins by flow (`browser`, `ciba`, `device`, `sdk`) and outcome
/// (`started`, `approved`, `denied`, `expired`).
pub const SIGN_INS: &str = "authentiq_sign_ins_total";
/// Sign-in requests pushed to a key's devices.
pub const PUSHES_SENT: &str = "authentiq_pushes_sent_total";
/// Pushes the push gate refused, by reason (the error type, e.g.
/// `rate-limit`, `push-blocked`, `revoked-key`).
pub const PUSHES_REFUSED: &str = "authentiq_pushes_refused_total";
/// Device channels open now.
pub const DEVICE_CHANNELS: &str = "authentiq_device_channels_open";
/// Time one database call takes, inline or on the blocking pool (queueing
/// there included).
pub const DB_DURATION: &str = "authentiq_db_call_duration_seconds";
/// Database calls running or waiting now.
pub const DB_IN_FLIGHT: &str = "authentiq_db_calls_in_flight";
/// The connection pool, by `state` (`idle`, `in_use`), when the store has
/// one: see [`db_pool`].
pub const DB_POOL: &str = "authentiq_db_pool_connections";

/// Route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What happened to a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Approved,
    Denied,
    /// Its waiting party was told it expired unanswered: the page's live
    /// status, or for [`is_polled`] flows the client's poll (counted each
    /// time it is told; a client stops polling then).
    Expired,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Approved => "approved",
            Outcome::Denied => "denied",
            Outcome::Expired => "expired",
        }
    }
}

/// The flow label of a sign-in session.
pub fn flow(data: &SessionData) -> &'static str {
    match &data.link {
        Some(GrantLink::Ciba { .. }) => "ciba",
        Some(GrantLink::Device { .. }) => "device",
        None if !data.purpose.is_sign_in() => "sdk",
        None => "browser",
    }
}

/// Whether the client polls `/token` for the flow's outcome (CIBA, the
/// device grant), and so hears of its expiry there rather than on a page.
pub fn is_polled(flow: &str) -> bool {
    matches!(flow, "ciba" | "device")
}

/// One server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    sign_ins: IntCounterVec,
    pushes_sent: IntCounter,
    pushes_refused: IntCounterVec,
    channels: IntGauge,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(HTTP_REQUESTS, "HTTP requests answered"),
            &["route", "method", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(HTTP_DURATION, "Time to the response headers")
                .buckets(BUCKETS.into()),
            &["route", "method"],
        )?;
        let sign_ins = IntCounterVec::new(
            Opts::new(SIGN_INS, "Sign-ins by flow and outcome"),
            &["flow", "outcome"],
        )?;
        let pushes_sent = IntCounter::new(PUSHES_SENT, "Sign-in requests pushed to devices")?;
        let pushes_refused = IntCounterVec::new(
            Opts::new(PUSHES_REFUSED, "Pushes refused by the push gate"),
            &["reason"],
        )?;
        let channels = IntGauge::new(DEVICE_CHANNELS, "Device channels open")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(pushes_sent.clone()))?;
        registry.register(Box::new(pushes_refused.clone()))?;
        registry.register(Box::new(channels.clone()))?;
        match &*DB {
            Ok(db) => {
                registry.register(Box::new(db.duration.clone()))?;
                registry.register(Box::new(db.in_flight.clone()))?;
                registry.register(Box::new(db.pool.clone()))?;
            }
            Err(e) => return Err(prometheus::Error::Msg(e.to_string())),
        }
        Ok(Self {
            registry,
            requests,
            durations,
            sign_ins,
            pushes_sent,
            pushes_refused,
            channels,
        })
    }

    /// The Prometheus text format of every metric.
    pub fn render(&self) -> prometheus::Result<String> {
        prometheus::TextEncoder::new().encode_to_string(&self.registry.gather())
    }

    /// A request answered; `route` is the matched path or [`UNMATCHED`].
    pub fn request(&self, route: &str, method: &str, status: u16, started: Instant) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[route, method, status.as_str()])
            .inc();
        self.durations
            .with_label_values(&[route, method])
            .observe(started.elapsed().as_secs_f64());
    }

    pub fn sign_in(&self, data: &SessionData, outcome: Outcome) {
        self.sign_in_flow(flow(data), outcome);
    }

    /// `flow`: one of [`flow`]'s names.
    pub fn sign_in_flow(&self, flow: &'static str, outcome: Outcome) {
        self.sign_ins
            .with_label_values(&[flow, outcome.as_str()])
            .inc();
    }

    pub fn push_sent(&self) {
        self.pushes_sent.inc();
    }

    /// `reason`: the refusal's error type.
    pub fn push_refused(&self, reason: &'static str) {
        self.pushes_refused.with_label_values(&[reason]).inc();
    }

    /// Counts a device channel as open until the guard is dropped.
    pub fn channel_open(&self) -> OpenChannel {
        self.channels.inc();
        OpenChannel(self.channels.clone())
    }
}

/// An open device channel: counted until dropped.
#[derive(Debug)]
pub struct OpenChannel(IntGauge);

impl Drop for OpenChannel {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The process-wide database metrics.
#[derive(Debug)]
struct DbMetrics {
    duration: Histogram,
    in_flight: IntGauge,
    pool: IntGaugeVec,
}

static DB: LazyLock<prometheus::Result<DbMetrics>> = LazyLock::new(|| {
    Ok(DbMetrics {
        duration: Histogram::with_opts(
            HistogramOpts::new(DB_DURATION, "Time one database call takes").buckets(BUCKETS.into()),
        )?,
        in_flight: IntGauge::new(DB_IN_FLIGHT, "Database calls running or waiting")?,
        pool: IntGaugeVec::new(
            Opts::new(DB_POOL, "Database pool connections by state"),
            &["state"],
        )?,
    })
});

/// A database call under way: counted in flight, and its time observed,
/// until dropped.
#[derive(Debug)]
pub struct DbCall(Instant);

/// Starts counting one database call (see [`DbCall`]).
pub fn db_call() -> DbCall {
    if let Ok(db) = &*DB {
        db.in_flight.inc();
    }
    DbCall(Instant::now())
}

impl Drop for DbCall {
    fn drop(&mut self) {
        if let Ok(db) = &*DB {
            db.in_flight.dec();
            db.duration.observe(self.0.elapsed().as_secs_f64());
        }
    }
}

/// The store's connection pool now: connections `in_use` and `idle`. For
/// a store with a pool (PostgreSQL) to call when it looks; SQLite has none
/// and the metric stays empty.
pub fn db_pool(in_use: u32, idle: u32) {
    if let Ok(db) = &*DB {
        db.pool
            .with_label_values(&["in_use"])
            .set(i64::from(in_use));
        db.pool.with_label_values(&["idle"]).set(i64::from(idle));
    }
}
