UPDATE schedule_slots SET execution_id = %s WHERE schedule = %s AND slot = %s
