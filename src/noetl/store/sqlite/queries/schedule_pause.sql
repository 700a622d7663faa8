UPDATE schedules SET paused = ? WHERE name = ?
