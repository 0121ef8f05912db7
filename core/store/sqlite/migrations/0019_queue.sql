-- The console's queue filters by connector and by tags (GET /api/v1/tickets?connector=&tag=).
--
-- connector is the connector of the ticket's first draft, which nothing changes after
-- creation. tags is the ticket's tags as a JSON array, written with every update; the
-- ticket_tags index beside it is kept by triggers, and only when the tags changed (most
-- updates leave them alone), so each tag filter is an index lookup rather than a scan.
ALTER TABLE tickets ADD COLUMN connector TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

-- Tickets stored before: both from the body.
UPDATE tickets SET
    connector = coalesce(json_extract(CAST(body AS TEXT), '$.sources[0].source.connector'), ''),
    tags = coalesce(json_extract(CAST(body AS TEXT), '$.tags'), '[]');
UPDATE tickets SET tags = '[]' WHERE json_type(tags) IS NOT 'array';

CREATE INDEX tickets_connector ON tickets (connector, pos);

CREATE TABLE ticket_tags (
    tag TEXT    NOT NULL,
    pos INTEGER NOT NULL, -- tickets.pos
    PRIMARY KEY (tag, pos)
) WITHOUT ROWID;
CREATE INDEX ticket_tags_pos ON ticket_tags (pos);

INSERT OR IGNORE INTO ticket_tags (tag, pos)
    SELECT j.value, t.pos FROM tickets t, json_each(t.tags) j WHERE j.type = 'text';

CREATE TRIGGER ticket_tags_insert AFTER INSERT ON tickets WHEN new.tags <> '[]' BEGIN
    INSERT OR IGNORE INTO ticket_tags (tag, pos)
        SELECT value, new.pos FROM json_each(new.tags) WHERE type = 'text';
END;

CREATE TRIGGER ticket_tags_update AFTER UPDATE OF tags ON tickets WHEN old.tags IS NOT new.tags BEGIN
    DELETE FROM ticket_tags WHERE pos = old.pos;
    INSERT OR IGNORE INTO ticket_tags (tag, pos)
        SELECT value, new.pos FROM json_each(new.tags) WHERE type = 'text';
END;

CREATE TRIGGER ticket_tags_delete AFTER DELETE ON tickets WHEN old.tags <> '[]' BEGIN
    DELETE FROM ticket_tags WHERE pos = old.pos;
END;
