//! A client's usage on its page: sign-ins per day over the last 30 days
//! (approved, denied and expired, from the security event log) as a small SVG bar
//! chart, and its most recent security events.

use serde::Serialize;

use crate::store::{EventFilter, SecurityEvent};
use crate::{ApiError, AppState};

/// Days in the chart, today included.
pub const DAYS: i64 = 30;
const DAY: i64 = 86_400;
/// Events read for the chart, at most (a busier client's oldest days
/// are then undercounted; the page says so).
const MAX_EVENTS: u32 = 20_000;
const RECENT: usize = 10;

/// The chart's drawing area, in SVG units.
const WIDTH: i64 = 300;
const HEIGHT: i64 = 100;
const BAR: i64 = WIDTH / DAYS;

/// One day's bar.
#[derive(Debug, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub approved: u32,
    pub denied: u32,
    pub expired: u32,
    pub x: i64,
    pub width: i64,
    /// The approved part sits on the denied part, which sits on the
    /// expired part, which sits on the axis.
    pub approved_y: i64,
    pub approved_height: i64,
    pub denied_y: i64,
    pub denied_height: i64,
    pub expired_y: i64,
    pub expired_height: i64,
}

/// A recent event, for people.
#[derive(Debug, Serialize)]
pub struct EventRow {
    pub at: String,
    pub what: &'static str,
    pub key: String,
    pub ip: String,
}

#[derive(Debug, Serialize)]
pub struct Usage {
    pub days: Vec<Day>,
    pub approved: u32,
    pub denied: u32,
    pub expired: u32,
    /// The most per day, the chart's scale.
    pub max: u32,
    pub width: i64,
    pub height: i64,
    pub capped: bool,
    pub recent: Vec<EventRow>,
}

fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|_| t.to_string())
}

pub(super) fn moment(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| format!("{} {:02}:{:02} UTC", date(t), d.hour(), d.minute()))
        .unwrap_or_else(|_| t.to_string())
}

/// A logged kind for people ([`crate::security::events::Kind::label`]).
pub(super) fn label(kind: &str) -> &'static str {
    crate::security::events::Kind::parse(kind).map_or("Other event", |k| k.label())
}

/// What counts as a denied sign-in in the chart.
fn is_denied(kind: &str) -> bool {
    matches!(kind, "sign-in-denied" | "sign-in-reported" | "wrong-number")
}

/// The chart and the recent events of `client_id`, as of `now`.
pub fn build(events: &[SecurityEvent], now: i64) -> Usage {
    let first_day = now.div_euclid(DAY) - (DAYS - 1);
    let mut approved = vec![0u32; DAYS as usize];
    let mut denied = vec![0u32; DAYS as usize];
    let mut expired = vec![0u32; DAYS as usize];
    for e in events {
        let Ok(i) = usize::try_from(e.at.div_euclid(DAY) - first_day) else {
            continue;
        };
        let counts = if e.kind == "sign-in-approved" {
            &mut approved
        } else if is_denied(&e.kind) {
            &mut denied
        } else if e.kind == "sign-in-expired" {
            &mut expired
        } else {
            continue;
        };
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    let max = (0..DAYS as usize)
        .map(|i| approved[i] + denied[i] + expired[i])
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: u32| i64::from(n) * HEIGHT / i64::from(max);
    let days = (0..DAYS)
        .map(|i| {
            let i_ = i as usize;
            let (a, d, x) = (approved[i_], denied[i_], expired[i_]);
            // Each part's top is the scaled running total, so the bars
            // add up exactly.
            let (xt, dt, at) = (scale(x), scale(x + d), scale(x + d + a));
            Day {
                date: date((first_day + i) * DAY),
                approved: a,
                denied: d,
                expired: x,
                x: i * BAR,
                width: BAR - 2,
                expired_y: HEIGHT - xt,
                expired_height: xt,
                denied_y: HEIGHT - dt,
                denied_height: dt - xt,
                approved_y: HEIGHT - at,
                approved_height: at - dt,
            }
        })
        .collect();
    // Newest first (the log is in the order events were written).
    let mut newest: Vec<&SecurityEvent> = events.iter().collect();
    newest.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
    let recent = newest
        .into_iter()
        .take(RECENT)
        .map(|e| EventRow {
            at: moment(e.at),
            what: label(&e.kind),
            key: e
                .pk
                .as_deref()
                .map(|pk| format!("{}…", pk.chars().take(10).collect::<String>()))
                .unwrap_or_default(),
            ip: e.ip.clone().unwrap_or_default(),
        })
        .collect();
    Usage {
        days,
        approved: approved.iter().sum(),
        denied: denied.iter().sum(),
        expired: expired.iter().sum(),
        max,
        width: WIDTH,
        height: HEIGHT,
        capped: events.len() >= MAX_EVENTS as usize,
        recent,
    }
}

/// Reads the last 30 days of `client_id`'s events and builds its usage.
pub async fn of(state: &AppState, client_id: &str) -> Result<Usage, ApiError> {
    let now = state.now();
    let filter = EventFilter {
        client_id: Some(client_id.to_string()),
        since: Some((now.div_euclid(DAY) - (DAYS - 1)) * DAY),
        ..EventFilter::default()
    };
    let events = state
        .db
        .call(move |s| s.list_security_events(&filter, MAX_EVENTS))
        .await?;
    Ok(build(&events, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: i64, kind: &str) -> SecurityEvent {
        SecurityEvent {
            id: 0,
            at,
            kind: kind.into(),
            pk: Some("abcdefghijklmnop".into()),
            client_id: Some("c".into()),
            ip: Some("192.0.2.1".into()),
            detail: None,
        }
    }

    #[test]
    fn days_are_counted_and_scaled() {
        let now = 1_764_590_400; // 2025-12-01 12:00 UTC
        let events = [
            event(now, "sign-in-approved"),
            event(now - 60, "sign-in-approved"),
            event(now - 2 * DAY, "sign-in-denied"),
            event(now - 2 * DAY, "wrong-number"),
            event(now - 3 * DAY, "signed-out"),
            event(now - 3 * DAY, "sign-in-expired"),
            event(now - 40 * DAY, "sign-in-approved"),
        ];
        let u = build(&events, now);
        assert_eq!(u.days.len(), 30);
        assert_eq!((u.approved, u.denied, u.expired, u.max), (2, 2, 1, 2));
        let today = &u.days[29];
        assert_eq!(today.date, "2025-12-01");
        assert_eq!((today.approved, today.approved_height), (2, HEIGHT));
        let two_ago = &u.days[27];
        assert_eq!(
            (two_ago.denied, two_ago.denied_height, two_ago.denied_y),
            (2, HEIGHT, 0)
        );
        let three_ago = &u.days[26];
        assert_eq!(
            (
                three_ago.expired,
                three_ago.expired_height,
                three_ago.expired_y
            ),
            (1, HEIGHT / 2, HEIGHT / 2)
        );
        assert_eq!((three_ago.denied_height, three_ago.approved_height), (0, 0));
        assert_eq!(u.days[0].date, "2025-11-02");
        assert_eq!(u.recent.len(), 7);
        assert_eq!(u.recent[0].what, "Sign-in approved");
        assert_eq!(u.recent[0].at, "2025-12-01 12:00 UTC");
        assert_eq!(u.recent[0].key, "abcdefghij…");
    }
}
