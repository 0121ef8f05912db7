-- Command ids are each caller's own, as Idempotency-Keys are: two callers who pick the same
-- id ("as-1") each get their own command, and one caller's id never blocks another's. An
-- event's command id moves to caller_command_id, beside the id of the actor who sent it
-- (caller, from the event's body), and is unique per caller. SQLite cannot drop the UNIQUE of
-- events.command_id without rebuilding the table, so that column stays, NULL.
ALTER TABLE events ADD COLUMN caller            TEXT;
ALTER TABLE events ADD COLUMN caller_command_id TEXT;

-- Events stored before keep answering their caller's replays.
UPDATE events SET
    caller            = coalesce(json_extract(CAST(body AS TEXT), '$.actor.id'), ''),
    caller_command_id = command_id,
    command_id        = NULL
WHERE command_id IS NOT NULL;

CREATE UNIQUE INDEX events_caller_command ON events (caller, caller_command_id)
    WHERE caller_command_id IS NOT NULL;
