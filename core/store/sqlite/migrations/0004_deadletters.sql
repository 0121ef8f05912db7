-- Dead letters: the messages the pipeline could not process (see pipeline/deadletter). seq is
-- the rowid and the ID: DL-000001. One row per key: a message that fails again, after a
-- replay too, updates its row.
--
-- Times are UTC text of a fixed width, YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ, so that they keep the
-- nanoseconds and compare as they sort.
CREATE TABLE dead_letters (
    seq             INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL UNIQUE,
    connector       TEXT    NOT NULL,
    handler         TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    first_failed_at TEXT    NOT NULL,
    last_failed_at  TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    replays         INTEGER NOT NULL,
    replayed_at     TEXT,
    message_id      TEXT    NOT NULL,
    metadata        TEXT,             -- a JSON object; NULL when there are none
    payload         BLOB    NOT NULL
);
-- The list: newest last failure first, ties by seq (every index ends with the rowid), with no
-- filter, a filter on the connector, on the state, or on both.
CREATE INDEX dead_letters_last_failed     ON dead_letters (last_failed_at);
CREATE INDEX dead_letters_connector       ON dead_letters (connector, last_failed_at);
CREATE INDEX dead_letters_state           ON dead_letters (state, last_failed_at);
CREATE INDEX dead_letters_connector_state ON dead_letters (connector, state, last_failed_at);
