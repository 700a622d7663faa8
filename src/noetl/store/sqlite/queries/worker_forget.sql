-- Lost workers silent for FORGOTTEN_AFTER of their timeouts leave the registry.
DELETE FROM workers WHERE last_heartbeat < ? - lost_after * ?
