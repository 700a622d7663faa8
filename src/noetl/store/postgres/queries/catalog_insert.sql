INSERT INTO catalog (path, version, name, source, sha256)
VALUES (%s, %s, %s, %s, %s)
RETURNING path, version, name, source, sha256, created_at
