-- The SLA board filtered by team or by policy (the console's board, issue 22): each row keeps
-- its ticket's team and SLA policy, so a filter reads its own index in due order instead of
-- every row of the board. The engine writes both with the due time, in the transaction of
-- every event. A row from before this migration has its team from the ticket here, and its
-- policy (NULL until then) when the engine next starts: it arms the open tickets' SLA again
-- once for the board's policies (core/engine/sla.go, rearmAll).
ALTER TABLE sla_board ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE sla_board ADD COLUMN policy TEXT;
UPDATE sla_board SET team = coalesce((SELECT t.team FROM tickets t WHERE t.id = sla_board.ticket_id), '');
CREATE INDEX sla_board_team ON sla_board (team, due);
CREATE INDEX sla_board_policy ON sla_board (policy, due);
