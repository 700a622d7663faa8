-- Add one append's step counts, when the append does not end the execution. Apart from
-- update_execution.sql because SQLite rewrites the entries of every index whose columns an
-- UPDATE assigns (status, finished_at), even to the same value: two more pages per commit.
UPDATE executions SET
    steps_done    = steps_done + :steps_done,
    steps_failed  = steps_failed + :steps_failed,
    steps_skipped = steps_skipped + :steps_skipped
WHERE execution_id = :execution_id
