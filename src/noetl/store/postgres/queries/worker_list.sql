-- The database's now() comes along: whether a worker is lost is judged on one clock.
SELECT worker_id, pool, slots, busy, running, version, started_at, lost_after, last_heartbeat,
       now()
FROM workers ORDER BY pool, worker_id
