-- How long tickets took to be resolved, by kind (category, else urgency): the tracking page
-- promises the median of the latest similar tickets where no SLA policy sets a due time.
-- Written in the transaction of each resolve (core/engine/closure.go).
CREATE TABLE resolution_times (
    kind        TEXT    NOT NULL,
    resolved_at INTEGER NOT NULL, -- Unix seconds
    ticket_id   TEXT    NOT NULL,
    seconds     INTEGER NOT NULL,
    PRIMARY KEY (kind, resolved_at, ticket_id)
) WITHOUT ROWID;
