SELECT schedule, slot, status, execution_id, reason, created_at FROM schedule_slots
WHERE schedule = %s ORDER BY slot DESC LIMIT %s
