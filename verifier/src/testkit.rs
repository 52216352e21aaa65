//! Deterministic test fixtures: the keys, trust material and demo person behind the test
//! vectors in `verifier/testdata/`, shared by the vector tests, the CLI tests and the benchmarks
//! so that all of them measure and check the same bytes. Behind the `testkit` feature; not for
//! production use (the keys are seeds of 32 equal bytes).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

use serde_json::json;

use crate::qr::{self, CardKind, PersonClaims, QrCredential, Sex, StatusRef};
use crate::sdjwt::SdJwtBuilder;
use crate::statuslist::StatusList;
use crate::trustlist::{StatusListRef, TrustList, TrustedKey};
use crate::{jws, Bundle, KeyId, KeyState, PublicKey, Purpose};

pub const T0: u64 = 1_780_000_000; // 2026-05-28T20:26:40Z: issue time of the vectors
pub const NOW: u64 = T0 + 86_400; // verification time: a day later
pub const STATUS_URI: &str = "https://issuer.example.vn/status-lists/1";

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn pk(k: &SigningKey) -> PublicKey {
    PublicKey::from_bytes(k.verifying_key().to_bytes())
}

pub fn kid(k: &SigningKey) -> KeyId {
    let h = Sha256::digest(k.verifying_key().as_bytes());
    KeyId::try_from(&h[..4]).unwrap()
}

pub fn sign(k: &SigningKey, msg: &[u8]) -> [u8; 64] {
    k.sign(msg).to_bytes()
}

pub fn kim() -> PersonClaims {
    PersonClaims {
        name: Some("김민준".into()),
        name_latin: Some("KIM MIN JUN".into()),
        birth_date: Some("1990-04-12".parse().unwrap()),
        sex: Some(Sex::M),
        nationality: Some("KOR".into()),
        passport_number: Some("M12345678".into()),
        residence_card_number: Some("TRC0012345".into()),
        residence_card_kind: Some(CardKind::Temporary),
        residence_card_expiry: Some("2028-06-30".parse().unwrap()),
        address: Some("Số 12 Phố Liễu Giai, Phường Ngọc Hà, Hà Nội".into()),
        eid_number: Some("079190001234".into()),
        age_over_18: Some(true),
    }
}

/// The trust material of the test vectors: a root, an active and a revoked issuer key, a key the
/// trust list does not know, and the holder's device key.
#[derive(Debug)]
pub struct World {
    pub bundle: Bundle,
    pub root: SigningKey,
    pub issuer: SigningKey,
    pub revoked: SigningKey,
    pub stranger: SigningKey,
    pub holder: SigningKey,
}

pub fn world() -> World {
    let (root, issuer, revoked, stranger, holder) = (key(1), key(2), key(5), key(4), key(3));
    let entry = |k: &SigningKey, state| TrustedKey {
        kid: kid(k),
        x: pk(k),
        state,
        sign_from: T0 - 86_400 * 30,
        sign_until: T0 + 86_400 * 365,
        valid_until: T0 + 86_400 * 365 * 6,
        node: None,
    };
    let list = TrustList {
        v: 1,
        issuer: "https://issuer.example.vn".into(),
        seq: 7,
        issued_at: T0,
        next_update: T0 + 7 * 86_400,
        keys: vec![entry(&issuer, KeyState::Active), entry(&revoked, KeyState::Revoked)],
        status_lists: vec![StatusListRef { id: 1, uri: STATUS_URI.into() }],
    };
    let input = list.signing_input(&kid(&root));
    let tl = jws::assemble(&input, &sign(&root, input.as_bytes()));
    let mut sl = StatusList::new(2, 1 << 14).unwrap();
    sl.set(77, crate::statuslist::INVALID);
    sl.set(78, crate::statuslist::SUSPENDED);
    let input = sl.token_signing_input(&kid(&issuer), STATUS_URI, T0, T0 + 30 * 86_400, 3600);
    let st = jws::assemble(&input, &sign(&issuer, input.as_bytes()));
    let mut bundle = Bundle::new(pk(&root), tl, T0);
    bundle.status_lists.insert(1, st);
    World { bundle, root, issuer, revoked, stranger, holder }
}

pub fn credential(w: &World, signer: &SigningKey, purpose: Purpose, idx: u64, exp: u64) -> Vec<u8> {
    let cred = QrCredential {
        purpose,
        level: 2,
        issued_at: T0,
        expires_at: exp,
        holder: pk(&w.holder),
        status: Some(StatusRef { list: 1, idx }),
        claims: kim().restrict_to(purpose),
    };
    let u = cred.to_sign1(&kid(signer));
    let sig = sign(signer, &u.to_be_signed());
    u.finish(&sig)
}

pub fn present(_w: &World, cred: &[u8], purpose: Purpose, t: u64, holder: &SigningKey, challenge: &[u8]) -> String {
    let msg = qr::holder_signing_input(cred, purpose, t, 60, challenge);
    qr::encode_presentation(cred, t, 60, &sign(holder, &msg))
}

/// The demo person's SD-JWT VC, every claim disclosable, salts fixed.
pub fn sd_jwt(w: &World, signer: &SigningKey, idx: u64) -> String {
    let mut b = SdJwtBuilder::new(&kid(signer), "https://issuer.example.vn", T0, T0 + 2 * 365 * 86_400, &pk(&w.holder))
        .status(STATUS_URI, idx)
        .claim("assurance_level", json!(2));
    let claims = serde_json::to_value(kim()).unwrap();
    for (i, c) in crate::qr::Claim::ALL.iter().enumerate() {
        b = b.disclosable(&[i as u8; 16], c.name(), claims[c.name()].clone());
    }
    let input = b.signing_input();
    let sig = sign(signer, input.as_bytes());
    b.finish(&input, &sig)
}
