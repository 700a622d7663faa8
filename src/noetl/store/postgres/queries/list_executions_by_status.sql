-- Newest first; position breaks ties between executions started in the same microsecond.
SELECT execution_id, playbook_name, playbook_path, status, started_at, finished_at,
       steps_done, steps_failed, steps_skipped, result, error, parent_execution_id,
       (SELECT COALESCE(MAX(seq), 0) FROM events AS e WHERE e.execution_id = x.execution_id)
FROM executions AS x
WHERE status = %s
ORDER BY started_at DESC, position DESC
LIMIT %s OFFSET %s
