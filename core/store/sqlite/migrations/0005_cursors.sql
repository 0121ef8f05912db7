-- Cursors: how far a reader of the event feed has got (the bus outbox, later notifiers).
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
