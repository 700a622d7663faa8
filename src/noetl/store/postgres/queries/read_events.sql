-- LIMIT NULL means no limit.
SELECT execution_id, seq, event_id, type, step, iteration, command_id, origin,
       idempotency_key, payload, created_at, schema_version
FROM events
WHERE execution_id = %s AND seq > %s
ORDER BY seq
LIMIT %s
