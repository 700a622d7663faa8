-- An append that does not change the execution projection (most of them: commands issued,
-- tasks done): `append.sql` without its projection parts, so there is less to send and plan.
-- The rows come as one JSON array of objects (see rows.append_params).
INSERT INTO events (
    execution_id, seq, event_id, type, step, iteration, command_id, origin,
    idempotency_key, payload, created_at, schema_version
)
SELECT
    e.execution_id, e.seq, e.event_id, e.type, e.step, e.iteration, e.command_id, e.origin,
    e.idempotency_key, e.payload, e.created_at, e.schema_version
FROM jsonb_to_recordset(%(events)s::jsonb) AS e (
    execution_id text, seq bigint, event_id text, type text, step text, iteration integer,
    command_id text, origin text, idempotency_key text, payload jsonb,
    created_at timestamptz, schema_version integer
)
