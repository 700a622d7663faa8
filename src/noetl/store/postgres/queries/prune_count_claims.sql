SELECT count(*) FROM claims WHERE execution_id = ANY(%s)
