SELECT execution_id, playbook_name, playbook_path, status, started_at, finished_at,
       steps_done, steps_failed, steps_skipped, result, error, parent_execution_id, last_seq
FROM executions
WHERE execution_id = ?
