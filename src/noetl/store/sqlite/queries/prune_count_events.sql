SELECT count(*) FROM events WHERE execution_id IN (SELECT value FROM json_each(?))
