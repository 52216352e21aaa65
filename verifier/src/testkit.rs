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
        shortened: Vec::new(),
    }
}

/// Repeats `words` (space-separated) until the text has `chars` characters, then cuts it there
/// (without a trailing space, which enrollment would trim).
fn fill(words: &str, chars: usize) -> String {
    let mut s = String::new();
    while s.chars().count() < chars {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(words);
    }
    let mut cut: String = s.chars().take(chars).collect();
    while cut.ends_with(' ') {
        cut.pop();
        cut.push('X');
    }
    cut
}

/// An applicant at the limits enrollment accepts (`enrollment::tk01`): a 150-character name as
/// written and in Latin form, a 300-character address with Vietnamese diacritics, 20-character
/// passport and card numbers.
pub fn long_person() -> PersonClaims {
    PersonClaims {
        name: Some(fill("Nguyễn Thị Phương Hoàng Bảo Ngọc Trâm Anh Đỗ Quỳnh", 150)),
        name_latin: Some(fill(
            "WOLFESCHLEGELSTEINHAUSENBERGERDORFF HUBERT BLAINE ADOLPH CHARLES DAVID EARL FREDERICK",
            150,
        )),
        address: Some(fill(
            "Căn hộ 12.05, Tầng 12, Tòa nhà Saigon Pearl, Số 92 Đường Nguyễn Hữu Cảnh, Phường 22, Quận Bình Thạnh, \
             Thành phố Hồ Chí Minh",
            300,
        )),
        passport_number: Some("P1234567890123456789".into()),
        residence_card_number: Some("TRC12345678901234567".into()),
        ..kim()
    }
}

/// A signed credential for `purpose` carrying `claims` (restricted to the purpose).
pub fn credential_of(
    w: &World,
    signer: &SigningKey,
    claims: &PersonClaims,
    purpose: Purpose,
    idx: u64,
    exp: u64,
) -> Vec<u8> {
    let cred = QrCredential {
        purpose,
        level: 2,
        issued_at: T0,
        expires_at: exp,
        holder: pk(&w.holder),
        status: Some(StatusRef { list: 1, idx }),
        claims: claims.restrict_to(purpose),
    };
    let u = cred.to_sign1(&kid(signer));
    let sig = sign(signer, &u.to_be_signed());
    u.finish(&sig)
}

/// The inputs of the crate docs' quick start: a bundle file's bytes, the root key an app pins,
/// a valid landlord QR text, and the time to verify at.
pub fn quickstart() -> (Vec<u8>, PublicKey, String, u64) {
    let w = world();
    let cred = credential(&w, &w.issuer, Purpose::Landlord, 4242, T0 + 2 * 365 * 86_400);
    let text = present(&w, &cred, Purpose::Landlord, NOW - 10, &w.holder, b"");
    (w.bundle.to_json(), pk(&w.root), text, NOW)
}

/// Crate internals the benchmarks measure piece by piece.
pub mod internals {
    pub use crate::base45::{decode as base45_decode, encode as base45_encode};
    pub use crate::crypto::Ed25519Key;
    pub use crate::jws::Jws;
    pub use crate::qr::{decode_text, Presentation};
    use crate::{KeyId, Policy, TrustStore};

    /// Whether the trust store accepts `kid` for a credential issued at `iat`, at `now`.
    pub fn issuer_key_ok(store: &TrustStore, kid: &KeyId, iat: u64, now: u64, policy: &Policy) -> bool {
        store.issuer_key(kid, iat, now, policy).is_ok()
    }

    /// Whether status `idx` of list `list` is valid and fresh enough.
    pub fn status_ok(store: &TrustStore, list: u32, idx: u64, now: u64, policy: &Policy) -> bool {
        store.check_status(list, idx, now, policy).is_ok()
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

/// The demo person's signed credential for `purpose`.
pub fn credential(w: &World, signer: &SigningKey, purpose: Purpose, idx: u64, exp: u64) -> Vec<u8> {
    credential_of(w, signer, &kim(), purpose, idx, exp)
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
