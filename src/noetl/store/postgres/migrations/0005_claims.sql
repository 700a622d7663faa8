-- Which delivery attempt of a command is being run: one winner per attempt, across every
-- server replica that shares this database.
CREATE TABLE claims (
    execution_id TEXT NOT NULL,
    command_id   TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    PRIMARY KEY (execution_id, command_id)
);
