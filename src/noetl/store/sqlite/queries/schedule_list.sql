SELECT name, spec, paused, created_at FROM schedules ORDER BY name
