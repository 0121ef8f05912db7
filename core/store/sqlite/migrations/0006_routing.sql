-- Routing (issue 4). Decisions: every routing decision with its trace, for
-- GET /api/v1/tickets/{id}/routing and the routing report.
CREATE TABLE routing_decisions (
    id        INTEGER PRIMARY KEY,
    ticket_id TEXT    NOT NULL,
    at        TEXT    NOT NULL, -- RFC 3339 UTC, sortable
    trigger   TEXT    NOT NULL, -- created, declined, offer_timeout, manual, reroute
    cause     TEXT    NOT NULL DEFAULT '', -- the decline reason code, when declined
    manual    INTEGER NOT NULL,
    engineer  TEXT    NOT NULL DEFAULT '',
    team      TEXT    NOT NULL DEFAULT '',
    rule      TEXT    NOT NULL DEFAULT '',
    failure   TEXT    NOT NULL DEFAULT '', -- the failure reason, when no one was found
    body      BLOB    NOT NULL
);
CREATE INDEX routing_decisions_ticket ON routing_decisions (ticket_id, id);
CREATE INDEX routing_decisions_at ON routing_decisions (at);

-- Round-robin pointers: per team, the member index of its last winner.
CREATE TABLE routing_pointers (
    team  TEXT PRIMARY KEY,
    idx   INTEGER NOT NULL
);

-- Tickets assigned to each engineer per day (the max_daily cap, the load-balance report).
CREATE TABLE engineer_days (
    engineer TEXT    NOT NULL,
    day      TEXT    NOT NULL, -- YYYYMMDD in the engine's time zone
    assigned INTEGER NOT NULL,
    PRIMARY KEY (engineer, day)
);

-- What is known of each engineer beyond the config: live status, location and skills, red
-- card, track record. The engine owns the body's format.
CREATE TABLE engineers (
    id   TEXT PRIMARY KEY,
    body BLOB NOT NULL
);

-- Durable timers (offer timeouts now, SLA tiers later): one per ticket and kind.
CREATE TABLE timers (
    ticket_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    due       TEXT NOT NULL, -- RFC 3339 UTC with fixed-width nanoseconds, sortable
    PRIMARY KEY (ticket_id, kind)
);
CREATE INDEX timers_due ON timers (due);
