SELECT count(*) FROM results WHERE execution_id = ANY(%s)
