-- The latest version of every path.
SELECT c.path, c.version, c.name, c.source, c.sha256, c.created_at
FROM catalog AS c
WHERE c.version = (SELECT MAX(v.version) FROM catalog AS v WHERE v.path = c.path)
ORDER BY c.path
