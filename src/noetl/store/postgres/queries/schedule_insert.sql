INSERT INTO schedules (name, spec, paused) VALUES (%s, %s, %s) RETURNING created_at
