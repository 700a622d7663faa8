-- One append (to one or several executions) as ONE statement: atomic without BEGIN/COMMIT and
-- one round trip. Each set of rows comes as one JSON array of objects (one per row): a single
-- parameter is far cheaper to send than one array per column (see rows.append_params).
--
-- written: the stamped events. A taken (execution_id, seq) or (execution_id, idempotency_key)
--   fails the whole statement; the adapter tells the two apart by constraint name.
-- started: executions started by this append, inserted with the whole change already applied
--   (the sibling UPDATE cannot see rows inserted by the same statement).
-- changed: the net change to executions started earlier. Right-hand sides see the row as it
--   was, so `x.status` is the old status: the first terminal event wins.
WITH written AS (
    INSERT INTO events (
        execution_id, seq, event_id, type, step, iteration, command_id, origin,
        idempotency_key, payload, created_at, schema_version
    )
    SELECT
        e.execution_id, e.seq, e.event_id, e.type, e.step, e.iteration, e.command_id, e.origin,
        e.idempotency_key, e.payload, e.created_at, e.schema_version
    FROM jsonb_to_recordset(%(events)s::jsonb) AS e (
        execution_id text, seq bigint, event_id text, type text, step text, iteration integer,
        command_id text, origin text, idempotency_key text, payload jsonb,
        created_at timestamptz, schema_version integer
    )
    RETURNING 1
),
started AS (
    INSERT INTO executions (
        execution_id, playbook_name, playbook_path, status, started_at, finished_at,
        steps_done, steps_failed, steps_skipped, result, error, parent_execution_id,
        playbook_version
    )
    SELECT
        s.execution_id, s.playbook_name, s.playbook_path, s.status, s.started_at,
        s.finished_at, s.steps_done, s.steps_failed, s.steps_skipped, s.result, s.error,
        s.parent_execution_id, s.playbook_version
    FROM jsonb_to_recordset(%(started)s::jsonb) AS s (
        execution_id text, playbook_name text, playbook_path text, status text,
        started_at timestamptz, finished_at timestamptz, steps_done integer,
        steps_failed integer, steps_skipped integer, result jsonb, error jsonb,
        parent_execution_id text, playbook_version integer
    )
    ON CONFLICT (execution_id) DO NOTHING
),
changed AS (
    UPDATE executions AS x SET
        steps_done    = x.steps_done + c.steps_done,
        steps_failed  = x.steps_failed + c.steps_failed,
        steps_skipped = x.steps_skipped + c.steps_skipped,
        finished_at   = CASE WHEN x.status = 'running' AND c.status IS NOT NULL
                             THEN c.finished_at ELSE x.finished_at END,
        result        = CASE WHEN x.status = 'running' AND c.status IS NOT NULL
                             THEN c.result ELSE x.result END,
        error         = CASE WHEN x.status = 'running' AND c.status IS NOT NULL
                             THEN c.error ELSE x.error END,
        status        = CASE WHEN x.status = 'running' AND c.status IS NOT NULL
                             THEN c.status ELSE x.status END
    FROM jsonb_to_recordset(%(changed)s::jsonb) AS c (
        execution_id text, steps_done integer, steps_failed integer, steps_skipped integer,
        status text, finished_at timestamptz, result jsonb, error jsonb
    )
    WHERE x.execution_id = c.execution_id
)
SELECT count(*) FROM written
