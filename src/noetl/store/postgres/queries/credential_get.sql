SELECT name, type, created_at, updated_at, sealed FROM credentials WHERE name = %s
