-- The customers' tracking links (/t/{token}): a token is kept only as its SHA-256, and leads to
-- one ticket. Revoking marks the ticket's links; a new generation makes a new link. See
-- core/store/tracking.go.
CREATE TABLE tracking (
    hash       BLOB PRIMARY KEY,
    ticket_id  TEXT NOT NULL,
    generation INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX tracking_ticket ON tracking (ticket_id, generation);

-- Keys gongdan makes for itself once and shares between the processes on one store (the key
-- tracking tokens are derived from).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
