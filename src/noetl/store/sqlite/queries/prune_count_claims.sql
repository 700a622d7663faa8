SELECT count(*) FROM claims WHERE execution_id IN (SELECT value FROM json_each(?))
