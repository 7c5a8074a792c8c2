-- Access control: users gain roles (several, space-separated), a site, an administrator's lock
-- and failed-sign-in lockout; API tokens and web sessions are stored by the SHA-256 digest of
-- their secret, never the secret itself.

ALTER TABLE users RENAME COLUMN role TO roles;
ALTER TABLE users ADD COLUMN site TEXT;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER;
ALTER TABLE users ADD COLUMN password_changed_at INTEGER;

CREATE TABLE api_tokens (
    id            BLOB    PRIMARY KEY,
    name          TEXT    NOT NULL,
    secret_digest BLOB    NOT NULL,
    roles         TEXT    NOT NULL,
    site          TEXT,
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    CONSTRAINT api_tokens_name_key UNIQUE (name),
    CONSTRAINT api_tokens_secret_key UNIQUE (secret_digest)
);

CREATE TABLE sessions (
    id_digest    BLOB    PRIMARY KEY,
    user_name    TEXT    NOT NULL REFERENCES users (name),
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expiry ON sessions (expires_at);
