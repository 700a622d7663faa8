-- The worker registry: one row per worker, replaced by each heartbeat. `last_heartbeat` is the
-- database's clock, so a worker's clock never decides whether it is alive.
CREATE TABLE workers (
    worker_id      TEXT             PRIMARY KEY,
    pool           TEXT             NOT NULL,
    slots          INTEGER          NOT NULL,
    busy           INTEGER          NOT NULL,
    running        JSONB            NOT NULL,
    version        TEXT             NOT NULL,
    started_at     TEXT             NOT NULL,
    lost_after     DOUBLE PRECISION NOT NULL,
    last_heartbeat TIMESTAMPTZ      NOT NULL DEFAULT now()
);
