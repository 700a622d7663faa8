SELECT content_type, sha256, body FROM results WHERE key = %s
