DELETE FROM credentials WHERE name = ?
