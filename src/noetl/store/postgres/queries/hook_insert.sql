INSERT INTO hooks (name, path, version, secret_sha256) VALUES (%s, %s, %s, %s)
