-- The first writer of a (schedule, slot) owns it; later ones change nothing.
INSERT INTO schedule_slots (schedule, slot, status, reason) VALUES (%s, %s, %s, %s)
ON CONFLICT (schedule, slot) DO NOTHING
RETURNING slot
