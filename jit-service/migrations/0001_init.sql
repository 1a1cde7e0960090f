-- iam-jit schema, version 1. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Timestamps are Unix milliseconds (BIGINT); flags are 0/1 (BIGINT); JSON is TEXT.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    display_name TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE user_groups (
    user_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);

CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE magic_links (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    spec TEXT NOT NULL,
    risk_score BIGINT NOT NULL,
    tier TEXT NOT NULL,
    accounts TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    break_glass_reason TEXT,
    review_required BIGINT NOT NULL DEFAULT 0,
    reviewed_by TEXT,
    reviewed_at BIGINT,
    auto_approved BIGINT NOT NULL DEFAULT 0,
    extension TEXT,
    state_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    pending_until BIGINT,
    approved_at BIGINT,
    activated_at BIGINT,
    expires_at BIGINT,
    ended_at BIGINT,
    expiry_warned BIGINT NOT NULL DEFAULT 0,
    grant_info TEXT,
    sweep_lease BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_owner ON requests (owner);

CREATE TABLE request_revisions (
    request_id TEXT NOT NULL,
    revision BIGINT NOT NULL,
    spec TEXT NOT NULL,
    review TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, revision)
);

CREATE TABLE approvals (
    request_id TEXT NOT NULL,
    round TEXT NOT NULL,
    approver TEXT NOT NULL,
    self_approval BIGINT NOT NULL,
    comment TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, round, approver)
);

CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    author TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX comments_request ON comments (request_id);

CREATE TABLE provisioning_calls (
    request_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    call TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, seq)
);

CREATE TABLE approval_policies (
    version BIGINT PRIMARY KEY,
    doc TEXT NOT NULL,
    status TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    ts BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis');

CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    format TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    outbox_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX deliveries_outbox ON deliveries (outbox_id);

-- AWS principals a user has proved they own (added by an admin, audited; AWS-credential login
-- adds them too). A request's `assume_by` must name one of them.
CREATE TABLE user_principals (
    user_id TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    method TEXT NOT NULL,
    added_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, principal_arn)
);
