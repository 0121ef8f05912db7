-- Yellow and red cards (红黄牌), issue 21: events on an engineer, each written in the
-- transaction of the ticket event that gave it, for GET /api/v1/engineers/{id}/cards.
-- What counts toward the next red card is kept with the engineer (engineers.body); this is
-- the record people read.
CREATE TABLE engineer_cards (
    id         INTEGER PRIMARY KEY,
    engineer   TEXT NOT NULL,
    -- What gave the card ("GD-20261124-000001/5/rating"): unique, so that nothing gives the
    -- same card twice.
    key        TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL, -- yellow, red
    cause      TEXT NOT NULL, -- rating, dispute, repeat, sla_red; low_ratings, yellows
    ticket_id  TEXT NOT NULL DEFAULT '',
    at         TEXT NOT NULL, -- RFC 3339 UTC with fixed-width nanoseconds, sortable
    expires_at TEXT NOT NULL, -- a yellow stops counting, a red's suspension ends
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX engineer_cards_engineer ON engineer_cards (engineer, at);
