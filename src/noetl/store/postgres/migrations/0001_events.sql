-- The append-only event log. One row per event; seq is gap-free per execution.
-- (execution_id, seq) orders the log and serialises writers (two server replicas appending to
-- one execution: the second insert of a seq fails and that writer re-reads and retries);
-- (execution_id, idempotency_key) drops facts written twice (redelivered work).
-- The constraint names are part of the adapter's contract: it tells the two apart by name.
CREATE TABLE events (
    execution_id    TEXT        NOT NULL,
    seq             BIGINT      NOT NULL,
    event_id        TEXT        NOT NULL,
    type            TEXT        NOT NULL,
    step            TEXT,
    iteration       INTEGER,
    command_id      TEXT,
    origin          TEXT        NOT NULL,
    idempotency_key TEXT        NOT NULL,
    payload         JSONB       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    schema_version  INTEGER     NOT NULL DEFAULT 1,
    CONSTRAINT events_seq_unique PRIMARY KEY (execution_id, seq),
    CONSTRAINT events_key_unique UNIQUE (execution_id, idempotency_key)
);
