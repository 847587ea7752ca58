-- Several devices per Authentiq ID. The identity stays in `keys` (its ID
-- is the PK of its first key, and its bindings, grants, records and
-- recovery secret stay with it); each device key that signs for it is a
-- row here. Removing a device ends only that key; revoking the identity
-- ends every one. A key is a device of one identity only, and no key is
-- both a device of one identity and the ID of another (the first device
-- of an identity is its ID).
CREATE TABLE devices (
    pk           TEXT PRIMARY KEY,
    id_pk        TEXT NOT NULL REFERENCES keys (pk),
    name         TEXT NOT NULL,
    added_at     INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX devices_by_identity ON devices (id_pk) WHERE revoked_at IS NULL;

-- Every existing key becomes an identity with one device: itself.
INSERT INTO devices (pk, id_pk, name, added_at, last_used_at, revoked_at)
    SELECT pk, pk, 'First device', registered_at, NULL, revoked_at FROM keys;
