-- Which client and which SSO session (sid) a grant's records belong to:
-- logging out of a session, or signing a key out everywhere, finds the
-- clients to tell (Back-Channel Logout) without reading every record.
ALTER TABLE records ADD COLUMN client_id TEXT;
ALTER TABLE records ADD COLUMN sid TEXT;
CREATE INDEX records_by_sid ON records (sid) WHERE sid IS NOT NULL;

-- HTTP requests the server owes other servers (logout tokens to clients'
-- back-channel logout URIs), kept until delivered so a restart loses none.
CREATE TABLE outgoing (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    url          TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body         TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_error   TEXT
) STRICT;
CREATE INDEX outgoing_due ON outgoing (next_at);
