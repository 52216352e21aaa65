//! Rotation the admin sees coming: an overview of every key with the time it has left, warnings
//! before the active key stops signing, and the rule that keeps a new key from signing before
//! offline verifiers can know it.
//!
//! Pure functions over [`KeyRecord`]s and times passed in: no I/O, no clock. The issuer stores
//! when each key first appeared in a published trust list and hands that time in.

use verifier::{KeyId, KeyState};

use crate::record::{KeyRecord, KeyRole};
use crate::KeyError;

const DAY: u64 = 86_400;

/// How far ahead the admin is warned, and how long a new key must have been published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Warn when the active key's signing period ends within this many seconds. Default: 30 days,
    /// enough to prepare a key, publish it and wait [`RotationPolicy::sync_interval`].
    pub warn_before: u64,
    /// How long verifiers may go between two syncs, in seconds: a `next` key must have been in a
    /// published trust list at least this long before it is activated, so that every verifier
    /// that keeps to its schedule knows it before it sees a credential it signed. Default: 7
    /// days, the trust list's publication period (`next_update - issued_at`).
    pub sync_interval: u64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self { warn_before: 30 * DAY, sync_interval: 7 * DAY }
    }
}

/// Where one key stands at a given moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// The key id.
    pub kid: KeyId,
    /// Root or signing key.
    pub role: KeyRole,
    /// The node that signs with it, if any.
    pub node: Option<String>,
    /// Its rotation state.
    pub state: KeyState,
    /// Its signing period, UNIX seconds, both ends included.
    pub sign_from: u64,
    /// See `sign_from`.
    pub sign_until: u64,
    /// What it signed is accepted until this moment.
    pub valid_until: u64,
    /// Whole days until `sign_until` (0 once it has passed, or for a key that signs no more:
    /// retired or revoked). `None` for a key with no end (the root key).
    pub signing_days_left: Option<u64>,
    /// Whole days until `valid_until` (0 once passed or when revoked). `None` for no end.
    pub valid_days_left: Option<u64>,
}

/// Something about rotation the admin should act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotationWarning {
    /// The node's active key stops signing within [`RotationPolicy::warn_before`]. `next_ready`
    /// tells whether a `next` key for the node already waits.
    SigningEndsSoon {
        /// The active key.
        kid: KeyId,
        /// Its node.
        node: Option<String>,
        /// When its signing period ends.
        sign_until: u64,
        /// Whole days left (rounded down).
        days_left: u64,
        /// Whether a `next` key for the same node exists.
        next_ready: bool,
    },
    /// The node's active key is past its signing period: the node can no longer issue.
    SigningEnded {
        /// The active key.
        kid: KeyId,
        /// Its node.
        node: Option<String>,
        /// When its signing period ended.
        sign_until: u64,
    },
    /// A node has signing keys but none active (after a revocation): it cannot issue.
    NoActiveKey {
        /// The node.
        node: Option<String>,
    },
}

impl std::fmt::Display for RotationWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let node = |n: &Option<String>| n.as_deref().map(|n| format!(" of node {n}")).unwrap_or_default();
        match self {
            RotationWarning::SigningEndsSoon { kid, node: n, days_left, next_ready, .. } => {
                write!(f, "active key {kid}{} stops signing in {days_left} day(s)", node(n))?;
                if !next_ready {
                    f.write_str("; no next key is prepared")?;
                }
                Ok(())
            }
            RotationWarning::SigningEnded { kid, node: n, .. } => {
                write!(f, "active key {kid}{} is past its signing period: issuance stops", node(n))
            }
            RotationWarning::NoActiveKey { node: n } => write!(f, "no active signing key{}", node(n)),
        }
    }
}

/// Every key's status, and the warnings, at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// One entry per record, in the records' order.
    pub keys: Vec<KeyStatus>,
    /// What needs attention, node by node.
    pub warnings: Vec<RotationWarning>,
}

fn days_until(end: u64, now: u64) -> Option<u64> {
    (end != u64::MAX).then(|| end.saturating_sub(now) / DAY)
}

