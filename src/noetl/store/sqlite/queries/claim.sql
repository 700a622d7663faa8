INSERT INTO claims (execution_id, command_id, attempt) VALUES (?, ?, ?)
ON CONFLICT (execution_id, command_id) DO UPDATE SET attempt = excluded.attempt
WHERE claims.attempt < excluded.attempt
