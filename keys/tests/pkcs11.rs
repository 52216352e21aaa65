//! The PKCS#11 signer against a real SoftHSM2 token.
//!
//! Each test process makes its own throwaway token in a temporary folder with
//! `scripts/softhsm-token` (which installs SoftHSM2 when it is missing). There is no skipping:
//! without SoftHSM2 these tests fail.
//!
//! PKCS#11 state is per process (one `C_Initialize`, one login for all sessions), so the tests
//! of one process share one token and take turns (`serial()`); each uses its own key labels.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use keys::{key_id_for, KeyError, Pkcs11Token, Signer};
use zeroize::Zeroizing;

use common::hsm;

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn open() -> Pkcs11Token {
    let h = hsm();
    Pkcs11Token::open(&h.module, &h.token, Zeroizing::new(h.pin.clone())).unwrap()
}

fn verify_strict(signer: &dyn Signer, msg: &[u8], sig: &[u8; 64]) {
    let vk = VerifyingKey::from_bytes(signer.public_key().as_bytes()).unwrap();
    vk.verify_strict(msg, &Signature::from_bytes(sig)).expect("verify_strict");
}

#[test]
fn generates_on_the_token_and_signs_what_verify_strict_accepts() {
    let _g = serial();
    let token = open();
    let signer = token.generate("gen-1", 2).unwrap();
    assert_eq!(signer.kid(), &key_id_for(&signer.public_key()));
    assert_eq!(signer.label(), "gen-1");
    for msg in [&b""[..], b"hello", &[0xa5; 10_000][..]] {
        let sig = signer.sign(msg).unwrap();
        verify_strict(&signer, msg, &sig);
        assert_eq!(signer.sign(msg).unwrap(), sig, "pure Ed25519 is deterministic");
    }
    // The same verification the verifier crate does.
    let sig = signer.sign(b"credential").unwrap();
    let vk = verifier::build::crypto::Ed25519Key::from_public(&signer.public_key()).unwrap();
    assert!(vk.verify(b"credential", &sig));
    assert!(!vk.verify(b"credential!", &sig));

    let p = signer.protection().unwrap();
    assert!(p.is_non_extractable(), "{p:?}");
    let listed = token.keys().unwrap();
    assert!(listed.iter().any(|k| k.label == "gen-1" && &k.kid == signer.kid()), "{listed:?}");
    // Labels are how keys are found again: no second key under one label.
    assert!(matches!(token.generate("gen-1", 1), Err(KeyError::InvalidArgument(_))));
    // Nothing secret in Debug.
    let d = format!("{token:?} {signer:?}");
    assert!(!d.contains(&hsm().pin), "{d}");
}

#[test]
fn the_private_key_cannot_be_read_through_pkcs11() {
    use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};

    let _g = serial();
    let kid = {
        let token = open();
        token.generate("extract-1", 1).unwrap().kid().clone()
    };

    let session = raw_session();
    let found = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(b"extract-1".to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1);
    let key = found[0];
    // CKA_VALUE is sensitive: the token will not say even its size.
    let info = session.get_attribute_info(key, &[AttributeType::Value]).unwrap();
    assert!(matches!(info.as_slice(), [AttributeInfo::Sensitive]), "{info:?}");
    let attrs = session.get_attributes(key, &[AttributeType::Value, AttributeType::Id]).unwrap();
    assert!(!attrs.iter().any(|a| matches!(a, Attribute::Value(_))), "CKA_VALUE was returned: {attrs:?}");
    assert!(attrs.contains(&Attribute::Id(kid.as_bytes().to_vec())), "CKA_ID is the key id: {attrs:?}");
    // And the attributes cannot be relaxed afterwards.
    let relax = session.update_attributes(key, &[Attribute::Extractable(true)]);
    assert!(relax.is_err(), "CKA_EXTRACTABLE became true");
    let relax = session.update_attributes(key, &[Attribute::Sensitive(false)]);
    assert!(relax.is_err(), "CKA_SENSITIVE became false");
}

#[test]
fn the_key_is_found_again_by_label_after_every_session_is_gone() {
    let _g = serial();
    let msg = b"status list token";
    let (kid, pk, sig) = {
        let token = open();
        let s = token.generate("reopen-1", 3).unwrap();
        (s.kid().clone(), s.public_key(), s.sign(msg).unwrap())
    };
    // Every session was closed with the signer and the token (which logs the user out).
    let token = open();
    let again = token.signer("reopen-1", 1).unwrap();
    assert_eq!(again.kid(), &kid);
    assert_eq!(again.public_key(), pk);
    let sig2 = again.sign(msg).unwrap();
    assert_eq!(sig2, sig);
    verify_strict(&again, msg, &sig2);
    assert!(matches!(token.signer("no-such-key", 1), Err(KeyError::NotFound(_))));
}

