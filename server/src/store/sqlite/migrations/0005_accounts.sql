-- The people who own clients and run the server (seed 004).
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    -- A PHC string: Argon2id with its parameters and salt.
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    deactivated_at INTEGER,
    -- An Authentiq ID linked to the account, for passwordless sign-in.
    authentiq_pk   TEXT,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX accounts_by_email ON accounts (email);
CREATE UNIQUE INDEX accounts_by_pk ON accounts (authentiq_pk) WHERE authentiq_pk IS NOT NULL;

-- Each account token is tied to one of these: logout, a password change,
-- deletion end them at once.
CREATE TABLE account_sessions (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX account_sessions_by_account ON account_sessions (account_id);
CREATE INDEX account_sessions_by_expiry ON account_sessions (expires_at);

-- Clients registered over HTTP belong to an account.
ALTER TABLE clients ADD COLUMN owner TEXT;
CREATE INDEX clients_by_owner ON clients (owner) WHERE owner IS NOT NULL;

-- Initial access tokens for client registration (RFC 7591 §3), hashed.
CREATE TABLE initial_access_tokens (
    id         TEXT PRIMARY KEY,
    uses_left  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
