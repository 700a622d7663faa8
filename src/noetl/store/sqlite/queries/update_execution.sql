-- Apply one append's net change. Right-hand sides see the row as it was, so `status` below is
-- the old status: the first terminal event wins and later ones change nothing.
UPDATE executions SET
    steps_done    = steps_done + :steps_done,
    steps_failed  = steps_failed + :steps_failed,
    steps_skipped = steps_skipped + :steps_skipped,
    finished_at   = CASE WHEN status = 'running' AND :status IS NOT NULL
                         THEN :finished_at ELSE finished_at END,
    result        = CASE WHEN status = 'running' AND :status IS NOT NULL
                         THEN :result ELSE result END,
    error         = CASE WHEN status = 'running' AND :status IS NOT NULL
                         THEN :error ELSE error END,
    status        = CASE WHEN status = 'running' AND :status IS NOT NULL
                         THEN :status ELSE status END
WHERE execution_id = :execution_id
