DELETE FROM workers WHERE worker_id = ?
