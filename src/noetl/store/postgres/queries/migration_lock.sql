-- Held until the migrating transaction ends: two servers starting at once migrate one by one.
-- The key is an arbitrary constant that names NoETL's migrations ("noetl" in ASCII).
SELECT pg_advisory_xact_lock(474315322476)
