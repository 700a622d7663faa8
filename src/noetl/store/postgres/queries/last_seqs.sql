-- The last seq of each of several executions (those without events are absent).
SELECT execution_id, MAX(seq) FROM events WHERE execution_id = ANY(%s) GROUP BY execution_id
