-- Predictive maintenance (package predict): each ticket on a device as one failure, and each
-- device's figures folded from its failures, so that a new event costs one device's rows and
-- not a pass over every ticket. Both are derived from the events and rebuilt from them
-- (POST /api/v1/reports/devices/rebuild). Times are Unix milliseconds; 0 is "none".
CREATE TABLE device_failures (
    ticket_id   TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    model       TEXT NOT NULL,
    -- The ticket's fault_code, else its category: what a cluster is of, with the model.
    fault       TEXT NOT NULL,
    failed_at   INTEGER NOT NULL,
    resolved_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX device_failures_device ON device_failures (device_id, failed_at);
CREATE INDEX device_failures_cluster ON device_failures (model, fault, failed_at);

CREATE TABLE device_health (
    device_id     TEXT PRIMARY KEY,
    model         TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    first_failure INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    repairs       INTEGER NOT NULL,
    repair_ms     INTEGER NOT NULL,
    -- The device is chronic (频繁故障) until then: 0 when it never was.
    chronic_until INTEGER NOT NULL,
    -- estimated_next_failure: last_failure + MTBF; 0 with fewer than two failures.
    next_failure  INTEGER NOT NULL
);
CREATE INDEX device_health_model ON device_health (model);
CREATE INDEX device_health_order ON device_health (chronic_until, next_failure);
