SELECT path, version, name, source, sha256, created_at
FROM catalog
WHERE path = ?
ORDER BY version DESC
LIMIT 1
