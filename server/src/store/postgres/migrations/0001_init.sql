-- The whole schema of the SQLite store as it stands (its migrations 1 to
-- 8), in PostgreSQL's types: BIGINT for times and counters, BYTEA for
-- hashes, BOOLEAN for flags. Comments on what each table is for are in the
-- SQLite migrations.

-- Registered Authentiq IDs; secrets and bindings hashed.
CREATE TABLE keys (
    pk            TEXT PRIMARY KEY,
    secret_hash   BYTEA NOT NULL,
    devtoken      TEXT,
    registered_at BIGINT NOT NULL,
    revoked_at    BIGINT,
    email_hash    BYTEA,
    phone_hash    BYTEA
);
-- One active key per email and per phone.
CREATE UNIQUE INDEX keys_email ON keys (email_hash)
    WHERE revoked_at IS NULL AND email_hash IS NOT NULL;
CREATE UNIQUE INDEX keys_phone ON keys (phone_hash)
    WHERE revoked_at IS NULL AND phone_hash IS NOT NULL;

CREATE TABLE grants (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pk         TEXT NOT NULL REFERENCES keys (pk),
    scope      TEXT NOT NULL,
    value_hash BYTEA NOT NULL,
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX grants_by_key ON grants (pk, scope, value_hash);
CREATE INDEX grants_by_expiry ON grants (expires_at);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    pk          TEXT NOT NULL,
    scope       TEXT NOT NULL,
    value       TEXT NOT NULL,
    value_hash  BYTEA NOT NULL,
    code_hash   BYTEA NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    test        BOOLEAN NOT NULL DEFAULT false,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    grant_jwt   TEXT
);
CREATE INDEX jobs_by_expiry ON jobs (expires_at);
CREATE INDEX jobs_by_key ON jobs (pk);

CREATE TABLE revoke_codes (
    pk         TEXT PRIMARY KEY REFERENCES keys (pk),
    code_hash  BYTEA NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);

CREATE TABLE used_jtis (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_jtis_by_expiry ON used_jtis (expires_at);

CREATE TABLE rate_buckets (
    bucket       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX rate_buckets_by_expiry ON rate_buckets (expires_at);

-- Device events. Ids of one key are handed out and committed in order
-- (inserts of one key take a lock first), so a reader that has seen id n
-- never misses a smaller one committed later.
CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pk         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX events_by_key ON events (pk, id);
CREATE INDEX events_by_expiry ON events (expires_at);

CREATE TABLE clients (
    client_id  TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    owner      TEXT
);
CREATE INDEX clients_by_owner ON clients (owner) WHERE owner IS NOT NULL;

-- Short-lived OIDC state. `version` goes up with every change, so a
-- compare-and-swap compares it rather than the data.
CREATE TABLE records (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    family     TEXT NOT NULL,
    pk         TEXT,
    data       TEXT NOT NULL,
    used       BOOLEAN NOT NULL DEFAULT false,
    used_at    BIGINT,
    expires_at BIGINT NOT NULL,
    client_id  TEXT,
    sid        TEXT,
    version    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, id)
);
CREATE INDEX records_by_family ON records (family);
CREATE INDEX records_by_expiry ON records (expires_at);
CREATE INDEX records_by_key ON records (pk) WHERE pk IS NOT NULL;
CREATE INDEX records_by_sid ON records (sid) WHERE sid IS NOT NULL;

CREATE TABLE revoked_families (
    family     TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE security_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    pk        TEXT,
    client_id TEXT,
    ip        TEXT,
    detail    TEXT
);
CREATE INDEX security_events_by_key ON security_events (pk, kind, at);
CREATE INDEX security_events_by_time ON security_events (at);

CREATE TABLE outgoing (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL,
    url           TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    body          TEXT NOT NULL,
    authorization_header TEXT,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_error    TEXT
);
CREATE INDEX outgoing_due ON outgoing (next_at);

CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    deactivated_at BIGINT,
    authentiq_pk   TEXT,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_by_email ON accounts (email);
CREATE UNIQUE INDEX accounts_by_pk ON accounts (authentiq_pk) WHERE authentiq_pk IS NOT NULL;

CREATE TABLE account_sessions (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_by_account ON account_sessions (account_id);
CREATE INDEX account_sessions_by_expiry ON account_sessions (expires_at);

CREATE TABLE initial_access_tokens (
    id         TEXT PRIMARY KEY,
    uses_left  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE client_subjects (
    client_id TEXT NOT NULL,
    sub       TEXT NOT NULL,
    pk        TEXT NOT NULL,
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, sub)
);
CREATE INDEX client_subjects_by_key ON client_subjects (pk);

-- Key material shared by every instance, sealed by the server; `version`
-- makes every change a compare-and-swap.
CREATE TABLE key_material (
    name       TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
