-- Registered Authentiq IDs. Secrets and bindings are stored hashed.
CREATE TABLE keys (
    pk            TEXT PRIMARY KEY,
    secret_hash   BLOB NOT NULL,
    devtoken      TEXT,
    registered_at INTEGER NOT NULL,
    revoked_at    INTEGER,
    email_hash    BLOB,
    phone_hash    BLOB
) STRICT;

-- One active key per email and per phone.
CREATE UNIQUE INDEX keys_email ON keys (email_hash)
    WHERE revoked_at IS NULL AND email_hash IS NOT NULL;
CREATE UNIQUE INDEX keys_phone ON keys (phone_hash)
    WHERE revoked_at IS NULL AND phone_hash IS NOT NULL;

-- Grants (verified claims) issued or accepted for a key.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    pk         TEXT NOT NULL REFERENCES keys (pk),
    scope      TEXT NOT NULL,
    value_hash BLOB NOT NULL,
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX grants_by_key ON grants (pk, scope, value_hash);

-- Claim-verification jobs (POST /scope).
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    pk          TEXT NOT NULL,
    scope       TEXT NOT NULL,
    value       TEXT NOT NULL,
    value_hash  BLOB NOT NULL,
    code_hash   BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    test        INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    grant_jwt   TEXT
) STRICT;
CREATE INDEX jobs_by_expiry ON jobs (expires_at);

-- Pending revocations by email + phone (DELETE /key), one per key.
CREATE TABLE revoke_codes (
    pk         TEXT PRIMARY KEY REFERENCES keys (pk),
    code_hash  BLOB NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
) STRICT;

-- JWT IDs already used, kept until the token would have expired.
CREATE TABLE used_jtis (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX used_jtis_by_expiry ON used_jtis (expires_at);

-- Fixed-window rate-limit counters.
CREATE TABLE rate_buckets (
    bucket       TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;

-- Events for device channels, replayed on reconnect until they expire.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pk         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_key ON events (pk, id);
CREATE INDEX events_by_expiry ON events (expires_at);
