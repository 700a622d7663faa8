DELETE FROM hooks WHERE name = ?
