-- The catalog version an execution ran (NULL: a playbook that did not come from the catalog),
-- shown beside its playbook in lists.
ALTER TABLE executions ADD COLUMN playbook_version INTEGER;
