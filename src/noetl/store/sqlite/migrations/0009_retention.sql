-- Retention: finding finished executions by when they ended, and the children of an execution.
CREATE INDEX executions_by_finish ON executions (finished_at);
CREATE INDEX executions_by_parent ON executions (parent_execution_id);
