INSERT INTO events (
    execution_id, seq, event_id, type, step, iteration, command_id, origin,
    idempotency_key, payload, created_at, schema_version
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
