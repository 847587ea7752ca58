-- The `sub` each client was given for each key (pairwise subjects cannot be
-- turned back into a key): a client's backend names a user it knows by it
-- (SDK face authentication).
CREATE TABLE client_subjects (
    client_id TEXT NOT NULL,
    sub       TEXT NOT NULL,
    pk        TEXT NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (client_id, sub)
) STRICT;
CREATE INDEX client_subjects_by_key ON client_subjects (pk);
