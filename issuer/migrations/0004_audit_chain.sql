-- The audit log as a hash chain (issuer/src/store/audit_chain.rs): every entry appended from now
-- on carries a link (its sequence number, the previous entry's hash, its own hash) inside its
-- JSON, and this one row holds the chain's head. A change locks the row when it appends its
-- entry, so appends follow commit order and sequence numbers run without gaps from here on
-- (entries are numbered head + 1, not by the sequence any more). Entries written before this
-- migration have no link; `issuer audit verify` counts them as written before the chain.
CREATE TABLE audit_head (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq  bigint NOT NULL,
    prev bytea NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO audit_head (seq, prev, hash)
    SELECT COALESCE(max(seq), 0), decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex') FROM audit;
