//! Trust list signing with the root key, the checks before it, and the check of a signed list
//! that comes back.
//!
//! In production the root key never sits on an issuer node: the issuer prepares the unsigned list
//! (a [`TrustList`] as JSON), an admin carries it to the offline machine, reviews it
//! ([`review_trust_list`]) and signs it ([`sign_trust_list`]) with the `keys` tool, and uploads
//! the result, which the issuer checks against the pinned root public key and the list it
//! prepared ([`accept_signed_trust_list`]) before publishing it.

use std::collections::BTreeMap;

use verifier::{KeyState, PublicKey, TrustList, TrustedKey};

use crate::{KeyError, Signer};

const DAY: u64 = 86_400;

/// Signs a trust list with the root key, giving the compact JWS that verifiers check against the
/// pinned root public key ([`TrustList::verify`]).
///
/// The list is validated first (unique key ids, ordered periods, valid public keys, bounded
/// sizes), so nothing a verifier would refuse gets signed. The format, header and `typ` come from
/// the `verifier` crate; only the signature is made here.
pub fn sign_trust_list(root: &dyn Signer, list: &TrustList) -> Result<String, KeyError> {
    list.validate()?;
    let input = list.signing_input(root.kid());
    let sig = root.sign(input.as_bytes())?;
    Ok(verifier::build::jws::assemble(&input, &sig))
}

/// Checks a prepared trust list before the root key signs it, beyond the format rules that
/// [`TrustList::validate`] enforces, and returns what the admin should read before signing.
///
/// Refused ([`KeyError::TrustListRefused`]), because the issuer never prepares such a list and a
/// verifier would be harmed by it:
/// - `next_update` not after `issued_at`, or already past at `now` (verifiers would call it stale);
/// - the root public key listed as a signing key (the root must sign trust lists only);
/// - two active keys for one node (activation retires the node's previous key);
/// - against `previous` (the list last signed, when given): another issuer; a `seq` that does not
///   increase (verifiers never go back); a key whose public key changed; a key whose state went
///   backwards (`revoked` is final, `retired` never signs again, `active` never becomes `next`);
///   a revoked key dropped from the list (verifiers must keep learning of the revocation); a
///   period that grows (periods only ever end early).
///
/// Warnings (the returned strings): `issued_at` more than a day away from `now` (check the
/// offline machine's clock), no active key, a key dropped while what it signed is still valid, a
/// publication period over 31 days.
pub fn review_trust_list(
    list: &TrustList,
    root: &PublicKey,
    previous: Option<&TrustList>,
    now: u64,
) -> Result<Vec<String>, KeyError> {
    list.validate()?;
    let refuse = |why: String| Err(KeyError::TrustListRefused(why));
    if list.next_update <= list.issued_at {
        return refuse(format!("next_update {} is not after issued_at {}", list.next_update, list.issued_at));
    }
    if now > list.next_update {
        return refuse(format!("next_update {} is already past (now {now})", list.next_update));
    }
    if let Some(k) = list.keys.iter().find(|k| &k.x == root) {
        return refuse(format!("key {} is the root key: the root signs trust lists only", k.kid));
    }
    let mut active: BTreeMap<&Option<String>, &TrustedKey> = BTreeMap::new();
    for k in list.keys.iter().filter(|k| k.state == KeyState::Active) {
        if let Some(other) = active.insert(&k.node, k) {
            return refuse(format!("keys {} and {} are both active for {}", other.kid, k.kid, node_name(&k.node)));
        }
    }

    let mut warnings = Vec::new();
    if let Some(prev) = previous {
        if prev.issuer != list.issuer {
            return refuse(format!("issuer {:?} differs from the previous list's {:?}", list.issuer, prev.issuer));
        }
        if list.seq <= prev.seq {
            return refuse(format!("seq {} does not increase on the previous list's {}", list.seq, prev.seq));
        }
        for old in &prev.keys {
            let Some(new) = list.key(&old.kid) else {
                if old.state == KeyState::Revoked {
                    return refuse(format!("revoked key {} is dropped: verifiers must keep its revocation", old.kid));
                }
                if old.valid_until > now {
                    warnings.push(format!(
                        "key {} is dropped although what it signed is valid until {}: verifiers will answer unknown_key",
                        old.kid, old.valid_until
                    ));
                }
                continue;
            };
            if new.x != old.x {
                return refuse(format!("key {} has another public key than in the previous list", old.kid));
            }
            if !state_may_follow(old.state, new.state) {
                return refuse(format!(
                    "key {} goes from {} back to {}",
                    old.kid,
                    old.state.as_str(),
                    new.state.as_str()
                ));
            }
            if new.sign_until > old.sign_until || new.valid_until > old.valid_until || new.sign_from < old.sign_from {
                return refuse(format!("key {} has a longer period than in the previous list", old.kid));
            }
        }
    }
    if list.issued_at.abs_diff(now) > DAY {
        warnings.push(format!(
            "issued_at {} is more than a day from this machine's clock ({now}): check the clock",
            list.issued_at
        ));
    }
    if active.is_empty() {
        warnings.push("no active key: no node can issue under this list".to_owned());
    }
    if list.next_update - list.issued_at > 31 * DAY {
        warnings.push(format!(
            "next_update is {} days after issued_at: verifiers learn of revocations only that often",
            (list.next_update - list.issued_at) / DAY
        ));
    }
    Ok(warnings)
}

