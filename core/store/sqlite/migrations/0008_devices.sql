-- The device registry's edits made through the API (PUT /api/v1/devices/{id}): they win over
-- the config's devices file, across restarts. The registry owns the body's format (JSON).
CREATE TABLE devices (
    id   TEXT PRIMARY KEY,
    body BLOB NOT NULL
);
