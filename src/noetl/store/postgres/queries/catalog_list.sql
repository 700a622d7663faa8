-- The latest version of every path: a page of them (LIMIT NULL: all).
SELECT DISTINCT ON (path) path, version, name, source, sha256, created_at
FROM catalog
ORDER BY path, version DESC
LIMIT %s OFFSET %s
