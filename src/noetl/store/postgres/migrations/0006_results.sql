-- Results larger than the inline limit, stored once and shared by every server replica; events
-- carry a reference `{store: "db", key, size, sha256, content_type}` to a row here.
-- The key is `<execution_id>/<sha256>`: identical results of one execution share one row.
CREATE TABLE results (
    key          TEXT        PRIMARY KEY,
    execution_id TEXT        NOT NULL,
    content_type TEXT        NOT NULL,
    size         BIGINT      NOT NULL,
    sha256       TEXT        NOT NULL,
    body         BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX results_execution ON results (execution_id);
