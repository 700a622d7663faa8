-- The first writer of a (schedule, slot) owns it; later ones change nothing.
INSERT INTO schedule_slots (schedule, slot, status, reason, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (schedule, slot) DO NOTHING
