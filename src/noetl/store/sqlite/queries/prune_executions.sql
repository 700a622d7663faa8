DELETE FROM executions WHERE execution_id IN (SELECT value FROM json_each(?))
