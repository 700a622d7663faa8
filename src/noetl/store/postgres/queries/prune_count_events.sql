SELECT count(*) FROM events WHERE execution_id = ANY(%s)
