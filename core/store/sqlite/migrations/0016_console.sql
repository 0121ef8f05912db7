-- The console's sessions (web/console): only the SHA-256 of each cookie's secret is kept.
CREATE TABLE console_sessions (
    hash       BLOB    PRIMARY KEY,
    actor_id   TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    via        TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL, -- Unix seconds
    seen_at    INTEGER NOT NULL  -- Unix seconds
) WITHOUT ROWID;
CREATE INDEX console_sessions_seen ON console_sessions (seen_at);

-- Queue filters saved by console users, per actor.
CREATE TABLE console_views (
    owner TEXT NOT NULL,
    name  TEXT NOT NULL,
    query TEXT NOT NULL,
    PRIMARY KEY (owner, name)
) WITHOUT ROWID;
