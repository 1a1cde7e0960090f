-- iam-jit schema, version 3: AWS-credential login (`POST /api/v1/auth/aws/challenge`, then
-- `POST /api/v1/auth/aws`). Portable SQL (SQLite and PostgreSQL); times are Unix milliseconds.
--
-- A challenge is a random value the caller must include, as a signed header, in the
-- sts:GetCallerIdentity request it signs for the login. Only its SHA-256 is stored. It is valid
-- for a short time and consumed (`used_at`) before the signed request is forwarded to STS, so
-- a signed request can be used once.
CREATE TABLE aws_login_challenges (
    hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX aws_login_challenges_expiry ON aws_login_challenges (expires_at);
