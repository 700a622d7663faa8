-- A key names its content (sha256), so a second writer of the same key has nothing to add.
INSERT INTO results (key, execution_id, content_type, size, sha256, body)
VALUES (%s, %s, %s, %s, %s, %b)
ON CONFLICT (key) DO NOTHING
