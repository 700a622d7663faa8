-- LIMIT -1 means no limit in SQLite.
SELECT execution_id, seq, event_id, type, step, iteration, command_id, origin,
       idempotency_key, payload, created_at, schema_version
FROM events
WHERE execution_id = ? AND seq > ?
ORDER BY seq
LIMIT ?
