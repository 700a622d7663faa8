-- The latest version of every path.
SELECT DISTINCT ON (path) path, version, name, source, sha256, created_at
FROM catalog
ORDER BY path, version DESC
