-- Which of the given idempotency keys (a JSON array) the execution's log already holds.
SELECT idempotency_key
FROM events
WHERE execution_id = ?
  AND idempotency_key IN (SELECT value FROM json_each(?))
