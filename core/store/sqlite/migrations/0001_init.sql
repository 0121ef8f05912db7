-- Tickets: the fold of each ticket's events, kept for reading. pos orders them for paging.
CREATE TABLE tickets (
    pos             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    urgency         TEXT    NOT NULL,
    assignee        TEXT    NOT NULL DEFAULT '',
    team            TEXT    NOT NULL DEFAULT '',
    dedup_key       TEXT    UNIQUE,
    idempotency_key TEXT    UNIQUE,
    search          TEXT    NOT NULL,
    body            BLOB    NOT NULL
);
CREATE INDEX tickets_state    ON tickets (state, pos);
CREATE INDEX tickets_assignee ON tickets (assignee, pos);
CREATE INDEX tickets_team     ON tickets (team, pos);
CREATE INDEX tickets_urgency  ON tickets (urgency, pos);

-- Events: the append-only audit trail and the truth tickets are folded from.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    ticket_id  TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    command_id TEXT    UNIQUE,
    body       BLOB    NOT NULL,
    UNIQUE (ticket_id, seq)
);

-- One counter per day for the NNNNNN of GD-YYYYMMDD-NNNNNN.
CREATE TABLE ticket_numbers (
    day  TEXT    PRIMARY KEY,
    last INTEGER NOT NULL
);
