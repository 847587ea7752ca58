-- Which Authentiq ID a record belongs to (codes, tokens, SSO sessions), so
-- revoking the key reaches all of them at once; and when a single-use
-- record was spent (the refresh-token reuse grace period counts from it).
ALTER TABLE records ADD COLUMN pk TEXT;
ALTER TABLE records ADD COLUMN used_at INTEGER;
CREATE INDEX records_by_key ON records (pk) WHERE pk IS NOT NULL;

-- Rate-limit windows end; ended ones are purged.
ALTER TABLE rate_buckets ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX rate_buckets_by_expiry ON rate_buckets (expires_at);

-- What happened that matters to security: sign-ins approved, denied and
-- reported, wrong numbers, codes reused, keys revoked, attempt limits hit.
-- Pushes read it back (a reported sign-in blocks pushes from that address,
-- too many wrong numbers block the key), and administrators review it.
CREATE TABLE security_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    pk        TEXT,
    client_id TEXT,
    ip        TEXT,
    detail    TEXT
) STRICT;
CREATE INDEX security_events_by_key ON security_events (pk, kind, at);
CREATE INDEX security_events_by_time ON security_events (at);
