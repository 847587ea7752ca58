-- An outgoing request may carry an Authorization header (CIBA pings carry
-- the client's notification token).
ALTER TABLE outgoing ADD COLUMN authorization TEXT;