#[test]
fn a_wrong_pin_is_a_clear_error() {
    let _g = serial();
    let h = hsm();
    let r = Pkcs11Token::open(&h.module, &h.token, Zeroizing::new(format!("{}0", h.pin)));
    let e = r.unwrap_err();
    assert!(matches!(e, KeyError::WrongPin), "{e:?}");
    assert!(e.to_string().contains("PIN"), "{e}");
    let r = Pkcs11Token::open(&h.module, "no-such-token", Zeroizing::new(h.pin.clone()));
    assert!(matches!(r, Err(KeyError::NotFound(_))), "{r:?}");
    // The right PIN still works afterwards.
    open();
}

#[test]
fn signs_from_many_threads_and_reports_latency() {
    let _g = serial();
    let token = open();
    let signer = std::sync::Arc::new(token.generate("threads-1", 4).unwrap());

    // One thread: latency of one signature, sessions warm.
    let n = 300;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let msg = format!("message {i}");
        let t = Instant::now();
        let sig = signer.sign(msg.as_bytes()).unwrap();
        times.push(t.elapsed());
        if i % 50 == 0 {
            verify_strict(signer.as_ref(), msg.as_bytes(), &sig);
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / n as u32;
    let (p50, p99) = (times[n / 2], times[n * 99 / 100]);

    // Eight threads sharing a pool of four sessions.
    let (threads, per) = (8, 100);
    let t = Instant::now();
    std::thread::scope(|s| {
        for th in 0..threads {
            let signer = std::sync::Arc::clone(&signer);
            s.spawn(move || {
                for i in 0..per {
                    let msg = format!("thread {th} message {i}");
                    let sig = signer.sign(msg.as_bytes()).unwrap();
                    verify_strict(signer.as_ref(), msg.as_bytes(), &sig);
                }
            });
        }
    });
    let wall = t.elapsed();
    let rate = (threads * per) as f64 / wall.as_secs_f64();
    eprintln!(
        "SoftHSM2 Ed25519 sign latency, one thread: mean {mean:?}, p50 {p50:?}, p99 {p99:?}; \
         {threads} threads over 4 sessions: {} signatures in {wall:?} ({rate:.0}/s, verified each)",
        threads * per
    );
    assert!(p50 < Duration::from_millis(50), "p50 {p50:?}");
}

#[test]
fn the_conf_is_the_throwaway_one() {
    let h = hsm();
    assert!(std::path::Path::new(&h.conf).is_file());
    assert_eq!(std::env::var("SOFTHSM2_CONF").unwrap(), h.conf);
}

#[test]
fn a_keystore_rotates_to_an_hsm_key_and_signs_through_the_token() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let unlock = keys::Unlock::Passphrase(Zeroizing::new("correct horse battery".into()));
    let fast = keys::KdfParams { m_kib: 64, t: 1, p: 1 };
    let mut ks = keys::Keystore::create(dir.path(), &unlock, fast).unwrap();
    let soft = ks.generate_signing(1_790_000_000, Some("hn"), &keys::KeyPolicy::default()).unwrap();
    ks.activate(&soft, 1_790_000_000).unwrap();

    let token = open();
    let on_token = token.generate("keystore-hn-1", 2).unwrap();
    let kid = ks
        .register_hsm_signing(
            on_token.public_key(),
            "keystore-hn-1",
            1_790_000_100,
            Some("hn"),
            &keys::KeyPolicy::default(),
        )
        .unwrap();
    assert_eq!(&kid, on_token.kid());
    drop(on_token);
    // Before activation the node still signs in software.
    assert_eq!(ks.active_signer(Some("hn"), Some(&token), 2).unwrap().kid(), &soft);
    ks.activate(&kid, 1_790_000_200).unwrap();
    let signer = ks.active_signer(Some("hn"), Some(&token), 2).unwrap();
    assert_eq!(signer.kid(), &kid);
    let sig = signer.sign(b"issued by the HSM key").unwrap();
    verify_strict(signer.as_ref(), b"issued by the HSM key", &sig);
    // Without the token open, a clear error rather than a software fallback.
    assert!(matches!(ks.active_signer(Some("hn"), None, 1), Err(KeyError::NotFound(_))));
    // The recorded label now holding another key (the pair destroyed and made again by hand) is
    // refused, not signed with.
    drop(signer);
    destroy_by_label("keystore-hn-1");
    drop(token.generate("keystore-hn-1", 1).unwrap());
    let e = ks.active_signer(Some("hn"), Some(&token), 1).unwrap_err();
    assert!(matches!(e, KeyError::Corrupt { .. }), "{e:?}");
}

/// Destroys every object with this label through a plain cryptoki session.
fn destroy_by_label(label: &str) {
    use cryptoki::object::Attribute;

    let session = raw_session();
    let found = session.find_objects(&[Attribute::Label(label.as_bytes().to_vec())]).unwrap();
    assert_eq!(found.len(), 2, "a key pair");
    for o in found {
        session.destroy_object(o).unwrap();
    }
}

/// A session of a separate, plain cryptoki client in this process, logged in as the user: what
/// an attacker holding the PIN would use.
fn raw_session() -> cryptoki::session::Session {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::error::{Error, RvError};
    use cryptoki::session::UserType;

    let h = hsm();
    let ctx = Pkcs11::new(&h.module).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == h.token)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&h.pin.clone().into())) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    session
}
