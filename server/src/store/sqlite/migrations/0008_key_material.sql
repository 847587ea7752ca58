-- Key material shared by every instance (issuer and OIDC signing keys, the
-- keyed-hash and sealing secrets), each a named document sealed under the
-- master key by the server; `version` makes every change a compare-and-swap.
CREATE TABLE key_material (
    name       TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
