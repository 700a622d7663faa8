-- The worker registry: one row per worker, replaced by each heartbeat. `last_heartbeat` is the
-- registry's clock (Unix seconds), so a worker's clock never decides whether it is alive.
CREATE TABLE workers (
    worker_id      TEXT    PRIMARY KEY,
    pool           TEXT    NOT NULL,
    slots          INTEGER NOT NULL,
    busy           INTEGER NOT NULL,
    running        TEXT    NOT NULL,  -- JSON array of command ids
    version        TEXT    NOT NULL,
    started_at     TEXT    NOT NULL,
    lost_after     REAL    NOT NULL,
    last_heartbeat REAL    NOT NULL
);
