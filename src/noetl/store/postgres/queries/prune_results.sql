DELETE FROM results WHERE execution_id = ANY(%s)
