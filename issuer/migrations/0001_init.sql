-- The issuer's schema on PostgreSQL. Applied once, in a transaction, by the first node that
-- starts on an empty database (issuer/src/store/postgres.rs). Personal data is sealed by the
-- service before it reaches the database (`sealed` columns); look-ups by personal data go through
-- keyed blind indexes (`key` columns of identity_index and eids).

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);

-- Counters that several nodes read to notice changes (status_version, keys_version) and the
-- one-time bootstrap flag.
CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES
    ('status_version', 0), ('keys_version', 0), ('admin_bootstrapped', 0), ('heartbeat', 0);

CREATE TABLE tokens (
    hash    bytea PRIMARY KEY,
    id      text NOT NULL UNIQUE,
    role    text NOT NULL,
    revoked boolean NOT NULL,
    body    jsonb NOT NULL
);

CREATE TABLE applications (
    id              text PRIMARY KEY,
    version         bigint NOT NULL,
    reception_point text NOT NULL,
    meta            jsonb NOT NULL,
    sealed          bytea NOT NULL
);
CREATE INDEX applications_by_point ON applications (reception_point);

-- One open application per person: the latest application under each blind index.
CREATE TABLE identity_index (
    key         bytea PRIMARY KEY,
    application text NOT NULL REFERENCES applications (id)
);

CREATE TABLE eids (
    key         bytea PRIMARY KEY,
    application text NOT NULL REFERENCES applications (id)
);

CREATE TABLE biometrics (
    application text PRIMARY KEY REFERENCES applications (id),
    sealed      bytea NOT NULL
);

CREATE TABLE codes (
    hash bytea PRIMARY KEY,
    body jsonb NOT NULL
);

CREATE TABLE access_tokens (
    hash bytea PRIMARY KEY,
    body jsonb NOT NULL
);

CREATE TABLE status_lists (
    id       integer PRIMARY KEY,
    capacity bigint NOT NULL
);

-- How many indices each list has given out, in 16 shards so that nodes issuing at once do not
-- queue on one row; a list's count is the sum of its shards.
CREATE TABLE status_allocated (
    list  integer NOT NULL REFERENCES status_lists (id),
    shard smallint NOT NULL,
    n     bigint NOT NULL,
    PRIMARY KEY (list, shard)
);

-- Every allocated index: the primary key is what makes an index unique across nodes.
CREATE TABLE status (
    list  integer NOT NULL REFERENCES status_lists (id),
    idx   bigint NOT NULL,
    value smallint NOT NULL,
    PRIMARY KEY (list, idx)
);
CREATE INDEX status_marks ON status (list, idx) WHERE value <> 0;

CREATE TABLE credentials (
    id          text PRIMARY KEY,
    application text NOT NULL REFERENCES applications (id),
    status_list integer NOT NULL,
    status_idx  bigint NOT NULL,
    body        jsonb NOT NULL,
    UNIQUE (status_list, status_idx)
);

CREATE TABLE signing_keys (
    kid  text PRIMARY KEY,
    node text NOT NULL,
    body jsonb NOT NULL
);

CREATE TABLE trust_lists (
    seq bigint PRIMARY KEY,
    jws text NOT NULL
);

CREATE TABLE idempotency (
    scope text NOT NULL,
    key   bytea NOT NULL,
    body  jsonb NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Append-only: no code path updates or deletes here.
CREATE TABLE audit (
    seq   bigserial PRIMARY KEY,
    entry jsonb NOT NULL
);
