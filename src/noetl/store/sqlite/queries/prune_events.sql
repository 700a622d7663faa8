-- At most N events per statement: a writer waits for one short transaction at a time.
DELETE FROM events WHERE (execution_id, seq) IN (
    SELECT execution_id, seq FROM events WHERE execution_id IN (SELECT value FROM json_each(?))
    LIMIT ?
)
