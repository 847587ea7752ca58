//! Push-to-device latency: sequential `POST /login` pushes, each timed
//! until its `sign-in` event arrives on the key's idle device channel.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use rand_core::{OsRng, RngCore};
use reqwest::StatusCode;

use crate::channel::Channel;
use crate::device::Device;
use crate::{expect_status, request_error};

/// Where pushes say the sign-in response goes (covered by the push tokens' `aud`).
const CALLBACK: &str = "https%3A%2F%2Frp.example%2Fcb";
/// Each push sample gives up after this long (and counts as a failure).
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Sampling stops after this many failures in a row.
const MAX_FAILURES_IN_A_ROW: usize = 10;

/// An open channel and the device whose it is.
#[derive(Debug)]
pub struct Open {
    pub device: usize,
    pub channel: Channel,
    /// False after a failed sample: a late event could still arrive on it.
    pub usable: bool,
}

#[derive(Debug, Default)]
pub struct Samples {
    pub count: usize,
    /// Push → event latencies of the successful samples, unsorted.
    pub latencies: Vec<Duration>,
    /// How long the POST itself took to be answered.
    pub post_latencies: Vec<Duration>,
    pub errors: BTreeMap<String, usize>,
    pub wall: Duration,
    pub aborted: Option<String>,
}

/// Takes `n` samples, `gap` apart, each on a random usable channel.
pub async fn sample(
    http: &reqwest::Client,
    server_url: &str,
    devices: &[Device],
    open: &mut [Open],
    n: usize,
    gap: Duration,
) -> anyhow::Result<Samples> {
    let started = Instant::now();
    let mut out = Samples::default();
    let mut failures_in_a_row = 0;
    let login_url = format!("{server_url}/login?callback={CALLBACK}");
    for s in 0..n {
        if s > 0 && s % 50 == 0 {
            println!("    push: {s}/{n} samples");
        }
        let usable = open.iter().filter(|o| o.usable).count();
        if usable == 0 {
            out.aborted = Some("no usable channel left".into());
            break;
        }
        // A random usable channel.
        let mut k = OsRng.next_u32() as usize % open.len();
        while !open[k].usable {
            k = (k + 1) % open.len();
        }
        let o = &mut open[k];
        let token = devices[o.device].push_token().map_err(|e| anyhow!(e))?;
        out.count += 1;
        let start = Instant::now();
        let post = async {
            let res = http
                .post(&login_url)
                .header("content-type", "application/jwt")
                .body(token)
                .send()
                .await
                .map_err(|e| format!("POST /login: {}", request_error(&e)))?;
            expect_status(res, StatusCode::OK)
                .await
                .map_err(|e| format!("POST /login: {e}"))?;
            Ok::<_, String>(start.elapsed())
        };
        let event = async {
            let ev = o.channel.next_event().await?;
            Ok::<_, String>((ev, start.elapsed()))
        };
        let outcome =
            match tokio::time::timeout(SAMPLE_TIMEOUT, async { tokio::try_join!(post, event) })
                .await
            {
                Err(_) => {
                    o.usable = false;
                    Err(format!("no event within {} s", SAMPLE_TIMEOUT.as_secs()))
                }
                Ok(Err(e)) => {
                    if !e.starts_with("POST /login") {
                        o.usable = false;
                    }
                    Err(e)
                }
                Ok(Ok((post_took, (ev, took)))) => {
                    out.post_latencies.push(post_took);
                    if ev.event.as_deref() != Some("sign-in") {
                        o.usable = false;
                        Err(format!("unexpected event {:?}", ev.event))
                    } else if ev.data.split('.').count() != 3 {
                        Err("the sign-in event's data is not a compact JWT".into())
                    } else {
                        Ok(took)
                    }
                }
            };
        match outcome {
            Ok(took) => {
                out.latencies.push(took);
                failures_in_a_row = 0;
            }
            Err(e) => {
                *out.errors.entry(e).or_insert(0) += 1;
                failures_in_a_row += 1;
                if failures_in_a_row >= MAX_FAILURES_IN_A_ROW {
                    out.aborted = Some(format!("{failures_in_a_row} failures in a row"));
                    break;
                }
            }
        }
        tokio::time::sleep(gap).await;
    }
    out.wall = started.elapsed();
    Ok(out)
}
