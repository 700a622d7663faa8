SELECT schedule, slot, status, execution_id, reason, created_at FROM schedule_slots
WHERE schedule = ? ORDER BY slot DESC LIMIT ?
