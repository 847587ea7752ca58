//! Device events (replayed on reconnect), rate-limit counters, the
//! security event log, and the queue of outgoing requests.

use postgres::Row;
use postgres::types::ToSql;

use super::conn::Sql;

use super::{backend, count};
use crate::store::{
    EventCount, EventFilter, Outgoing, RateDecision, SecurityEvent, StoreResult, StoredEvent,
};

/// Inside the caller's transaction, which holds the key's events lock.
pub(super) fn insert_event(
    c: &mut impl Sql,
    pk: &str,
    kind: &str,
    data: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<i64> {
    c.query_one(
        "INSERT INTO events (pk, kind, data, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&pk, &kind, &data, &now, &expires_at],
    )
    .and_then(|r| r.try_get(0))
    .map_err(backend)
}

pub(super) fn events_after(
    c: &mut impl Sql,
    pk: &str,
    after: i64,
    now: i64,
) -> StoreResult<Vec<StoredEvent>> {
    c.query(
        "SELECT id, pk, kind, data, expires_at FROM events
         WHERE pk = $1 AND id > $2 AND expires_at > $3 ORDER BY id",
        &[&pk, &after, &now],
    )
    .map_err(backend)?
    .iter()
    .map(|r| {
        Ok(StoredEvent {
            id: r.try_get(0)?,
            pk: r.try_get(1)?,
            kind: r.try_get(2)?,
            data: r.try_get(3)?,
            expires_at: r.try_get(4)?,
        })
    })
    .collect::<Result<_, postgres::Error>>()
    .map_err(backend)
}

fn retry_after(seconds: i64) -> RateDecision {
    RateDecision::Limited {
        retry_after: u64::try_from(seconds).unwrap_or(1).max(1),
    }
}

/// Counts a hit in a fixed window with one upsert: the bucket's row is
/// locked while it is counted, so however many hits arrive at once exactly
/// `limit` are allowed. A refused hit is not counted (as in SQLite).
pub(super) fn rate_hit(
    c: &mut impl Sql,
    bucket: &str,
    limit: u32,
    window: u64,
    now: i64,
) -> StoreResult<RateDecision> {
    let window = i64::try_from(window).unwrap_or(i64::MAX);
    let end = now.saturating_add(window);
    if limit > 0 {
        let counted = c
            .query_opt(
                "INSERT INTO rate_buckets AS b (bucket, window_start, count, expires_at)
                 VALUES ($1, $2, 1, $3)
                 ON CONFLICT (bucket) DO UPDATE SET
                     window_start = CASE WHEN b.expires_at > $2 THEN b.window_start ELSE $2 END,
                     count = CASE WHEN b.expires_at > $2 THEN b.count + 1 ELSE 1 END,
                     expires_at = CASE WHEN b.expires_at > $2 THEN b.expires_at ELSE $3 END
                 WHERE b.expires_at <= $2 OR b.count < $4
                 RETURNING count",
                &[&bucket, &now, &end, &i64::from(limit)],
            )
            .map_err(backend)?;
        if counted.is_some() {
            return Ok(RateDecision::Allowed);
        }
    }
    // Refused: how long until the window ends.
    let ends: Option<i64> = c
        .query_opt(
            "SELECT expires_at FROM rate_buckets WHERE bucket = $1 AND expires_at > $2",
            &[&bucket, &now],
        )
        .map_err(backend)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(backend)?;
    Ok(retry_after(
        ends.map_or(window, |end| end.saturating_sub(now)),
    ))
}

pub(super) fn rate_refund(c: &mut impl Sql, bucket: &str) -> StoreResult<()> {
    c.execute(
        "UPDATE rate_buckets SET count = GREATEST(count - 1, 0) WHERE bucket = $1",
        &[&bucket],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn insert_security_event(c: &mut impl Sql, e: &SecurityEvent) -> StoreResult<i64> {
    c.query_one(
        "INSERT INTO security_events (at, kind, pk, client_id, ip, detail)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[&e.at, &e.kind, &e.pk, &e.client_id, &e.ip, &e.detail],
    )
    .and_then(|r| r.try_get(0))
    .map_err(backend)
}

/// `WHERE …` for a filter: every condition is always there, and matches
/// everything when its parameter is NULL, so the statement is one text.
const FILTER: &str = "($1::text IS NULL OR pk = $1) AND ($2::text IS NULL OR client_id = $2)
    AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR ip = $4)
    AND ($5::bigint IS NULL OR at >= $5)";

fn filter_params(f: &EventFilter) -> [&(dyn ToSql + Sync); 5] {
    [&f.pk, &f.client_id, &f.kind, &f.ip, &f.since]
}

pub(super) fn count_security_events(c: &mut impl Sql, f: &EventFilter) -> StoreResult<EventCount> {
    let row = c
        .query_one(
            &format!("SELECT count(*), min(at), max(at) FROM security_events WHERE {FILTER}"),
            &filter_params(f),
        )
        .map_err(backend)?;
    let n: i64 = row.try_get(0).map_err(backend)?;
    Ok(EventCount {
        count: count(n)?,
        first: row.try_get(1).map_err(backend)?,
        last: row.try_get(2).map_err(backend)?,
    })
}

pub(super) fn list_security_events(
    c: &mut impl Sql,
    f: &EventFilter,
    limit: u32,
) -> StoreResult<Vec<SecurityEvent>> {
    let limit = i64::from(limit);
    let mut params = filter_params(f).to_vec();
    params.push(&limit);
    c.query(
        &format!(
            "SELECT id, at, kind, pk, client_id, ip, detail FROM security_events
             WHERE {FILTER} ORDER BY id DESC LIMIT $6"
        ),
        &params,
    )
    .map_err(backend)?
    .iter()
    .map(|r| {
        Ok(SecurityEvent {
            id: r.try_get(0)?,
            at: r.try_get(1)?,
            kind: r.try_get(2)?,
            pk: r.try_get(3)?,
            client_id: r.try_get(4)?,
            ip: r.try_get(5)?,
            detail: r.try_get(6)?,
        })
    })
    .collect::<Result<_, postgres::Error>>()
    .map_err(backend)
}

const OUTGOING_COLUMNS: &str = "id, kind, url, content_type, body, attempts, next_at, expires_at, last_error, authorization_header";

fn outgoing_from_row(r: &Row) -> StoreResult<Outgoing> {
    let attempts: i64 = r.try_get(5).map_err(backend)?;
    let item = || -> Result<Outgoing, postgres::Error> {
        Ok(Outgoing {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            url: r.try_get(2)?,
            content_type: r.try_get(3)?,
            body: r.try_get(4)?,
            attempts: 0,
            next_at: r.try_get(6)?,
            expires_at: r.try_get(7)?,
            last_error: r.try_get(8)?,
            authorization: r.try_get(9)?,
        })
    };
    let mut item = item().map_err(backend)?;
    item.attempts = count(attempts)?;
    Ok(item)
}

fn outgoing_rows(rows: Vec<Row>) -> StoreResult<Vec<Outgoing>> {
    rows.iter().map(outgoing_from_row).collect()
}

pub(super) fn enqueue_outgoing(c: &mut impl Sql, o: &Outgoing) -> StoreResult<i64> {
    c.query_one(
        "INSERT INTO outgoing (kind, url, content_type, body, attempts, next_at, expires_at, authorization_header)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            &o.kind,
            &o.url,
            &o.content_type,
            &o.body,
            &i64::from(o.attempts),
            &o.next_at,
            &o.expires_at,
            &o.authorization,
        ],
    )
    .and_then(|r| r.try_get(0))
    .map_err(backend)
}

/// Selects and leases in the caller's transaction; rows another instance
/// is leasing at this moment are skipped, not waited for.
pub(super) fn take_due_outgoing(
    c: &mut impl Sql,
    now: i64,
    lease: i64,
    limit: u32,
) -> StoreResult<Vec<Outgoing>> {
    let rows = c
        .query(
            &format!(
                "SELECT {OUTGOING_COLUMNS} FROM outgoing
                 WHERE next_at <= $1 AND expires_at > $1 ORDER BY next_at, id LIMIT $2
                 FOR UPDATE SKIP LOCKED"
            ),
            &[&now, &i64::from(limit)],
        )
        .map_err(backend)?;
    let due = outgoing_rows(rows)?;
    let ids: Vec<i64> = due.iter().map(|o| o.id).collect();
    if ids.is_empty() {
        return Ok(due);
    }
    c.execute(
        "UPDATE outgoing SET next_at = $2 WHERE id = ANY($1)",
        &[&ids, &now.saturating_add(lease)],
    )
    .map_err(backend)?;
    Ok(due)
}

pub(super) fn outgoing_done(c: &mut impl Sql, id: i64) -> StoreResult<()> {
    c.execute("DELETE FROM outgoing WHERE id = $1", &[&id])
        .map_err(backend)?;
    Ok(())
}

pub(super) fn outgoing_failed(
    c: &mut impl Sql,
    id: i64,
    next_at: i64,
    error: &str,
) -> StoreResult<()> {
    c.execute(
        "UPDATE outgoing SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE id = $1",
        &[&id, &next_at, &error],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn list_outgoing(c: &mut impl Sql) -> StoreResult<Vec<Outgoing>> {
    let rows = c
        .query(
            &format!("SELECT {OUTGOING_COLUMNS} FROM outgoing ORDER BY id"),
            &[],
        )
        .map_err(backend)?;
    outgoing_rows(rows)
}
