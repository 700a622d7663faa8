SELECT name, spec::text, paused, created_at FROM schedules WHERE name = %s
