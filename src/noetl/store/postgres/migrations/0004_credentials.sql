-- Credentials, encrypted at rest: `sealed` is a Fernet token made with NOETL_SECRET_KEY.
-- Nothing here is readable without that key; name and type are kept in clear for listing.
CREATE TABLE credentials (
    name       TEXT        PRIMARY KEY,
    type       TEXT        NOT NULL, -- postgres | http | generic
    sealed     BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
