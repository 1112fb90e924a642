-- Security: server-side web sessions, log-in attempts (rate limiting), API tokens.
-- Secrets are never stored: sessions and tokens are kept as SHA-256 hashes of random values,
-- passwords (table users, 0001) as argon2id hashes. See ioc/security/ and docs/security.md.

ALTER TABLE users ADD COLUMN password_changed_at timestamptz;
ALTER TABLE users ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- One row per logged-in browser. The cookie holds a random id; only its hash is stored,
-- so a copy of this table lets nobody in. A log-in always makes a new row (no fixation).
CREATE TABLE sessions (
    id_hash       text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ip            text,
    user_agent    text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed (and successful) log-ins, counted per username and per address in a sliding window.
CREATE TABLE login_attempts (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    username  text NOT NULL,
    ip        text,
    success   boolean NOT NULL
);
CREATE INDEX login_attempts_username ON login_attempts (username, at DESC);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at DESC);

-- Bearer tokens for other systems: scoped, expiring, revocable. `prefix` is the public,
-- non-secret part shown in lists; `token_hash` the SHA-256 of the whole token.
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL UNIQUE,
    token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    scopes        text[] NOT NULL CHECK (cardinality(scopes) > 0),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- The admin audit page filters by action and target.
CREATE INDEX audit_log_action ON audit_log (action, at DESC);
