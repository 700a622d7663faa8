-- The latest version of every path: a page of them (LIMIT -1: all).
SELECT c.path, c.version, c.name, c.source, c.sha256, c.created_at
FROM catalog AS c
WHERE c.version = (SELECT MAX(v.version) FROM catalog AS v WHERE v.path = c.path)
ORDER BY c.path
LIMIT ? OFFSET ?