/// Each key's state, periods and days left at `now`, and a warning for each node whose active key
/// stops signing within `policy.warn_before` (or already has), or that has no active key.
pub fn rotation_report(records: &[KeyRecord], now: u64, policy: &RotationPolicy) -> RotationReport {
    let keys = records
        .iter()
        .map(|r| {
            let signing_days_left = match r.state {
                KeyState::Retired | KeyState::Revoked => Some(0),
                KeyState::Next | KeyState::Active => days_until(r.sign_until, now),
            };
            let valid_days_left = match r.state {
                KeyState::Revoked => Some(0),
                _ => days_until(r.valid_until, now),
            };
            KeyStatus {
                kid: r.kid.clone(),
                role: r.role,
                node: r.node.clone(),
                state: r.state,
                sign_from: r.sign_from,
                sign_until: r.sign_until,
                valid_until: r.valid_until,
                signing_days_left,
                valid_days_left,
            }
        })
        .collect();

    let signing: Vec<&KeyRecord> = records.iter().filter(|r| r.role == KeyRole::Signing).collect();
    let mut nodes: Vec<&Option<String>> = signing.iter().map(|r| &r.node).collect();
    nodes.sort();
    nodes.dedup();
    let mut warnings = Vec::new();
    for node in nodes {
        let of_node = || signing.iter().filter(move |r| &r.node == node);
        let next_ready = of_node().any(|r| r.state == KeyState::Next && r.sign_until > now);
        let active: Vec<&&KeyRecord> = of_node().filter(|r| r.state == KeyState::Active).collect();
        if active.is_empty() {
            warnings.push(RotationWarning::NoActiveKey { node: node.clone() });
        }
        for r in active {
            if now > r.sign_until {
                warnings.push(RotationWarning::SigningEnded {
                    kid: r.kid.clone(),
                    node: node.clone(),
                    sign_until: r.sign_until,
                });
            } else if r.sign_until - now <= policy.warn_before {
                warnings.push(RotationWarning::SigningEndsSoon {
                    kid: r.kid.clone(),
                    node: node.clone(),
                    sign_until: r.sign_until,
                    days_left: (r.sign_until - now) / DAY,
                    next_ready,
                });
            }
        }
    }
    RotationReport { keys, warnings }
}

/// Whether an activation is the planned kind or an emergency that skipped the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The key has been published for at least the sync interval.
    Planned,
    /// Forced before verifiers can all know the key: some will answer `unknown_key` for what it
    /// signs until they sync. Audit it as an emergency.
    Emergency,
}

