-- KPI facts (core/report, docs/KPIS.md): one narrow row per ticket and one per survey answer,
-- folded from the events by the engine in the transaction of each event, and rebuilt from
-- the events by `gongdan report rebuild`. Times are Unix seconds, 0 for never; the report
-- reads them in one pass (a year of a million tickets in well under two seconds), so no
-- column holds JSON.
CREATE TABLE kpi_facts (
    ticket_id                TEXT    PRIMARY KEY,
    created_at               INTEGER NOT NULL,
    team                     TEXT    NOT NULL DEFAULT '',
    engineer                 TEXT    NOT NULL DEFAULT '',
    category                 TEXT    NOT NULL DEFAULT '',
    connector                TEXT    NOT NULL DEFAULT '',
    policy                   TEXT    NOT NULL DEFAULT '',
    repeat_of                TEXT    NOT NULL DEFAULT '',
    first_accept_at          INTEGER NOT NULL DEFAULT 0,
    first_closed_at          INTEGER NOT NULL DEFAULT 0,
    resolved_at              INTEGER NOT NULL DEFAULT 0,
    force_closed             INTEGER NOT NULL DEFAULT 0,
    closed_confirm           INTEGER NOT NULL DEFAULT 0,
    reopens                  INTEGER NOT NULL DEFAULT 0,
    disputes                 INTEGER NOT NULL DEFAULT 0,
    first_reopen_after_close INTEGER NOT NULL DEFAULT 0,
    repeated_at              INTEGER NOT NULL DEFAULT 0,
    ended_at                 INTEGER NOT NULL DEFAULT 0,
    response_breached        INTEGER NOT NULL DEFAULT 0,
    resolution_breached      INTEGER NOT NULL DEFAULT 0,
    confirm                  INTEGER NOT NULL DEFAULT 0,
    root_cause               TEXT    NOT NULL DEFAULT '',
    -- A report over a short period reads the tickets still open and those with a time in
    -- it; last_at is the latest of their times, kept by the store, for that lookup.
    last_at                  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX kpi_facts_last ON kpi_facts (last_at);
CREATE INDEX kpi_facts_open ON kpi_facts (ended_at) WHERE ended_at = 0;

CREATE TABLE kpi_ratings (
    ticket_id       TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    team            TEXT    NOT NULL DEFAULT '',
    engineer        TEXT    NOT NULL DEFAULT '',
    category        TEXT    NOT NULL DEFAULT '',
    connector       TEXT    NOT NULL DEFAULT '',
    policy          TEXT    NOT NULL DEFAULT '',
    solved          INTEGER NOT NULL,
    timeliness      INTEGER NOT NULL,
    professionalism INTEGER NOT NULL,
    root_cause      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, seq)
) WITHOUT ROWID;
CREATE INDEX kpi_ratings_at ON kpi_ratings (at);
