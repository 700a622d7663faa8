UPDATE schedule_slots SET execution_id = ? WHERE schedule = ? AND slot = ?
