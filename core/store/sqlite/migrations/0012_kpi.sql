-- KPI facts (core/report, docs/KPIS.md): one row per ticket and one per survey answer,
-- folded from the events by the engine in the transaction of each event, and rebuilt from
-- the events by `gongdan report rebuild`. Each row is packed into one blob (report.AppendFacts):
-- a report reads a year of a million tickets, and SQLite hands over a row of one column much
-- faster than a row of twenty. Times are Unix seconds, 0 for never.
CREATE TABLE kpi_facts (
    ticket_id TEXT    PRIMARY KEY,
    -- last_at is the latest of the ticket's creation, first accept, first close and end: a
    -- report over a period reads the tickets with last_at in it, and those still open.
    last_at   INTEGER NOT NULL,
    -- ended_at is when the ticket last left the open states; 0 while it is open.
    ended_at  INTEGER NOT NULL,
    facts     BLOB    NOT NULL,
    -- The strings of this ticket alone, which the fold needs and a report does not.
    repeat_of  TEXT   NOT NULL DEFAULT '',
    root_cause TEXT   NOT NULL DEFAULT ''
) WITHOUT ROWID;
-- Covering: a report's scan reads the index alone, in order, not a row per entry.
CREATE INDEX kpi_facts_last ON kpi_facts (last_at, facts);
CREATE INDEX kpi_facts_open ON kpi_facts (ended_at) WHERE ended_at = 0;

CREATE TABLE kpi_ratings (
    ticket_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    rating    BLOB    NOT NULL,
    PRIMARY KEY (ticket_id, seq)
) WITHOUT ROWID;
CREATE INDEX kpi_ratings_at ON kpi_ratings (at, rating);