/// The rule for activating `key` at `now`: it must be a `next` signing key whose signing period
/// is not over, and must have been in a published trust list (first at `first_published`) for at
/// least `policy.sync_interval`, so that verifiers syncing on schedule know it already.
///
/// With `force` (an emergency: the active key is compromised) the wait is skipped and the answer
/// is [`Activation::Emergency`]; a forced activation that did not need forcing is
/// [`Activation::Planned`]. The state rules hold even when forced.
///
/// Refusals: [`KeyError::NotYetSynced`] for the wait (with the time it ends, if the key was
/// published at all), [`KeyError::InvalidTransition`] for the state rules.
pub fn check_activation(
    key: &KeyRecord,
    first_published: Option<u64>,
    now: u64,
    policy: &RotationPolicy,
    force: bool,
) -> Result<Activation, KeyError> {
    let refuse = |why: &str| {
        Err(KeyError::InvalidTransition(format!(
            "{} key {}: {} → active: {why}",
            key.role.as_str(),
            key.kid,
            key.state.as_str()
        )))
    };
    if key.role != KeyRole::Signing {
        return refuse("only a signing key is activated");
    }
    if key.state != KeyState::Next {
        return refuse("only a next key can be activated");
    }
    if now > key.sign_until {
        return refuse("its signing period is over");
    }
    let ready_at = first_published.map(|t| t.saturating_add(policy.sync_interval));
    match ready_at {
        Some(t) if now >= t => Ok(Activation::Planned),
        _ if force => Ok(Activation::Emergency),
        _ => Err(KeyError::NotYetSynced { kid: key.kid.clone(), first_published, ready_at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::NOW;
    use crate::record::KeyPolicy;
    use crate::{Signer as _, SigningHandle};

    fn rec(n: u8, state: KeyState, node: Option<&str>, sign_until: u64) -> KeyRecord {
        let h = SigningHandle::from_seed(zeroize::Zeroizing::new([n; 32]));
        let mut r = KeyRecord::new_signing(h.kid().clone(), h.public_key(), NOW, node, &KeyPolicy::default());
        r.state = state;
        r.sign_until = sign_until;
        r
    }

    fn root() -> KeyRecord {
        let h = SigningHandle::from_seed(zeroize::Zeroizing::new([99; 32]));
        KeyRecord::new_root(h.kid().clone(), h.public_key(), NOW)
    }

    const P: RotationPolicy = RotationPolicy { warn_before: 30 * DAY, sync_interval: 7 * DAY };

    #[test]
    fn activation_rule_table() {
        use KeyState::*;
        let end = NOW + 365 * DAY;
        let ready = |published: u64| published + P.sync_interval;
        // (state, first published, now, forced, expected)
        type Want = Result<Activation, &'static str>;
        let table: Vec<(KeyState, Option<u64>, u64, bool, Want)> = vec![
            // Published long enough: planned, forced or not.
            (Next, Some(NOW), ready(NOW), false, Ok(Activation::Planned)),
            (Next, Some(NOW), ready(NOW) + 1, false, Ok(Activation::Planned)),
            (Next, Some(NOW), ready(NOW), true, Ok(Activation::Planned)),
            // One second short of the interval: refused, unless forced.
            (Next, Some(NOW), ready(NOW) - 1, false, Err("not synced")),
            (Next, Some(NOW), ready(NOW) - 1, true, Ok(Activation::Emergency)),
            // Never published: refused however long ago it was made, unless forced.
            (Next, None, NOW + 100 * DAY, false, Err("not synced")),
            (Next, None, NOW, true, Ok(Activation::Emergency)),
            // Published "in the future" (clock skew between nodes): not yet.
            (Next, Some(NOW + DAY), NOW, false, Err("not synced")),
            // State rules hold even when forced.
            (Active, Some(NOW), ready(NOW), true, Err("transition")),
            (Retired, Some(NOW), ready(NOW), true, Err("transition")),
            (Revoked, Some(NOW), ready(NOW), true, Err("transition")),
            (Next, Some(NOW), end + 1, true, Err("transition")),
            (Next, Some(NOW), end, false, Ok(Activation::Planned)),
        ];
        for (i, (state, published, now, force, want)) in table.into_iter().enumerate() {
            let r = rec(1, state, None, end);
            let got = check_activation(&r, published, now, &P, force);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "case {i}"),
                (Err("not synced"), Err(KeyError::NotYetSynced { kid, first_published, ready_at })) => {
                    assert_eq!(kid, r.kid, "case {i}");
                    assert_eq!(first_published, published, "case {i}");
                    assert_eq!(ready_at, published.map(ready), "case {i}");
                }
                (Err("transition"), Err(KeyError::InvalidTransition(_))) => {}
                (w, g) => panic!("case {i}: wanted {w:?}, got {g:?}"),
            }
        }
        assert!(matches!(
            check_activation(&root(), Some(NOW), NOW + DAY * 30, &P, true),
            Err(KeyError::InvalidTransition(_))
        ));
        let e = check_activation(&rec(1, Next, None, end), Some(NOW), NOW, &P, false).unwrap_err();
        assert!(e.to_string().contains("not in a published trust list long enough"), "{e}");
    }

    #[test]
    fn report_table() {
        use KeyState::*;
        let end = NOW + 100 * DAY;
        // (records, now, expected warnings as text fragments)
        let cases: Vec<(Vec<KeyRecord>, u64, Vec<&str>)> = vec![
            // Far from the end: nothing to say.
            (vec![root(), rec(1, Active, None, end)], NOW, vec![]),
            // Inside the window, no next key.
            (vec![rec(1, Active, None, end)], end - 30 * DAY, vec!["stops signing in 30 day(s); no next key"]),
            // One second outside the window.
            (vec![rec(1, Active, None, end)], end - 30 * DAY - 1, vec![]),
            // Inside the window with a next key ready.
            (vec![rec(1, Active, None, end), rec(2, Next, None, end + 365 * DAY)], end - DAY, vec!["in 1 day(s)"]),
            // A next key of another node does not count.
            (
                vec![rec(1, Active, None, end), rec(2, Next, Some("hn"), end + 365 * DAY)],
                end - DAY,
                vec!["no next key", "no active signing key of node hn"],
            ),
            // Past the end.
            (vec![rec(1, Active, Some("hn"), end)], end + 1, vec!["of node hn is past its signing period"]),
            // Revoked active key and nothing else.
            (vec![rec(1, Revoked, None, end)], NOW, vec!["no active signing key"]),
            // Root only: no signing nodes, no warnings.
            (vec![root()], NOW, vec![]),
        ];
        for (i, (records, now, want)) in cases.into_iter().enumerate() {
            let report = rotation_report(&records, now, &P);
            let got: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
            assert_eq!(got.len(), want.len(), "case {i}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.contains(w), "case {i}: {g:?} lacks {w:?}");
            }
            assert_eq!(report.keys.len(), records.len());
        }
    }

    #[test]
    fn days_left() {
        use KeyState::*;
        let end = NOW + 10 * DAY + 5;
        let recs = [rec(1, Active, None, end), rec(2, Retired, None, end), rec(3, Revoked, None, end), root()];
        let r = rotation_report(&recs, NOW, &P);
        let left: Vec<_> = r.keys.iter().map(|k| (k.signing_days_left, k.valid_days_left)).collect();
        let valid = (recs[0].valid_until - NOW) / DAY;
        assert_eq!(left, [(Some(10), Some(valid)), (Some(0), Some(valid)), (Some(0), Some(0)), (None, None)]);
        let later = rotation_report(&recs, end + 1, &P);
        assert_eq!(later.keys[0].signing_days_left, Some(0));
        assert_eq!(later.keys[0].state, Active);
    }
}
