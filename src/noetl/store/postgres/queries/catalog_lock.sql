-- Serialises registrations of one path until the transaction ends (versions stay 1..n).
SELECT pg_advisory_xact_lock(hashtextextended('noetl.catalog:' || %s, 0))
