-- Finished executions (of the statuses given as a JSON array) that ended before the cutoff and
-- have no running child; oldest first. Their rows go last, so an interrupted prune resumes.
SELECT x.execution_id FROM executions AS x
WHERE x.finished_at IS NOT NULL AND x.finished_at < ?
  AND x.status IN (SELECT value FROM json_each(?))
  AND NOT EXISTS (
      SELECT 1 FROM executions AS c
      WHERE c.parent_execution_id = x.execution_id AND c.status = 'running'
  )
ORDER BY x.finished_at
LIMIT ?
