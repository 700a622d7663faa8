DELETE FROM credentials WHERE name = %s
