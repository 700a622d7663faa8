-- The execution projection, kept by the store in the same transaction as the events.
-- Its last seq is not stored: it is read from the events' primary key when asked for.
CREATE TABLE executions (
    execution_id        TEXT    PRIMARY KEY,
    playbook_name       TEXT    NOT NULL,
    playbook_path       TEXT    NOT NULL,
    status              TEXT    NOT NULL, -- running | done | failed | cancelled
    started_at          TEXT    NOT NULL,
    finished_at         TEXT,
    steps_done          INTEGER NOT NULL DEFAULT 0,
    steps_failed        INTEGER NOT NULL DEFAULT 0,
    steps_skipped       INTEGER NOT NULL DEFAULT 0,
    result              TEXT, -- JSON
    error               TEXT, -- JSON
    parent_execution_id TEXT
);

CREATE INDEX executions_by_start ON executions (started_at);
CREATE INDEX executions_by_status ON executions (status, started_at);
