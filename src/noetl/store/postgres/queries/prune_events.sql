-- At most N events per statement (its own transaction): appends never wait behind a long one.
DELETE FROM events WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM events WHERE execution_id = ANY(%s) LIMIT %s
))
