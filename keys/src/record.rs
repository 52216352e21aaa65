//! Key records and the rotation state machine, with no I/O: the keystore applies these rules to
//! a copy of its records and writes the copy before adopting it.

use serde::{Deserialize, Serialize};
use verifier::{KeyId, KeyState, PublicKey, TrustedKey};

use crate::KeyError;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// Signs trust lists only. Verifiers pin its public key; in production it is kept offline.
    Root,
    /// Signs credentials and status lists; listed in the trust list.
    Signing,
}

impl KeyRole {
    /// `root` or `signing`, as in `keys.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Root => "root",
            KeyRole::Signing => "signing",
        }
    }
}

/// The public metadata of one key, as stored in `keys.json`. Times are UNIX seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// The key id ([`crate::key_id_for`] the public key).
    pub kid: KeyId,
    /// Root or signing key.
    pub role: KeyRole,
    /// The Ed25519 public key.
    pub public_key: PublicKey,
    /// Its rotation state.
    pub state: KeyState,
    /// When it was generated.
    pub created_at: u64,
    /// First moment a credential's issue time may fall in for this key.
    pub sign_from: u64,
    /// Last moment a credential's issue time may fall in; brought forward when the key retires or
    /// is revoked.
    pub sign_until: u64,
    /// What this key signed is not accepted after this moment.
    pub valid_until: u64,
    /// The issuer node that signs with this key, when several nodes run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// For a key held in an HSM: its `CKA_LABEL` on the node's PKCS#11 token. The keystore then
    /// has no sealed seed for it, only this record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsm_label: Option<String>,
}

impl KeyRecord {
    pub(crate) fn new_root(kid: KeyId, public_key: PublicKey, now: u64) -> Self {
        // The root key is not in the trust list and its periods mean nothing to verifiers: it is
        // valid until revoked.
        Self {
            kid,
            role: KeyRole::Root,
            public_key,
            state: KeyState::Active,
            created_at: now,
            sign_from: now,
            sign_until: u64::MAX,
            valid_until: u64::MAX,
            node: None,
            hsm_label: None,
        }
    }

    pub(crate) fn new_signing(
        kid: KeyId,
        public_key: PublicKey,
        now: u64,
        node: Option<&str>,
        policy: &KeyPolicy,
    ) -> Self {
        let sign_until = now.saturating_add(policy.signing_period);
        Self {
            kid,
            role: KeyRole::Signing,
            public_key,
            state: KeyState::Next,
            created_at: now,
            sign_from: now,
            sign_until,
            valid_until: sign_until.saturating_add(policy.credential_lifetime),
            node: node.map(str::to_owned),
            hsm_label: None,
        }
    }

    /// The trust list entry for this key.
    pub fn to_trusted(&self) -> TrustedKey {
        TrustedKey {
            kid: self.kid.clone(),
            x: self.public_key,
            state: self.state,
            sign_from: self.sign_from,
            sign_until: self.sign_until,
            valid_until: self.valid_until,
            node: self.node.clone(),
        }
    }

    /// Ends the signing period at `now`, never before it began (the trust list requires
    /// `sign_from <= sign_until`).
    fn end_signing(&mut self, now: u64) {
        self.sign_until = self.sign_until.min(now).max(self.sign_from);
    }
}

/// How long a signing key signs, and how long what it signed stays valid afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Seconds from generation during which the key may sign. Default: 365 days.
    pub signing_period: u64,
    /// Seconds after the signing period during which what the key signed stays valid: the
    /// longest life of a credential it may issue. Default: 5 years. A residence card can last up
    /// to 10 years, but the e-ID credential is re-issued (on renewal of the card, a new device,
    /// or at the latest after 5 years), so the key need not outlive the card.
    pub credential_lifetime: u64,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self { signing_period: 365 * 86_400, credential_lifetime: 5 * 365 * 86_400 }
    }
}

