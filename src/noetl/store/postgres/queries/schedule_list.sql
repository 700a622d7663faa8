SELECT name, spec::text, paused, created_at FROM schedules ORDER BY name
