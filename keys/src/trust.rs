//! Trust list signing with the root key.

use verifier::TrustList;

use crate::{KeyError, Signer};

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
    fn an_invalid_list_is_not_signed() {
        let root = SigningHandle::generate().unwrap();
        let e = entry();
        let dup = list(vec![e.clone(), e]);
        assert!(matches!(sign_trust_list(&root, &dup), Err(KeyError::TrustList(_))));
    }
}
