-- Access control: users gain roles (several, space-separated), a site, an administrator's lock
-- and failed-sign-in lockout; API tokens and web sessions are stored by the SHA-256 digest of
-- their secret, never the secret itself.

ALTER TABLE users RENAME COLUMN role TO roles;
ALTER TABLE users ADD COLUMN site TEXT COLLATE "C";
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;

CREATE TABLE api_tokens (
    id            UUID    PRIMARY KEY,
    name          TEXT    COLLATE "C" NOT NULL,
    secret_digest BYTEA   NOT NULL,
    roles         TEXT    NOT NULL,
    site          TEXT    COLLATE "C",
    created_at    BIGINT  NOT NULL,
    created_by    TEXT    NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    CONSTRAINT api_tokens_name_key UNIQUE (name),
    CONSTRAINT api_tokens_secret_key UNIQUE (secret_digest)
);

CREATE TABLE sessions (
    id_digest    BYTEA   PRIMARY KEY,
    user_name    TEXT    COLLATE "C" NOT NULL REFERENCES users (name),
    csrf_token   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expiry ON sessions (expires_at);
