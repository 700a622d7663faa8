SELECT COALESCE(MAX(seq), 0) FROM events WHERE execution_id = %s
