-- Schedules of catalog playbooks. `spec` is the JSON of everything but the name and the pause.
CREATE TABLE schedules (
    name       TEXT        PRIMARY KEY,
    spec       JSONB       NOT NULL,
    paused     BOOLEAN     NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One row per handled fire time: the key makes a slot fire once, whichever replica comes first.
CREATE TABLE schedule_slots (
    schedule     TEXT        NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    slot         TEXT        NOT NULL, -- UTC ISO 8601: text order is time order
    status       TEXT        NOT NULL, -- fired | skipped
    execution_id TEXT,
    reason       TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, slot)
);
