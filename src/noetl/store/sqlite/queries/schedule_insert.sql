INSERT INTO schedules (name, spec, paused, created_at) VALUES (?, ?, ?, ?)
