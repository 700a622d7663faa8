-- Replacing a credential keeps its created_at.
INSERT INTO credentials (name, type, sealed, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE
SET type = excluded.type, sealed = excluded.sealed, updated_at = excluded.updated_at