/// A rotation operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Activate,
    Retire,
    Revoke,
}

impl Op {
    fn target(self) -> KeyState {
        match self {
            Op::Activate => KeyState::Active,
            Op::Retire => KeyState::Retired,
            Op::Revoke => KeyState::Revoked,
        }
    }
}

/// Applies `op` to the key `kid` at `now`, or refuses it and leaves `records` untouched.
///
/// - activate: `next → active`, signing keys only, and not once the key's signing period is over
///   (verifiers would refuse what it signs). Every other active signing key of the same node
///   retires, its signing period ending at `now`.
/// - retire: `next | active → retired`, signing keys only; the signing period ends at `now`.
/// - revoke: anything but `revoked` → `revoked`, root included; the signing period ends at `now`
///   (the record shows when), though verifiers refuse everything a revoked key signed anyway.
pub(crate) fn apply(records: &mut [KeyRecord], kid: &KeyId, op: Op, now: u64) -> Result<(), KeyError> {
    let i = records.iter().position(|r| &r.kid == kid).ok_or_else(|| KeyError::NotFound(format!("key {kid}")))?;
    let r = &records[i];
    let refuse = |why: &str| {
        Err(KeyError::InvalidTransition(format!(
            "{} key {kid}: {} → {}: {why}",
            r.role.as_str(),
            r.state.as_str(),
            op.target().as_str()
        )))
    };
    match (op, r.role, r.state) {
        (_, _, KeyState::Revoked) => return refuse("a revoked key stays revoked"),
        (Op::Revoke, _, _) => {}
        (_, KeyRole::Root, _) => return refuse("the root key is only ever revoked"),
        (Op::Activate, KeyRole::Signing, KeyState::Next) if now > r.sign_until => {
            return refuse("its signing period is over");
        }
        (Op::Activate, KeyRole::Signing, KeyState::Next) => {}
        (Op::Activate, KeyRole::Signing, _) => return refuse("only a next key can be activated"),
        (Op::Retire, KeyRole::Signing, KeyState::Next | KeyState::Active) => {}
        (Op::Retire, KeyRole::Signing, _) => return refuse("only a next or active key can be retired"),
    }
    if op == Op::Activate {
        let node = records[i].node.clone();
        for other in
            records.iter_mut().filter(|o| o.role == KeyRole::Signing && o.state == KeyState::Active && o.node == node)
        {
            other.state = KeyState::Retired;
            other.end_signing(now);
        }
    }
    let r = &mut records[i];
    match op {
        Op::Activate => r.sign_from = r.sign_from.min(now),
        Op::Retire | Op::Revoke => r.end_signing(now),
    }
    r.state = op.target();
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const NOW: u64 = 1_790_000_000;

    fn kid(n: u8) -> KeyId {
        KeyId::try_from(&[n, n, n, n][..]).unwrap()
    }

    fn rec(n: u8, role: KeyRole, state: KeyState, node: Option<&str>) -> KeyRecord {
        let pk = crate::SigningHandle::from_seed(zeroize::Zeroizing::new([n; 32]));
        use crate::Signer as _;
        let mut r = match role {
            KeyRole::Root => KeyRecord::new_root(kid(n), pk.public_key(), NOW),
            KeyRole::Signing => KeyRecord::new_signing(kid(n), pk.public_key(), NOW, node, &KeyPolicy::default()),
        };
        r.state = state;
        r
    }

    const STATES: [KeyState; 4] = [KeyState::Next, KeyState::Active, KeyState::Retired, KeyState::Revoked];

    #[test]
    fn state_machine_table() {
        use KeyState::*;
        // (operation, from state, allowed for a signing key, allowed for the root key)
        let table = [
            (Op::Activate, Next, true, false),
            (Op::Activate, Active, false, false),
            (Op::Activate, Retired, false, false),
            (Op::Activate, Revoked, false, false),
            (Op::Retire, Next, true, false),
            (Op::Retire, Active, true, false),
            (Op::Retire, Retired, false, false),
            (Op::Retire, Revoked, false, false),
            (Op::Revoke, Next, true, true),
            (Op::Revoke, Active, true, true),
            (Op::Revoke, Retired, true, true),
            (Op::Revoke, Revoked, false, false),
        ];
        assert_eq!(table.len(), 3 * STATES.len(), "every (operation, state) pair is listed");
        for (op, from, signing_ok, root_ok) in table {
            for (role, ok) in [(KeyRole::Signing, signing_ok), (KeyRole::Root, root_ok)] {
                let mut records = vec![rec(1, role, from, None)];
                let before = records.clone();
                let res = apply(&mut records, &kid(1), op, NOW + 10);
                if ok {
                    res.unwrap_or_else(|e| panic!("{op:?} {role:?} {from:?}: {e}"));
                    assert_eq!(records[0].state, op.target());
                } else {
                    assert!(
                        matches!(res, Err(KeyError::InvalidTransition(_))),
                        "{op:?} {role:?} {from:?} must be refused: {res:?}"
                    );
                    assert_eq!(records, before, "a refused transition changes nothing");
                }
            }
        }
        let mut records = vec![rec(1, KeyRole::Signing, Next, None)];
        assert!(matches!(apply(&mut records, &kid(2), Op::Revoke, NOW), Err(KeyError::NotFound(_))));
    }

    #[test]
    fn activation_retires_the_same_nodes_active_key_only() {
        let mut records = vec![
            rec(1, KeyRole::Signing, KeyState::Active, Some("hn")),
            rec(2, KeyRole::Signing, KeyState::Active, Some("hcm")),
            rec(3, KeyRole::Signing, KeyState::Active, None),
            rec(4, KeyRole::Root, KeyState::Active, None),
            rec(5, KeyRole::Signing, KeyState::Next, Some("hn")),
        ];
        apply(&mut records, &kid(5), Op::Activate, NOW + 100).unwrap();
        let states: Vec<_> = records.iter().map(|r| r.state).collect();
        assert_eq!(states, [KeyState::Retired, KeyState::Active, KeyState::Active, KeyState::Active, KeyState::Active]);
        assert_eq!(records[0].sign_until, NOW + 100, "the retired key stops signing at activation");
        assert_eq!(records[0].valid_until, rec(1, KeyRole::Signing, KeyState::Active, None).valid_until);
        assert_eq!(records[4].sign_from, NOW);
    }

    #[test]
    fn periods_follow_policy_and_stay_ordered() {
        let r = rec(1, KeyRole::Signing, KeyState::Next, None);
        assert_eq!((r.sign_from, r.sign_until), (NOW, NOW + 365 * 86_400));
        assert_eq!(r.valid_until, r.sign_until + 5 * 365 * 86_400);

        // Retiring (or revoking) "before" the key was created keeps sign_from <= sign_until.
        let mut records = vec![rec(1, KeyRole::Signing, KeyState::Next, None)];
        apply(&mut records, &kid(1), Op::Retire, NOW - 50).unwrap();
        assert_eq!(records[0].sign_until, NOW);

        let mut records = vec![rec(1, KeyRole::Signing, KeyState::Active, None)];
        apply(&mut records, &kid(1), Op::Revoke, NOW + 7).unwrap();
        assert_eq!(records[0].sign_until, NOW + 7);
        assert!(records[0].sign_until <= records[0].valid_until);
    }

    #[test]
    fn a_key_past_its_signing_period_is_not_activated() {
        let mut records = vec![rec(1, KeyRole::Signing, KeyState::Next, None)];
        let end = records[0].sign_until;
        assert!(matches!(apply(&mut records, &kid(1), Op::Activate, end + 1), Err(KeyError::InvalidTransition(_))));
        apply(&mut records, &kid(1), Op::Activate, end).unwrap();
    }
}
