INSERT INTO hooks (name, path, version, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)
