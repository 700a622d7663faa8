SELECT name, path, version, secret_sha256, created_at FROM hooks WHERE name = ?
