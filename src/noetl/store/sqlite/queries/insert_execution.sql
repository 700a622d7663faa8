INSERT INTO executions (
    execution_id, playbook_name, playbook_path, status, started_at, parent_execution_id,
    playbook_version
) VALUES (
    :execution_id, :playbook_name, :playbook_path, 'running', :started_at, :parent_execution_id,
    :playbook_version
)
ON CONFLICT (execution_id) DO NOTHING
