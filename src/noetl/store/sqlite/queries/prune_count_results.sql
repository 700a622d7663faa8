SELECT count(*) FROM results WHERE execution_id IN (SELECT value FROM json_each(?))
