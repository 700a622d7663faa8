-- The execution projection, kept by the store in the same transaction as the events.
-- Its last seq is not stored: it is read from the events' primary key when asked for.
-- `position` (insertion order) breaks ties between executions started in the same microsecond.
CREATE TABLE executions (
    execution_id        TEXT        PRIMARY KEY,
    position            BIGINT      GENERATED ALWAYS AS IDENTITY,
    playbook_name       TEXT        NOT NULL,
    playbook_path       TEXT        NOT NULL,
    status              TEXT        NOT NULL, -- running | done | failed | cancelled
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    steps_done          INTEGER     NOT NULL DEFAULT 0,
    steps_failed        INTEGER     NOT NULL DEFAULT 0,
    steps_skipped       INTEGER     NOT NULL DEFAULT 0,
    result              JSONB,
    error               JSONB,
    parent_execution_id TEXT
);

CREATE INDEX executions_by_start ON executions (started_at DESC, position DESC);
CREATE INDEX executions_by_status ON executions (status, started_at DESC, position DESC);
