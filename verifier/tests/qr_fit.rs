//! Every applicant enrollment accepts gets a QR code within its purpose's version: landlord 13,
//! bank 15, residence office 20, at error correction M (docs/formats.md §2.10). Checked at the
//! worst case the formats allow, with the real QR encoder the wallet uses (one alphanumeric
//! segment) and an independent decoder (rqrr) reading the rendered image back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ed25519_dalek::{Signer as _, SigningKey};
use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};
use verifier::build::qr::{encode_presentation, holder_signing_input, QrCredential};
use verifier::testkit::{key, long_person, pk};
use verifier::{inspect_qr, Claim, Date, KeyId, PersonClaims, Purpose, StatusRef};

/// The largest version each purpose's QR code may need.
fn limit(p: Purpose) -> i16 {
    match p {
        Purpose::Landlord => 13,
        Purpose::Bank => 15,
        Purpose::ResidenceOffice => 20,
    }
}

/// The smallest QR code at level M holding `text` as one alphanumeric segment, as
/// `wallet-sim` draws it.
fn encode(text: &str) -> (QrCode, i16) {
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_alphanumeric_data(text.as_bytes()).is_ok() && bits.push_terminator(EcLevel::M).is_ok() {
            return (QrCode::with_bits(bits, EcLevel::M).unwrap(), v);
        }
    }
    panic!("{} characters do not fit any QR version", text.len());
}

/// Renders the code and reads it back with rqrr: (version, EC level bits, text).
fn decode_rendered(code: &QrCode) -> (usize, u16, String) {
    let img = code.render::<image::Luma<u8>>().module_dimensions(4, 4).quiet_zone(true).build();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (meta, text) = grids[0].decode().unwrap();
    (meta.version.0, meta.ecc_level, text)
}

/// Repeats `unit` to `chars` characters.
fn chars(unit: &str, chars: usize) -> String {
    unit.chars().cycle().take(chars).collect()
}

/// The worst cases: every text at enrollment's limit, in the widest UTF-8 it allows, and every
/// number at the widest CBOR encoding the formats allow.
fn worst_people() -> Vec<(&'static str, PersonClaims)> {
    let base = PersonClaims {
        birth_date: Date::from_days(84_006),
        residence_card_expiry: Date::from_days(84_006),
        eid_number: Some("999999999999".into()),
        ..long_person()
    };
    vec![
        ("enrollment limits, Vietnamese address", base.clone()),
        (
            "one 150-letter name, 4-byte name as written, 3-byte address",
            PersonClaims {
                name_latin: Some("W".repeat(150)),
                name: Some(chars("\u{20000}", 150)),
                address: Some(chars("ễ", 300)),
                ..base.clone()
            },
        ),
        (
            "75 one-letter components, combining marks",
            PersonClaims {
                name_latin: Some(vec!["A"; 75].join(" ")),
                name: Some(chars("e\u{302}\u{303}", 150)),
                address: Some(chars("Nguye\u{302}\u{303}n ", 300)),
                ..base.clone()
            },
        ),
        (
            "Hangul",
            PersonClaims {
                name_latin: Some(chars("KIM MINJUN ", 150).trim_end().to_owned()),
                name: Some(chars("김민준", 150)),
                ..base
            },
        ),
    ]
}

#[test]
fn every_applicant_fits_its_purposes_qr_version() {
    let issuer = key(2);
    let holder = key(3);
    let kid = KeyId::try_from(&[0xff; 8][..]).unwrap(); // the longest key id
    for (case, person) in worst_people() {
        for purpose in Purpose::ALL {
            let claims = person.restrict_to(purpose);
            let cred = QrCredential {
                purpose,
                level: 2,
                issued_at: u64::from(u32::MAX) - 1,
                expires_at: u64::from(u32::MAX),
                holder: pk(&holder),
                status: Some(StatusRef { list: 65_535, idx: u64::from(u32::MAX) }),
                claims: claims.clone(),
            };
            let unsigned = cred.to_sign1(&kid);
            let issuer_sig = sign(&issuer, &unsigned.to_be_signed());
            let signed = unsigned.finish(&issuer_sig);
            let (t, d) = (u64::from(u32::MAX), 65_535);
            let text =
                encode_presentation(&signed, t, d, &sign(&holder, &holder_signing_input(&signed, purpose, t, d, b"")));

            let (code, version) = encode(&text);
            let len = inspect_qr(&text).unwrap().presentation_len;
            eprintln!("{case:<62} {purpose:<16} {len:>3} bytes {:>3} chars version {version}", text.len());
            assert!(version <= limit(purpose), "{case}: {purpose} QR is version {version} ({} chars)", text.len());
            let (read_version, ec, read) = decode_rendered(&code);
            assert_eq!((read_version, ec, read.as_str()), (usize::try_from(version).unwrap(), 0, text.as_str()));

            // What the verifier reads is what was signed, and says what was shortened.
            let back = inspect_qr(&read).unwrap();
            assert_eq!(back.credential.claims, claims, "{case}: {purpose}");
            for c in [Claim::NameLatin, Claim::Name, Claim::Address] {
                let full = person.restrict_to(Purpose::ResidenceOffice);
                let shortened = claims.shortened.contains(&c);
                let (kept, original) = match c {
                    Claim::NameLatin => (&claims.name_latin, &person.name_latin),
                    Claim::Name => (&claims.name, &person.name),
                    _ => (&claims.address, &person.address),
                };
                if !purpose.claims().contains(&c) {
                    assert!(kept.is_none() && !shortened);
                    continue;
                }
                assert_eq!(shortened, kept != original, "{case}: {purpose} {c:?} {full:?}");
            }
        }
    }
}

#[test]
fn the_demo_applicant_is_not_shortened() {
    let kim = verifier::testkit::kim();
    for p in Purpose::ALL {
        let c = kim.restrict_to(p);
        assert!(c.shortened.is_empty(), "{p}: {:?}", c.shortened);
        assert_eq!(c.name_latin, kim.name_latin);
    }
}

fn sign(k: &SigningKey, msg: &[u8]) -> [u8; 64] {
    k.sign(msg).to_bytes()
}
