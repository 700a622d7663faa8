DELETE FROM claims WHERE execution_id = ? AND command_id = ?
