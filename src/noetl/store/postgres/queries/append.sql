-- One append (to one or several executions) as ONE statement: atomic without BEGIN/COMMIT and
-- one round trip. Each column comes as an array (one element per row), unnested into rows.
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
    SELECT * FROM unnest(
        %(execution_id)s::text[], %(seq)s::bigint[], %(event_id)s::text[], %(type)s::text[],
        %(step)s::text[], %(iteration)s::integer[], %(command_id)s::text[], %(origin)s::text[],
        %(idempotency_key)s::text[], %(payload)s::jsonb[], %(created_at)s::timestamptz[],
        %(schema_version)s::integer[]
    )
    RETURNING 1
),
started AS (
    INSERT INTO executions (
        execution_id, playbook_name, playbook_path, status, started_at, finished_at,
        steps_done, steps_failed, steps_skipped, result, error, parent_execution_id
    )
    SELECT * FROM unnest(
        %(new_execution_id)s::text[], %(new_playbook_name)s::text[],
        %(new_playbook_path)s::text[], %(new_status)s::text[], %(new_started_at)s::timestamptz[],
        %(new_finished_at)s::timestamptz[], %(new_steps_done)s::integer[],
        %(new_steps_failed)s::integer[], %(new_steps_skipped)s::integer[],
        %(new_result)s::jsonb[], %(new_error)s::jsonb[], %(new_parent_execution_id)s::text[]
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
    FROM unnest(
        %(upd_execution_id)s::text[], %(upd_steps_done)s::integer[],
        %(upd_steps_failed)s::integer[], %(upd_steps_skipped)s::integer[],
        %(upd_status)s::text[], %(upd_finished_at)s::timestamptz[], %(upd_result)s::jsonb[],
        %(upd_error)s::jsonb[]
    ) AS c (
        execution_id, steps_done, steps_failed, steps_skipped, status, finished_at, result, error
    )
    WHERE x.execution_id = c.execution_id
)
SELECT count(*) FROM written
