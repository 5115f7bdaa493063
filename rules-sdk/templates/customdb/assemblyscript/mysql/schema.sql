-- The schema the MySQL/MariaDB template expects.
CREATE TABLE users (
    id             BIGINT AUTO_INCREMENT PRIMARY KEY,
    email          VARCHAR(254) NOT NULL UNIQUE,
    password       VARCHAR(100) NOT NULL,  -- bcrypt: $2a$/$2b$/$2y$, cost <= 14
    nickname       VARCHAR(100),
    email_verified BOOLEAN NOT NULL DEFAULT FALSE
) DEFAULT CHARSET = utf8mb4;

-- A least-privilege account for Authgraph: only this table, only what the
-- scripts do (drop DELETE/INSERT/UPDATE if you only use login and get_user).
-- CREATE USER 'authgraph_legacy'@'%' IDENTIFIED BY '…';
-- GRANT SELECT, INSERT, UPDATE, DELETE ON legacy.users TO 'authgraph_legacy'@'%';
