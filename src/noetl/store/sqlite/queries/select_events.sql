-- The columns of an event; `columns.filtered_read` adds the conditions (read_events.sql is the
-- unfiltered read, the hot path).
SELECT execution_id, seq, event_id, type, step, iteration, command_id, origin,
       idempotency_key, payload, created_at, schema_version
FROM events
