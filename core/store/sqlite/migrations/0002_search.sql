-- Full-text index for ?q=: trigram tokens find any substring of 3 or more characters, which
-- suits Chinese text (no word boundaries), phone numbers and ticket ids. It indexes the
-- tickets.search column in place (external content).
--
-- It is filled once per Write, for the tickets that Write created (search_indexed remembers
-- how far it got), not by a trigger per row: FTS5 flushes its pending terms at every
-- statement boundary of a transaction, and a flush per ticket halved creation throughput.
-- The searchable fields (id, title, description, customer, device, address, category) are set
-- when a ticket is created and no action changes them.
CREATE VIRTUAL TABLE ticket_search USING fts5(search, tokenize = 'trigram', content = 'tickets', content_rowid = 'pos');
INSERT INTO ticket_search (ticket_search) VALUES ('rebuild');

CREATE TABLE search_indexed (last_pos INTEGER NOT NULL);
INSERT INTO search_indexed (last_pos) SELECT coalesce(max(pos), 0) FROM tickets;
