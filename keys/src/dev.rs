//! The development first start.

use std::path::Path;

use crate::fsio::private_dir;
use crate::{create_key_file, KdfParams, KeyError, KeyPolicy, Keystore, Unlock};

/// Opens the development keystore in `dir`, creating it on first start. Returns the keystore and
/// whether this call created its keys.
///
/// On first start it creates a key file `dir/kek` (0600), a keystore in `dir` unlocked by it, a
/// root key and one activated signing key (node `None`), all at `now`. Later starts open it with
/// `dir/kek`. A first start cut short (a keystore with no keys yet) is completed, and an existing
/// `dir/kek` is reused, never replaced.
///
/// **Development only.** The key file sits next to the keys it protects, so anyone who can read
/// the directory can use them. Production unlocks with a passphrase (from an environment variable
/// or a prompt, as the issuer binary decides; see [`Keystore::open`]) or keeps keys in an HSM
/// behind [`crate::Signer`], and generates the root key on an offline machine, where it signs
/// trust lists and nothing else.
pub fn dev_init(dir: &Path, now: u64) -> Result<(Keystore, bool), KeyError> {
    let kek = dir.join("kek");
    let unlock = Unlock::KeyFile(kek.clone());
    let (mut ks, _) = if dir.join("keystore.json").exists() {
        (Keystore::open(dir, &unlock)?, false)
    } else {
        private_dir(dir)?;
        if !kek.exists() {
            create_key_file(&kek)?;
        }
        Keystore::open_or_create(dir, &unlock, KdfParams::default())?
    };
    if !ks.records().is_empty() {
        return Ok((ks, false));
    }
    ks.generate_root(now)?;
    let kid = ks.generate_signing(now, None, &KeyPolicy::default())?;
    ks.activate(&kid, now)?;
    Ok((ks, true))
}

/// Opens the development keystore of one node of several in `dir`, creating it on first start:
/// a key file, and one activated signing key for `node`; **no root key** (the nodes of a
/// deployment share one root, kept apart: see [`dev_init`]). Development only, like
/// [`dev_init`].
pub fn dev_init_node(dir: &Path, node: &str, now: u64) -> Result<(Keystore, bool), KeyError> {
    let kek = dir.join("kek");
    let unlock = Unlock::KeyFile(kek.clone());
    let (mut ks, _) = if dir.join("keystore.json").exists() {
        (Keystore::open(dir, &unlock)?, false)
    } else {
        private_dir(dir)?;
        if !kek.exists() {
            create_key_file(&kek)?;
        }
        Keystore::open_or_create(dir, &unlock, KdfParams::default())?
    };
    if ks.active_signing(Some(node)).is_ok() {
        return Ok((ks, false));
    }
    let kid = ks.generate_signing(now, Some(node), &KeyPolicy::default())?;
    ks.activate(&kid, now)?;
    Ok((ks, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::NOW;
    use crate::Signer as _;

    #[test]
    fn a_node_keystore_holds_only_its_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let (ks, created) = dev_init_node(dir.path(), "node-a", NOW).unwrap();
        assert!(created);
        assert!(ks.root().is_err(), "a node keystore has no root key");
        let kid = ks.active_signing(Some("node-a")).unwrap().kid().clone();
        drop(ks);
        let (ks, created) = dev_init_node(dir.path(), "node-a", NOW + 1).unwrap();
        assert!(!created);
        assert_eq!(ks.active_signing(Some("node-a")).unwrap().kid(), &kid);
        assert_eq!(ks.records().len(), 1);
    }

    #[test]
    fn creates_once_then_opens() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data").join("keys");
        let (ks, created) = dev_init(&d, NOW).unwrap();
        assert!(created);
        let root = ks.root().unwrap().kid().clone();
        let active = ks.active_signing(None).unwrap().kid().clone();
        assert_eq!(ks.records().len(), 2);
        #[cfg(unix)]
        {
            assert_eq!(crate::fsio::tests::mode(&d.join("kek")), 0o600);
            assert_eq!(crate::fsio::tests::mode(&d), 0o700);
        }
        drop(ks);
        let (ks, created) = dev_init(&d, NOW + 100).unwrap();
        assert!(!created);
        assert_eq!(ks.root().unwrap().kid(), &root);
        assert_eq!(ks.active_signing(None).unwrap().kid(), &active);
        assert_eq!(ks.records().len(), 2);

        // The trust list it publishes verifies under the root key.
        let list = verifier::TrustList {
            v: 1,
            issuer: "https://issuer.test".into(),
            seq: 1,
            issued_at: NOW,
            next_update: NOW + 86_400,
            keys: ks.trusted_keys(),
            status_lists: vec![],
        };
        let jws = crate::sign_trust_list(&ks.root().unwrap(), &list).unwrap();
        let verified = verifier::TrustList::verify(&jws, &ks.root().unwrap().public_key()).unwrap();
        assert_eq!(verified.keys[0].kid, active);
        assert_eq!(verified.keys[0].state, verifier::KeyState::Active);
    }

    #[test]
    fn completes_a_first_start_cut_short() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        create_key_file(&d.join("kek")).unwrap();
        let kek = std::fs::read(d.join("kek")).unwrap();
        Keystore::create(d, &Unlock::KeyFile(d.join("kek")), KdfParams::default()).unwrap();
        let (ks, created) = dev_init(d, NOW).unwrap();
        assert!(created);
        assert!(ks.root().is_ok() && ks.active_signing(None).is_ok());
        assert_eq!(std::fs::read(d.join("kek")).unwrap(), kek, "the key file is reused");
    }

    #[test]
    fn a_lost_key_file_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        dev_init(dir.path(), NOW).unwrap();
        std::fs::remove_file(dir.path().join("kek")).unwrap();
        assert!(matches!(dev_init(dir.path(), NOW), Err(KeyError::NotFound(_))));
        assert!(!dir.path().join("kek").exists());
    }
}
