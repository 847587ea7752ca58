//! A closed-loop load generator: `concurrency` workers pull request numbers
//! from a shared counter until `n` are done, timing each one.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;

/// One request: which, how long it took, and what came of it.
#[derive(Debug)]
pub struct Outcome<T> {
    pub index: usize,
    pub latency: Duration,
    pub result: Result<T, String>,
}

/// All requests of a phase, in request order.
#[derive(Debug)]
pub struct Load<T> {
    pub wall: Duration,
    pub outcomes: Vec<Outcome<T>>,
}

impl<T> Load<T> {
    /// Latencies of the successful requests.
    pub fn ok_latencies(&self) -> Vec<Duration> {
        self.outcomes
            .iter()
            .filter(|o| o.result.is_ok())
            .map(|o| o.latency)
            .collect()
    }

    /// Failures by reason.
    pub fn errors(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for o in &self.outcomes {
            if let Err(e) = &o.result {
                *out.entry(e.clone()).or_insert(0) += 1;
            }
        }
        out
    }
}

/// Runs `op(0..n)` with `concurrency` in flight, printing progress every
/// five seconds under `label`. Every `op` must bound its own time.
pub async fn run<T, F, Fut>(
    label: &str,
    n: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<Load<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let progress = tokio::spawn({
        let (done, label) = (Arc::clone(&done), label.to_string());
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                let d = done.load(Ordering::Relaxed);
                let rate = d as f64 / start.elapsed().as_secs_f64();
                println!("    {label}: {d}/{n} done ({rate:.0}/s)");
            }
        }
    });
    let mut set = JoinSet::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let (op, next, done) = (Arc::clone(&op), Arc::clone(&next), Arc::clone(&done));
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= n {
                    break;
                }
                let t = Instant::now();
                let result = op(index).await;
                out.push(Outcome {
                    index,
                    latency: t.elapsed(),
                    result,
                });
                done.fetch_add(1, Ordering::Relaxed);
            }
            out
        });
    }
    let mut outcomes = Vec::with_capacity(n);
    while let Some(worker) = set.join_next().await {
        outcomes.extend(worker.context("a load worker panicked")?);
    }
    let wall = start.elapsed();
    progress.abort();
    outcomes.sort_by_key(|o| o.index);
    Ok(Load { wall, outcomes })
}
