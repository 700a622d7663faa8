-- Which of the given idempotency keys the execution's log already holds.
SELECT idempotency_key FROM events WHERE execution_id = %s AND idempotency_key = ANY(%s)
