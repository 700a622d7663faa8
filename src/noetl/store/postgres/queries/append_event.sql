-- The most common append of all: one event that does not change the execution projection
-- (cheaper to send than the column arrays of `append_events.sql`).
INSERT INTO events (
    execution_id, seq, event_id, type, step, iteration, command_id, origin,
    idempotency_key, payload, created_at, schema_version
) VALUES (
    %(execution_id)s, %(seq)s, %(event_id)s, %(type)s, %(step)s, %(iteration)s, %(command_id)s,
    %(origin)s, %(idempotency_key)s, %(payload)s::jsonb, %(created_at)s::timestamptz,
    %(schema_version)s
)
