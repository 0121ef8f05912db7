-- Intake: each draft goes into exactly one ticket, once; a draft of an open ticket's thread is
-- merged into it; a new ticket is linked to the recently closed ticket it repeats.

-- Every dedup key a draft came with leads to the ticket the draft went into: the one it
-- created or the one it was merged into. A redelivered draft finds it there.
CREATE TABLE draft_keys (
    dedup_key TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL
) WITHOUT ROWID;

-- Every Idempotency-Key (prefixed with its caller) leads to the ticket its request went into,
-- and to which of that ticket's sources the request's draft is (0: the one that created it).
CREATE TABLE idempotency_keys (
    key       TEXT    PRIMARY KEY,
    ticket_id TEXT    NOT NULL,
    source    INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO draft_keys (dedup_key, ticket_id)
    SELECT dedup_key, id FROM tickets WHERE dedup_key IS NOT NULL;
INSERT INTO idempotency_keys (key, ticket_id, source)
    SELECT idempotency_key, id, 0 FROM tickets WHERE idempotency_key IS NOT NULL;
-- The keys live in the tables above from now on. SQLite cannot drop a UNIQUE column without
-- rebuilding the table (and the search index over its rowids), so the old columns stay, NULL.
UPDATE tickets SET dedup_key = NULL, idempotency_key = NULL
    WHERE dedup_key IS NOT NULL OR idempotency_key IS NOT NULL;

-- Columns kept with every write of a ticket, for finding it at intake:
--   thread_key   its thread key while it is open (ticket.State.Open), else NULL;
--   customer_key ticket.CustomerKey of its customer, device_id, category: NULL when empty;
--   closed_at    its ClosedAt in unix nanoseconds: NULL unless it is closed, or archived
--                after it was closed.
ALTER TABLE tickets ADD COLUMN thread_key   TEXT;
ALTER TABLE tickets ADD COLUMN customer_key TEXT;
ALTER TABLE tickets ADD COLUMN device_id    TEXT;
ALTER TABLE tickets ADD COLUMN category     TEXT;
ALTER TABLE tickets ADD COLUMN closed_at    INTEGER;

CREATE INDEX tickets_open_thread     ON tickets (thread_key, pos) WHERE thread_key IS NOT NULL;
CREATE INDEX tickets_closed_customer ON tickets (customer_key, category, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX tickets_closed_device   ON tickets (device_id, category, closed_at) WHERE closed_at IS NOT NULL;

-- Fill them for the tickets there are. ws holds the characters Go's strings.TrimSpace trims,
-- as ticket.CustomerKey does.
WITH ws (s) AS (
    SELECT char(9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198,
                8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)
), k AS (
    SELECT pos,
           state IN ('new', 'assigned', 'accepted', 'in_progress', 'awaiting_parts', 'paused', 'escalated') AS open,
           json_extract(b, '$.thread_key') AS thread_key,
           trim(coalesce(json_extract(b, '$.customer.id'), ''), ws.s) AS cid,
           trim(coalesce(json_extract(b, '$.customer.phone'), ''), ws.s) AS phone,
           trim(coalesce(json_extract(b, '$.customer.wechat_openid'), ''), ws.s) AS openid,
           trim(coalesce(json_extract(b, '$.customer.wecom_userid'), ''), ws.s) AS userid,
           json_extract(b, '$.device.id') AS device_id,
           json_extract(b, '$.category') AS category
    FROM (SELECT pos, state, CAST(body AS TEXT) AS b FROM tickets), ws
)
UPDATE tickets SET
    thread_key   = CASE WHEN k.open THEN nullif(k.thread_key, '') END,
    customer_key = CASE WHEN k.cid <> '' THEN 'id:' || k.cid
                        WHEN k.phone <> '' THEN 'phone:' || k.phone
                        WHEN k.openid <> '' THEN 'wechat_openid:' || k.openid
                        WHEN k.userid <> '' THEN 'wecom_userid:' || k.userid END,
    device_id    = nullif(k.device_id, ''),
    category     = nullif(k.category, '')
FROM k WHERE tickets.pos = k.pos;

-- closed_at, and the ticket's closed_at field that Apply now folds: the time of the last event
-- that closed it (unfreeze keeps a closed ticket closed without closing it again), unless it
-- was reopened after. Millisecond precision is enough for a window of days.
WITH closing AS (
    SELECT ticket_id, seq, json_extract(CAST(body AS TEXT), '$.at') AS at,
           row_number() OVER (PARTITION BY ticket_id ORDER BY seq DESC) AS latest
    FROM events
    WHERE json_extract(CAST(body AS TEXT), '$.to') = 'closed'
      AND coalesce(json_extract(CAST(body AS TEXT), '$.from'), '') <> 'closed'
)
UPDATE tickets SET
    closed_at = CAST(round(unixepoch(c.at, 'subsec') * 1000) AS INTEGER) * 1000000,
    body      = CAST(json_set(CAST(tickets.body AS TEXT), '$.closed_at', c.at) AS BLOB)
FROM closing AS c
WHERE c.latest = 1 AND c.ticket_id = tickets.id AND tickets.state IN ('closed', 'archived')
  AND NOT EXISTS (SELECT 1 FROM events AS r WHERE r.ticket_id = c.ticket_id AND r.seq > c.seq
                  AND json_extract(CAST(r.body AS TEXT), '$.action') = 'reopen');
