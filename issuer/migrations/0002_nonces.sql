-- Nonces of the OpenID4VCI Nonce Endpoint: single use, short-lived, hashed.
CREATE TABLE nonces (
    hash       bytea PRIMARY KEY,
    expires_at bigint NOT NULL,
    -- The access token (SHA-256) of the session that asked, when it said.
    access     bytea
);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);
