INSERT INTO workers
    (worker_id, pool, slots, busy, running, version, started_at, lost_after, last_heartbeat)
VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, now())
ON CONFLICT (worker_id) DO UPDATE
SET pool = excluded.pool, slots = excluded.slots, busy = excluded.busy,
    running = excluded.running, version = excluded.version, started_at = excluded.started_at,
    lost_after = excluded.lost_after, last_heartbeat = now()
