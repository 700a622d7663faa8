SELECT worker_id, pool, slots, busy, running, version, started_at, lost_after, last_heartbeat
FROM workers ORDER BY pool, worker_id
