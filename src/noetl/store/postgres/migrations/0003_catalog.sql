-- The playbook catalog. One row per version of a path; versions count from 1 per path.
-- sha256 identifies the content, so registering the latest content again makes no new row.
CREATE TABLE catalog (
    path       TEXT        NOT NULL,
    version    INTEGER     NOT NULL,
    name       TEXT        NOT NULL,
    source     TEXT        NOT NULL, -- the YAML, exactly as registered
    sha256     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT catalog_pkey PRIMARY KEY (path, version)
);
