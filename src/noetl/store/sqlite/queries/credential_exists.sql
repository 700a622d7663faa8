SELECT 1 FROM credentials WHERE name = ?
