SELECT name, spec, paused, created_at FROM schedules WHERE name = ?
