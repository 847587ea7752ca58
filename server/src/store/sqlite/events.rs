//! Device events (replayed on reconnect), rate-limit counters, the
//! security event log, and the queue of outgoing requests.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{Cached, backend};
use crate::store::{
    EventCount, EventFilter, Outgoing, RateDecision, SecurityEvent, StoreResult, StoredEvent,
};

pub(super) fn insert_event(
    c: &Connection,
    pk: &str,
    kind: &str,
    data: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<i64> {
    c.prepare_cached(
        "INSERT INTO events (pk, kind, data, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.insert(params![pk, kind, data, now, expires_at]))
    .map_err(backend)
}

pub(super) fn events_after(
    c: &Connection,
    pk: &str,
    after: i64,
    now: i64,
) -> StoreResult<Vec<StoredEvent>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT id, pk, kind, data, expires_at FROM events
             WHERE pk = ?1 AND id > ?2 AND expires_at > ?3 ORDER BY id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![pk, after, now], |r| {
            Ok(StoredEvent {
                id: r.get(0)?,
                pk: r.get(1)?,
                kind: r.get(2)?,
                data: r.get(3)?,
                expires_at: r.get(4)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

/// Counts a hit in a fixed window (inside the caller's write transaction).
pub(super) fn rate_hit(
    c: &Connection,
    bucket: &str,
    limit: u32,
    window: u64,
    now: i64,
) -> StoreResult<RateDecision> {
    let window = i64::try_from(window).unwrap_or(i64::MAX);
    let row: Option<(i64, u32)> = c
        .prepare_cached("SELECT window_start, count FROM rate_buckets WHERE bucket = ?1")
        .and_then(|mut s| {
            s.query_row([bucket], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    let decision = match row {
        Some((start, count)) if start.saturating_add(window) > now => {
            if count >= limit {
                let wait = start.saturating_add(window).saturating_sub(now);
                RateDecision::Limited {
                    retry_after: u64::try_from(wait).unwrap_or(1).max(1),
                }
            } else {
                c.prepare_cached("UPDATE rate_buckets SET count = count + 1 WHERE bucket = ?1")
                    .and_then(|mut s| s.execute([bucket]))
                    .map_err(backend)?;
                RateDecision::Allowed
            }
        }
        _ if limit == 0 => RateDecision::Limited {
            retry_after: u64::try_from(window).unwrap_or(1).max(1),
        },
        _ => {
            c.prepare_cached(
                "INSERT INTO rate_buckets (bucket, window_start, count, expires_at)
                 VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (bucket) DO UPDATE SET window_start = ?2, count = 1, expires_at = ?3",
            )
            .and_then(|mut s| s.execute(params![bucket, now, now.saturating_add(window)]))
            .map_err(backend)?;
            RateDecision::Allowed
        }
    };
    Ok(decision)
}

pub(super) fn rate_refund(c: &Connection, bucket: &str) -> StoreResult<()> {
    c.exec(
        "UPDATE rate_buckets SET count = max(count - 1, 0) WHERE bucket = ?1",
        [bucket],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn insert_security_event(c: &Connection, e: &SecurityEvent) -> StoreResult<i64> {
    c.prepare_cached(
        "INSERT INTO security_events (at, kind, pk, client_id, ip, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.insert(params![e.at, e.kind, e.pk, e.client_id, e.ip, e.detail]))
    .map_err(backend)
}

/// `WHERE …` for a filter, with its parameters.
fn filter_sql(f: &EventFilter) -> (String, Vec<Value>) {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut values = Vec::new();
    for (column, value) in [
        ("pk", &f.pk),
        ("client_id", &f.client_id),
        ("kind", &f.kind),
        ("ip", &f.ip),
    ] {
        if let Some(v) = value {
            values.push(Value::Text(v.clone()));
            clauses.push(format!("{column} = ?{}", values.len()));
        }
    }
    if let Some(since) = f.since {
        values.push(Value::Integer(since));
        clauses.push(format!("at >= ?{}", values.len()));
    }
    (clauses.join(" AND "), values)
}

pub(super) fn count_security_events(c: &Connection, f: &EventFilter) -> StoreResult<EventCount> {
    let (clause, values) = filter_sql(f);
    c.prepare_cached(&format!(
        "SELECT count(*), min(at), max(at) FROM security_events WHERE {clause}"
    ))
    .and_then(|mut s| {
        s.query_row(params_from_iter(values), |r| {
            Ok(EventCount {
                count: r.get(0)?,
                first: r.get(1)?,
                last: r.get(2)?,
            })
        })
    })
    .map_err(backend)
}

pub(super) fn list_security_events(
    c: &Connection,
    f: &EventFilter,
    limit: u32,
) -> StoreResult<Vec<SecurityEvent>> {
    let (clause, mut values) = filter_sql(f);
    values.push(Value::Integer(i64::from(limit)));
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT id, at, kind, pk, client_id, ip, detail FROM security_events
             WHERE {clause} ORDER BY id DESC LIMIT ?{}",
            values.len()
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params_from_iter(values), |r| {
            Ok(SecurityEvent {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                pk: r.get(3)?,
                client_id: r.get(4)?,
                ip: r.get(5)?,
                detail: r.get(6)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

const OUTGOING_COLUMNS: &str =
    "id, kind, url, content_type, body, attempts, next_at, expires_at, last_error, authorization";

fn outgoing_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Outgoing> {
    Ok(Outgoing {
        id: r.get(0)?,
        kind: r.get(1)?,
        url: r.get(2)?,
        content_type: r.get(3)?,
        body: r.get(4)?,
        attempts: r.get(5)?,
        next_at: r.get(6)?,
        expires_at: r.get(7)?,
        last_error: r.get(8)?,
        authorization: r.get(9)?,
    })
}

pub(super) fn enqueue_outgoing(c: &Connection, o: &Outgoing) -> StoreResult<i64> {
    c.prepare_cached(
        "INSERT INTO outgoing (kind, url, content_type, body, attempts, next_at, expires_at, authorization)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.insert(params![
            o.kind,
            o.url,
            o.content_type,
            o.body,
            o.attempts,
            o.next_at,
            o.expires_at,
            o.authorization
        ])
    })
    .map_err(backend)
}

/// Selects and leases, inside the caller's write transaction.
pub(super) fn take_due_outgoing(
    c: &Connection,
    now: i64,
    lease: i64,
    limit: u32,
) -> StoreResult<Vec<Outgoing>> {
    let due: Vec<Outgoing> = {
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {OUTGOING_COLUMNS} FROM outgoing
                 WHERE next_at <= ?1 AND expires_at > ?1 ORDER BY next_at, id LIMIT ?2"
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now, limit], outgoing_from_row)
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
    };
    for o in &due {
        c.prepare_cached("UPDATE outgoing SET next_at = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![o.id, now.saturating_add(lease)]))
            .map_err(backend)?;
    }
    Ok(due)
}

pub(super) fn outgoing_done(c: &Connection, id: i64) -> StoreResult<()> {
    c.exec("DELETE FROM outgoing WHERE id = ?1", [id])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn outgoing_failed(
    c: &Connection,
    id: i64,
    next_at: i64,
    error: &str,
) -> StoreResult<()> {
    c.exec(
        "UPDATE outgoing SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
        params![id, next_at, error],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn list_outgoing(c: &Connection) -> StoreResult<Vec<Outgoing>> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT {OUTGOING_COLUMNS} FROM outgoing ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([], outgoing_from_row).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
