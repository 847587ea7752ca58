-- Clients added with `authentiq-server client add` (config-file clients
-- are not stored). Secrets are kept as SHA-256 hashes.
CREATE TABLE clients (
    client_id  TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Short-lived OIDC state: sign-in sessions, codes, tokens, SSO sessions.
-- `family` ties together everything issued from one authorization, so a
-- reused code or refresh token revokes all of it at once.
CREATE TABLE records (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    family     TEXT NOT NULL,
    data       TEXT NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) STRICT;
CREATE INDEX records_by_family ON records (family);
CREATE INDEX records_by_expiry ON records (expires_at);

-- Families revoked before their records expired.
CREATE TABLE revoked_families (
    family     TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
