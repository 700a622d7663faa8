DELETE FROM executions WHERE execution_id = ANY(%s)
