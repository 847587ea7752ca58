-- A record's version goes up with every change, so a compare-and-swap
-- compares it rather than the record's JSON text.
ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
