SELECT path, version, name, source, sha256, created_at
FROM catalog
WHERE path = %s AND version = %s
