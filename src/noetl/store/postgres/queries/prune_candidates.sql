-- Finished executions (of the given statuses) that ended before the cutoff and have no
-- running child; oldest first. Their rows go last, so an interrupted prune resumes.
SELECT x.execution_id FROM executions AS x
WHERE x.finished_at IS NOT NULL AND x.finished_at < %s
  AND x.status = ANY(%s)
  AND NOT EXISTS (
      SELECT 1 FROM executions AS c
      WHERE c.parent_execution_id = x.execution_id AND c.status = 'running'
  )
ORDER BY x.finished_at
LIMIT %s
