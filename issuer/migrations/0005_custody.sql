-- Key custody (docs/key-ceremony.md): when each signing key was first in a published trust list
-- (a `next` key is activated only once verifiers that sync on schedule know it), the credentials
-- a key signed (re-issuance after a compromise), and the re-issuance's progress.

-- Written with the trust list that first named the key; never updated.
CREATE TABLE key_publications (
    kid             text PRIMARY KEY,
    first_published bigint NOT NULL
);

-- Credentials by the key that signed them, in id order (re-issuance pages through them).
CREATE INDEX credentials_by_kid ON credentials ((body->>'kid'), id);

-- One row per credential of a revoked key, written once with its re-offer: the primary key is
-- what keeps a re-issuance that is interrupted and run again (or run by two nodes at once) from
-- re-offering anyone twice.
CREATE TABLE reoffers (
    kid        text NOT NULL,
    credential text NOT NULL,
    body       jsonb NOT NULL,
    PRIMARY KEY (kid, credential)
);
