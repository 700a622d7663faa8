SELECT COALESCE(SUM(size), 0) FROM results WHERE execution_id = ?
