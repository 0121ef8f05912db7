-- The SLA board: each open ticket with a running clock, at the due time of the clock nearest
-- to (or longest past) its breach; the engine keeps it in the transaction of every event.
CREATE TABLE sla_board (
    ticket_id TEXT PRIMARY KEY,
    due       TEXT NOT NULL -- RFC 3339 UTC with fixed-width nanoseconds, sortable
) WITHOUT ROWID;
CREATE INDEX sla_board_due ON sla_board (due);
