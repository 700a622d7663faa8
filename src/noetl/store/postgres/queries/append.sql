-- One append (to one or several executions) as ONE statement: atomic without BEGIN/COMMIT and
-- one round trip. Each set of rows comes as one JSON parameter: a single parameter is far
-- cheaper to send than one array per column (see rows.append_params). The events, by far the
-- most rows, are arrays read by position (the order of `rows.EVENT_COLUMNS`): a quarter fewer
-- bytes to encode and parse than objects naming twelve keys in every row; the projection's few
-- rows are objects.
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
        e->>0, (e->>1)::bigint, e->>2, e->>3, e->>4, (e->>5)::integer, e->>6, e->>7,
        e->>8, e->11, (e->>9)::timestamptz, (e->>10)::integer
    FROM jsonb_array_elements(%(events)s::jsonb) AS e
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
