UPDATE schedules SET paused = %s WHERE name = %s
