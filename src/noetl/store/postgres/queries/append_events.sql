-- An append that does not change the execution projection (most of them: commands issued,
-- tasks done): `append.sql` without its projection parts, so there is less to send and plan.
INSERT INTO events (
    execution_id, seq, event_id, type, step, iteration, command_id, origin,
    idempotency_key, payload, created_at, schema_version
)
SELECT * FROM unnest(
    %(execution_id)s::text[], %(seq)s::bigint[], %(event_id)s::text[], %(type)s::text[],
    %(step)s::text[], %(iteration)s::integer[], %(command_id)s::text[], %(origin)s::text[],
    %(idempotency_key)s::text[], %(payload)s::jsonb[], %(created_at)s::timestamptz[],
    %(schema_version)s::integer[]
)
