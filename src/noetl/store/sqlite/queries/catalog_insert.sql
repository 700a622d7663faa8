INSERT INTO catalog (path, version, name, source, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)
