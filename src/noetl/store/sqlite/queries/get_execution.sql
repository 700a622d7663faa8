SELECT execution_id, playbook_name, playbook_path, status, started_at, finished_at,
       steps_done, steps_failed, steps_skipped, result, error, parent_execution_id,
       (SELECT COALESCE(MAX(seq), 0) FROM events AS e WHERE e.execution_id = x.execution_id),
       playbook_version
FROM executions AS x
WHERE execution_id = ?
