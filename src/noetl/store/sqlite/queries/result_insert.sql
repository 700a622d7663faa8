-- A key names its content (sha256), so a second writer of the same key has nothing to add.
INSERT INTO results (key, execution_id, content_type, size, sha256, body, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO NOTHING
