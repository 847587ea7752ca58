-- Several devices per Authentiq ID (as the SQLite store's migration 9):
-- the identity stays in `keys`, each device key that signs for it is a
-- row here; the first device of an identity is its ID.
CREATE TABLE devices (
    pk           TEXT PRIMARY KEY,
    id_pk        TEXT NOT NULL REFERENCES keys (pk),
    name         TEXT NOT NULL,
    added_at     BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX devices_by_identity ON devices (id_pk) WHERE revoked_at IS NULL;
