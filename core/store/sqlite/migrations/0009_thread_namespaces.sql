-- Thread keys live in the namespace of the connector that made them (DESIGN.md §11: a
-- connector speaks only for itself): the pipeline now writes "<connector>/<key>" where
-- connectors used to write "<key>" ("device:E1:overheat" from connector plant becomes
-- "plant/device:E1:overheat"). Open tickets keep their threads across the upgrade: their
-- keys move into the namespace of the connector whose draft opened them, as the pipeline
-- would now write them, so the next message of a conversation (or an alarm's clear) still
-- finds its ticket. Tickets opened through the API with no source connector keep their key.
UPDATE tickets
SET thread_key = json_extract(CAST(body AS TEXT), '$.sources[0].source.connector') || '/' || thread_key,
    body = json_set(CAST(body AS TEXT), '$.thread_key',
        json_extract(CAST(body AS TEXT), '$.sources[0].source.connector') || '/' || thread_key)
WHERE thread_key IS NOT NULL
  AND coalesce(json_extract(CAST(body AS TEXT), '$.sources[0].source.connector'), '') <> ''
  AND substr(thread_key, 1, length(json_extract(CAST(body AS TEXT), '$.sources[0].source.connector')) + 1)
      <> json_extract(CAST(body AS TEXT), '$.sources[0].source.connector') || '/';