/// Whether a key's state may move from `old` to `new` between two published lists: only forward
/// along `next → active → retired`, and to `revoked` from anywhere.
fn state_may_follow(old: KeyState, new: KeyState) -> bool {
    use KeyState::*;
    matches!(
        (old, new),
        (Next, _) | (Active, Active | Retired | Revoked) | (Retired, Retired | Revoked) | (Revoked, Revoked)
    )
}

fn node_name(node: &Option<String>) -> String {
    node.as_deref().map(|n| format!("node {n}")).unwrap_or_else(|| "the default node".to_owned())
}

/// Checks a signed trust list uploaded by an admin before the issuer publishes it: it must verify
/// under the pinned `root` public key (signature, `typ`, and every format rule, through
/// [`TrustList::verify`]) and carry exactly the list the issuer prepared, so that neither a list
/// signed by another root nor an older or edited list signed by the right one gets published.
///
/// Returns the verified list. Errors: [`KeyError::TrustList`] when it does not verify
/// (`verifier::Error::TrustListSignature` for another root), [`KeyError::TrustListRefused`] when
/// it verifies but is not the prepared list.
pub fn accept_signed_trust_list(signed: &str, root: &PublicKey, prepared: &TrustList) -> Result<TrustList, KeyError> {
    let list = TrustList::verify(signed.trim(), root)?;
    if &list != prepared {
        return Err(KeyError::TrustListRefused(format!(
            "the signed list (seq {}) is not the list the issuer prepared (seq {})",
            list.seq, prepared.seq
        )));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::NOW;
    use crate::{KeyPolicy, SigningHandle};

    fn list(keys: Vec<verifier::TrustedKey>) -> TrustList {
        TrustList {
            v: 1,
            issuer: "https://issuer.test".into(),
            seq: 1,
            issued_at: NOW,
            next_update: NOW + 86_400,
            keys,
            status_lists: vec![],
        }
    }

    fn entry() -> verifier::TrustedKey {
        let h = SigningHandle::generate().unwrap();
        crate::KeyRecord::new_signing(h.kid().clone(), h.public_key(), NOW, None, &KeyPolicy::default()).to_trusted()
    }

    #[test]
    fn round_trips_under_the_root_key_only() {
        let root = SigningHandle::generate().unwrap();
        let l = list(vec![entry(), entry()]);
        let jws = sign_trust_list(&root, &l).unwrap();
        assert_eq!(TrustList::verify(&jws, &root.public_key()).unwrap(), l);
        let other = SigningHandle::generate().unwrap();
        assert!(matches!(TrustList::verify(&jws, &other.public_key()), Err(verifier::Error::TrustListSignature)));
        let header = jws.split('.').next().unwrap();
        let header = crate::crypto::unb64(header).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header["kid"], root.kid().to_string());
    }

    #[test]
    fn accepts_only_the_prepared_list_under_the_pinned_root() {
        let root = SigningHandle::generate().unwrap();
        let prepared = list(vec![entry()]);
        let jws = sign_trust_list(&root, &prepared).unwrap();
        assert_eq!(accept_signed_trust_list(&format!("{jws}\n"), &root.public_key(), &prepared).unwrap(), prepared);
        let other = SigningHandle::generate().unwrap();
        let by_other = sign_trust_list(&other, &prepared).unwrap();
        assert!(matches!(
            accept_signed_trust_list(&by_other, &root.public_key(), &prepared),
            Err(KeyError::TrustList(verifier::Error::TrustListSignature))
        ));
        let mut older = prepared.clone();
        older.seq -= 1;
        let old_jws = sign_trust_list(&root, &older).unwrap();
        assert!(matches!(
            accept_signed_trust_list(&old_jws, &root.public_key(), &prepared),
            Err(KeyError::TrustListRefused(_))
        ));
        assert!(matches!(
            accept_signed_trust_list("not.a.jws", &root.public_key(), &prepared),
            Err(KeyError::TrustList(_))
        ));
    }

    #[test]
    fn review_table() {
        use KeyState::*;
        let root = SigningHandle::generate().unwrap();
        let with = |state: KeyState, node: Option<&str>| {
            let mut e = entry();
            e.state = state;
            e.node = node.map(str::to_owned);
            e
        };
        let (a, b) = (with(Active, None), with(Next, None));
        let base = list(vec![a.clone(), b.clone()]);
        type Edit = Box<dyn Fn(&mut TrustList)>;
        // (what changes from the previous list `base`, refused?, warnings expected)
        let cases: Vec<(&str, Edit, Option<&str>, usize)> = vec![
            ("next seq, same keys", Box::new(|_| {}), None, 0),
            (
                "activate b, retire a",
                Box::new(|l| {
                    l.keys[0].state = Retired;
                    l.keys[1].state = Active;
                }),
                None,
                0,
            ),
            ("revoke a", Box::new(|l| l.keys[0].state = Revoked), None, 1),
            ("same seq", Box::new(|l| l.seq -= 1), Some("does not increase"), 0),
            ("other issuer", Box::new(|l| l.issuer = "https://evil.test".into()), Some("differs"), 0),
            ("two active", Box::new(|l| l.keys[1].state = Active), Some("both active"), 0),
            (
                "two active, other nodes",
                Box::new(|l| {
                    l.keys[1].state = Active;
                    l.keys[1].node = Some("hn".into());
                }),
                None,
                0,
            ),
            ("active back to next", Box::new(|l| l.keys[0].state = Next), Some("back to next"), 0),
            ("key swapped", Box::new(|l| l.keys[0].x = entry().x), Some("another public key"), 0),
            ("period extended", Box::new(|l| l.keys[0].valid_until += 1), Some("longer period"), 0),
            ("root listed", Box::new(move |l| l.keys[1].x = root.public_key()), Some("is the root key"), 0),
            (
                "stale",
                Box::new(|l| {
                    l.issued_at = NOW - 10 * DAY;
                    l.next_update = NOW - 1;
                }),
                Some("already past"),
                0,
            ),
            ("next_update before issued_at", Box::new(|l| l.next_update = l.issued_at), Some("not after"), 0),
            (
                "valid key dropped",
                Box::new(|l| {
                    l.keys.remove(1);
                }),
                None,
                1,
            ),
            (
                "clock far off",
                Box::new(|l| {
                    l.issued_at -= 3 * DAY;
                }),
                None,
                1,
            ),
            ("long period", Box::new(|l| l.next_update = l.issued_at + 60 * DAY), None, 1),
            ("duplicate kid", Box::new(|l| l.keys[1].kid = l.keys[0].kid.clone()), Some("duplicate key id"), 0),
        ];
        let root_pk = SigningHandle::generate().unwrap().public_key();
        for (name, edit, refused, warnings) in cases {
            let mut l = base.clone();
            l.seq += 1;
            edit(&mut l);
            let root = if name == "root listed" { l.keys[1].x } else { root_pk };
            match (review_trust_list(&l, &root, Some(&base), NOW), refused) {
                (Ok(w), None) => assert_eq!(w.len(), warnings, "{name}: {w:?}"),
                (Err(e), Some(why)) => assert!(e.to_string().contains(why), "{name}: {e}"),
                (got, want) => panic!("{name}: wanted refusal {want:?}, got {got:?}"),
            }
        }
        // A revoked key dropped is refused; without a previous list only the list's own rules apply.
        let mut prev = base.clone();
        prev.keys[1].state = Revoked;
        let mut l = prev.clone();
        l.seq += 1;
        l.keys.remove(1);
        assert!(matches!(review_trust_list(&l, &root_pk, Some(&prev), NOW), Err(KeyError::TrustListRefused(_))));
        review_trust_list(&l, &root_pk, None, NOW).unwrap();
        let none_active = list(vec![b]);
        assert_eq!(review_trust_list(&none_active, &root_pk, None, NOW).unwrap().len(), 1);
    }

    #[test]
    fn an_invalid_list_is_not_signed() {
        let root = SigningHandle::generate().unwrap();
        let e = entry();
        let dup = list(vec![e.clone(), e]);
        assert!(matches!(sign_trust_list(&root, &dup), Err(KeyError::TrustList(_))));
    }
}
