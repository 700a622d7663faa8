SELECT execution_id FROM schedule_slots
WHERE schedule = ? AND status = ? AND execution_id IS NOT NULL
ORDER BY slot DESC LIMIT 1
