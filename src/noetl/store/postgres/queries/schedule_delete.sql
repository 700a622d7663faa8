DELETE FROM schedules WHERE name = %s
