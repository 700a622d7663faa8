-- The append-only event log. One row per event; seq is gap-free per execution.
-- (execution_id, seq) orders the log and serialises writers; (execution_id, idempotency_key)
-- drops facts written twice (redelivered work).
CREATE TABLE events (
    execution_id    TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    event_id        TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    step            TEXT,
    iteration       INTEGER,
    command_id      TEXT,
    origin          TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    payload         TEXT    NOT NULL, -- JSON object
    created_at      TEXT    NOT NULL, -- UTC ISO-8601 with microseconds
    schema_version  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (execution_id, seq),
    UNIQUE (execution_id, idempotency_key)
) WITHOUT ROWID;
