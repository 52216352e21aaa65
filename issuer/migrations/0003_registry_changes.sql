-- The national registry's change feed (issue 14, issuer/src/service/registry_sync.rs): what the
-- issuer did with each change of the feed, under the change's position, and the position
-- reached. No personal data: a card is a keyed blind index.

CREATE TABLE registry_changes (
    seq         bigint PRIMARY KEY,
    -- 1 when applied, +1 with every settlement (compare-and-set).
    version     integer NOT NULL,
    card        bytea NOT NULL,
    -- When the work the change left (a revocation at the end of a card's last day, the old
    -- credentials of a renewal, a notice) is due; NULL once settled.
    pending_due bigint,
    body        jsonb NOT NULL
);
CREATE INDEX registry_changes_by_card ON registry_changes (card, seq);
CREATE INDEX registry_changes_pending ON registry_changes (seq) WHERE pending_due IS NOT NULL;

-- The feed position: the seq of the last change applied. Every application of a change updates
-- it with a compare-and-set, in the change's transaction.
INSERT INTO counters (name, value) VALUES ('registry_position', 0);

-- The credentials resting on a card (the card's blind index, hex, in the credential's body).
CREATE INDEX credentials_by_card ON credentials ((body->>'card'));
