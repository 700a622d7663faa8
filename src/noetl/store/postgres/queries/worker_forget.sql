-- Lost workers silent for FORGOTTEN_AFTER of their timeouts leave the registry.
DELETE FROM workers WHERE last_heartbeat < now() - make_interval(secs => lost_after * %s)
