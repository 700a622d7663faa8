SELECT name, type, created_at, updated_at FROM credentials ORDER BY name
