DELETE FROM claims WHERE execution_id = %s AND command_id = %s
