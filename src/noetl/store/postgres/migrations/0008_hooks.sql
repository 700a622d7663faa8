-- Webhooks: a name, the catalog playbook it starts, and the SHA-256 of its secret (never the secret).
CREATE TABLE hooks (
    name          TEXT        PRIMARY KEY,
    path          TEXT        NOT NULL,
    version       INTEGER,
    secret_sha256 TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
