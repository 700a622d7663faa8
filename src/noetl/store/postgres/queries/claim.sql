-- Claims of several commands in one statement (one row per command: the store keeps only the
-- latest attempt of each). A row is returned for each claim won: a new command, or a later
-- attempt than the one recorded.
INSERT INTO claims (execution_id, command_id, attempt)
SELECT * FROM unnest(%s::text[], %s::text[], %s::integer[])
ON CONFLICT (execution_id, command_id) DO UPDATE SET attempt = excluded.attempt
WHERE claims.attempt < excluded.attempt
RETURNING execution_id, command_id
