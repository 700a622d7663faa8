-- Connection settings: WAL lets readers (the CLI) run beside the writer; NORMAL sync is
-- durable across application crashes and only loses the last commits on power loss.
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;
