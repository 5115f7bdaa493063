-- The schema the PostgreSQL template expects.
CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    password       text NOT NULL,          -- bcrypt: $2a$/$2b$/$2y$, cost <= 14
    nickname       text,
    email_verified boolean NOT NULL DEFAULT false
);

-- A least-privilege role for Authgraph: only this table, only what the
-- scripts do (drop DELETE/INSERT/UPDATE if you only use login and get_user).
-- CREATE ROLE authgraph_legacy LOGIN PASSWORD '…';
-- GRANT SELECT, INSERT, UPDATE, DELETE ON users TO authgraph_legacy;
-- GRANT USAGE ON SEQUENCE users_id_seq TO authgraph_legacy;
