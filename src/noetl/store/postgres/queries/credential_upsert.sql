-- Replacing a credential keeps its created_at; `inserted` says whether the name was new.
INSERT INTO credentials AS c (name, type, sealed)
VALUES (%s, %s, %s)
ON CONFLICT (name) DO UPDATE
SET type = excluded.type, sealed = excluded.sealed, updated_at = now()
RETURNING (c.xmax = 0) AS inserted
