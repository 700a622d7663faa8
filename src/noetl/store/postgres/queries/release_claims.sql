DELETE FROM claims WHERE execution_id = %s
