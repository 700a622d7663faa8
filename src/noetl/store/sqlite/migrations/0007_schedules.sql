-- Schedules of catalog playbooks. `spec` is the JSON of everything but the name and the pause.
CREATE TABLE schedules (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    paused     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
-- One row per handled fire time: the key makes a slot fire once, whichever replica comes first.
CREATE TABLE schedule_slots (
    schedule     TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    slot         TEXT NOT NULL, -- UTC ISO 8601: text order is time order
    status       TEXT NOT NULL, -- fired | skipped
    execution_id TEXT,
    reason       TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (schedule, slot)
);
