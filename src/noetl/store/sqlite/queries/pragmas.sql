-- Connection settings: WAL lets readers (the CLI) run beside the writer; NORMAL sync is
-- durable across application crashes and only loses the last commits on power loss.
-- synchronous first: a new file is switched to WAL by a write that then syncs as NORMAL does
-- (one fsync fewer on every fresh database, e.g. each `noetl run --db new.db`).
PRAGMA synchronous = NORMAL;
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;
