-- Audit entries are staged here by the changes that write them, and linked into the hash chain
-- (audit, audit_head) afterwards, in batches, by one node at a time: the chainer holds the head
-- row's lock, and no change takes it any more. Before this migration every change locked the head
-- row until its commit, so every change of every node queued there, one WAL flush after another.
-- Entries are linked in the order the chainer finds them committed (by id), at most a moment
-- after their commit: each node chains every 250 ms, and before it reads the log or its head.
-- A change and its staged entry commit together or not at all, as before.
CREATE TABLE audit_pending (
    id    bigserial PRIMARY KEY,
    entry jsonb NOT NULL
);
-- Rows come and go all the time: vacuum the table after every thousand dead rows, whatever its size.
ALTER TABLE audit_pending SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
