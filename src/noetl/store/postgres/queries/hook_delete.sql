DELETE FROM hooks WHERE name = %s
