SELECT execution_id FROM schedule_slots
WHERE schedule = %s AND status = %s AND execution_id IS NOT NULL
ORDER BY slot DESC LIMIT 1
