//! Criterion benchmarks of the offline verifier (see `BENCHMARKS.md` at the workspace root).
//!
//! Everything is built here from fixed Ed25519 seeds and fixed times, exactly as
//! `verifier/tests/vectors.rs` builds its vectors, so the landlord QR text measured here is the
//! `valid-landlord` case of `verifier/testdata/qr-cases.json` (checked at start-up) and the
//! SD-JWT VC is the `all-disclosed` case of `sd-jwt-cases.json`: same issuer key, same holder,
//! same person.
//!
//! Groups, all in one run so that they share the machine's state:
//! - `floor`: the two bare `verify_strict` calls a QR proof cannot avoid (issuer over the
//!   COSE `Sig_structure`, holder over its signing input), keys decoded beforehand; plus one
//!   `sign` to compare this machine with published numbers.
//! - `qr`: `TrustStore::verify_qr` on the landlord text with the store built once, and its pieces.
//! - `setup`: `Bundle::from_json` + `Bundle::open`, paid once per bundle sync.
//! - `sd_jwt_issuer_jws`: the SD-JWT VC's issuer-signed JWT checked by our `verifier`, josekit
//!   and ssi, each with its key prepared once outside the loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde_json::{json, Value};
use verifier::build::crypto::Ed25519Key;
use verifier::build::qr::{self, QrCredential, StatusRef};
use verifier::testkit::internals::{decode_text, issuer_key_ok, status_ok, Presentation};
use verifier::testkit::{kid, kim, pk, sd_jwt, sign, world, World, NOW, T0};
use verifier::{Bundle, Policy, Purpose, QrCheck, TrustStore};

const QR_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../verifier/testdata/qr-cases.json");

/// Everything one run measures, built once.
struct Fixture {
    bundle_json: Vec<u8>,
    store: TrustStore,
    issuer: SigningKey,
    holder: SigningKey,
    /// The landlord QR text, and the messages/signatures inside it.
    landlord_text: String,
    sig_structure: Vec<u8>,
    issuer_sig: [u8; 64],
    holder_input: Vec<u8>,
    holder_sig: [u8; 64],
    /// The SD-JWT VC (all disclosures) and its issuer-signed JWT part.
    sd_jwt: String,
    jwt: String,
}

fn fixture() -> Fixture {
    let World { bundle, issuer, holder, .. } = world();
    let bundle_json = bundle.to_json();
    let store = Bundle::from_json(&bundle_json).unwrap().open().unwrap();

    // The landlord credential and presentation, as the `valid-landlord` vector.
    let purpose = Purpose::Landlord;
    let cred = QrCredential {
        purpose,
        level: 2,
        issued_at: T0,
        expires_at: T0 + 2 * 365 * 86_400,
        holder: pk(&holder),
        status: Some(StatusRef { list: 1, idx: 4242 }),
        claims: kim().restrict_to(purpose),
    };
    let unsigned = cred.to_sign1(&kid(&issuer));
    let sig_structure = unsigned.to_be_signed();
    let issuer_sig = sign(&issuer, &sig_structure);
    let credential = unsigned.finish(&issuer_sig);
    let t = NOW - 10;
    let holder_input = qr::holder_signing_input(&credential, purpose, t, 60, b"");
    let holder_sig = sign(&holder, &holder_input);
    let landlord_text = qr::encode_presentation(&credential, t, 60, &holder_sig);

    // The SD-JWT VC of the same person, holder and issuer key (the `all-disclosed` vector).
    let sd_jwt = sd_jwt(&world(), &issuer, 4242);
    let jwt = verifier::build::sdjwt::split(&sd_jwt).0.to_owned();

    Fixture {
        bundle_json,
        store,
        issuer,
        holder,
        landlord_text,
        sig_structure,
        issuer_sig,
        holder_input,
        holder_sig,
        sd_jwt,
        jwt,
    }
}

fn check() -> QrCheck<'static> {
    QrCheck { purpose: Some(Purpose::Landlord), now: NOW, challenge: b"", policy: Policy::default() }
}

/// Alphanumeric capacity of a QR version at error correction M, computed by the `qrcode` crate
/// (largest all-alphanumeric text that still fits), so the table in BENCHMARKS.md is not typed
/// from memory.
fn alnum_capacity_m(version: i16) -> usize {
    let fits = |n: usize| {
        let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(version));
        bits.push_alphanumeric_data(&vec![b'A'; n]).is_ok() && bits.push_terminator(qrcode::EcLevel::M).is_ok()
    };
    let (mut lo, mut hi) = (0usize, 8000usize);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if fits(mid) {
            lo = mid
        } else {
            hi = mid
        }
    }
    lo
}

/// Prints the QR sizes of the `valid-*` vectors and the capacity table, and checks that the
/// landlord text built here is the one in the vectors.
fn report_sizes(f: &Fixture) {
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(QR_CASES).unwrap()).unwrap();
    println!("QR alphanumeric capacity at EC level M (qrcode crate):");
    let caps: Vec<(i16, usize)> = (1..=40).map(|v| (v, alnum_capacity_m(v))).collect();
    for (v, c) in caps.iter().filter(|(v, _)| (10..=16).contains(v)) {
        println!("  version {v:>2}: {c} characters");
    }
    println!("QR sizes of the valid-* vectors:");
    for c in cases.as_array().unwrap().iter().filter(|c| c["name"].as_str().unwrap().starts_with("valid-")) {
        let text = c["text"].as_str().unwrap();
        let bytes = decode_text(text).unwrap();
        let p = Presentation::parse(&bytes).unwrap();
        let version = caps.iter().find(|(_, cap)| *cap >= text.len()).map_or(0, |(v, _)| *v);
        let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).unwrap();
        println!(
            "  {:<24} text {:>3} chars, presentation {:>3} bytes (COSE_Sign1 {:>3}, CWT payload {:>3}); version {} at M (qrcode picks {:?})",
            c["name"].as_str().unwrap(),
            text.len(),
            bytes.len(),
            p.credential_bytes.len(),
            p.sign1.payload.len(),
            version,
            code.version()
        );
        if c["name"] == "valid-landlord" && text != f.landlord_text {
            println!("  NOTE: the landlord text built here differs from the vector (vectors out of date?)");
        }
    }
    println!(
        "Sizes of the signed messages: Sig_structure {} bytes, holder signing input {} bytes, SD-JWT {} chars, its JWT {} chars",
        f.sig_structure.len(),
        f.holder_input.len(),
        f.sd_jwt.len(),
        f.jwt.len()
    );
}

fn floor(c: &mut Criterion, f: &Fixture) {
    let issuer_vk: VerifyingKey = f.issuer.verifying_key();
    let holder_vk: VerifyingKey = f.holder.verifying_key();
    let issuer_sig = Signature::from_bytes(&f.issuer_sig);
    let holder_sig = Signature::from_bytes(&f.holder_sig);
    let mut g = c.benchmark_group("floor");
    g.bench_function("two_verify_strict", |b| {
        b.iter(|| {
            let a = black_box(&issuer_vk).verify_strict(black_box(&f.sig_structure), black_box(&issuer_sig));
            let h = black_box(&holder_vk).verify_strict(black_box(&f.holder_input), black_box(&holder_sig));
            assert!(a.is_ok() && h.is_ok());
        })
    });
    g.bench_function("verify_strict_issuer", |b| {
        b.iter(|| black_box(&issuer_vk).verify_strict(black_box(&f.sig_structure), black_box(&issuer_sig)).is_ok())
    });
    g.bench_function("verify_strict_holder", |b| {
        b.iter(|| black_box(&holder_vk).verify_strict(black_box(&f.holder_input), black_box(&holder_sig)).is_ok())
    });
    g.bench_function("sign_holder_input", |b| b.iter(|| f.holder.sign(black_box(&f.holder_input))));
    g.finish();
}

fn qr_group(c: &mut Criterion, f: &Fixture) {
    let chk = check();
    assert!(f.store.verify_qr(&f.landlord_text, &chk).is_valid());
    let bytes = decode_text(&f.landlord_text).unwrap();
    let holder_pk = pk(&f.holder);
    let p = Presentation::parse(&bytes).unwrap();
    let mut g = c.benchmark_group("qr");
    g.bench_function("qr_verify_landlord", |b| {
        b.iter(|| f.store.verify_qr(black_box(&f.landlord_text), black_box(&chk)).valid().unwrap())
    });
    // The other purposes' vectors, from the test data (built from the same seeds).
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(QR_CASES).unwrap()).unwrap();
    for name in ["valid-bank", "valid-residence-office"] {
        let case = cases.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        let text = case["text"].as_str().unwrap().to_owned();
        let purpose: Purpose = case["purpose"].as_str().unwrap().parse().unwrap();
        let chk = QrCheck { purpose: Some(purpose), ..check() };
        if !f.store.verify_qr(&text, &chk).is_valid() {
            println!("skipping {name}: it does not verify against the store built here (vectors out of date?)");
            continue;
        }
        let id = format!("qr_verify_{}", purpose.as_str().replace('-', "_"));
        g.bench_function(id, |b| b.iter(|| f.store.verify_qr(black_box(&text), black_box(&chk)).valid().unwrap()));
    }
    g.bench_function("base45_decode_text", |b| b.iter(|| decode_text(black_box(&f.landlord_text)).unwrap()));
    g.bench_function("cbor_parse_presentation", |b| b.iter(|| Presentation::parse(black_box(&bytes)).unwrap()));
    g.bench_function("holder_key_decompress", |b| b.iter(|| Ed25519Key::from_public(black_box(&holder_pk)).unwrap()));
    g.bench_function("holder_signing_input", |b| {
        b.iter(|| qr::holder_signing_input(black_box(p.credential_bytes), Purpose::Landlord, p.t, p.d, b""))
    });
    g.bench_function("issuer_key_lookup", |b| {
        b.iter(|| issuer_key_ok(&f.store, black_box(&p.sign1.kid), T0, NOW, &chk.policy))
    });
    g.bench_function("status_lookup", |b| b.iter(|| status_ok(&f.store, 1, black_box(4242), NOW, &chk.policy)));
    g.finish();
}

fn setup_group(c: &mut Criterion, f: &Fixture) {
    let bundle = Bundle::from_json(&f.bundle_json).unwrap();
    let mut g = c.benchmark_group("setup");
    g.bench_function("bundle_from_json_and_open", |b| {
        b.iter(|| Bundle::from_json(black_box(&f.bundle_json)).unwrap().open().unwrap())
    });
    g.bench_function("bundle_open", |b| b.iter(|| black_box(&bundle).open().unwrap()));
    g.finish();
}

fn sd_jwt_group(c: &mut Criterion, f: &Fixture) {
    let issuer_pk = pk(&f.issuer);
    let key = Ed25519Key::from_public(&issuer_pk).unwrap();
    let issuer_kid = kid(&f.issuer).to_string();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": issuer_pk.to_string(), "kid": issuer_kid});

    // josekit: the verifier (OpenSSL EVP_PKEY) is built once.
    let josekit_jwk = josekit::jwk::Jwk::from_bytes(jwk.to_string().as_bytes()).unwrap();
    let josekit_verifier = josekit::jws::EdDSA.verifier_from_jwk(&josekit_jwk).unwrap();
    // ssi: the JWK is parsed once; `decode_verify` decodes it to a curve point on every call.
    let ssi_jwk: ssi::JWK = serde_json::from_value(jwk.clone()).unwrap();

    let ours = |jwt: &str| {
        let j = verifier::build::jws::Jws::parse(jwt).unwrap();
        assert!(j.verify(&key));
        j.payload.len()
    };
    assert!(ours(&f.jwt) > 0);
    assert!(josekit::jws::deserialize_compact(&f.jwt, &josekit_verifier).is_ok());
    assert!(ssi::claims::jws::decode_verify(&f.jwt, &ssi_jwk).is_ok());
    assert!(f.store.verify_sd_jwt(&f.sd_jwt, NOW, &Policy::default(), None).is_valid());
    // Each rejects a changed signature, so none of them is measuring a no-op.
    let mut forged = f.jwt.clone().into_bytes();
    let i = forged.len() - 40; // inside the signature
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(!verifier::build::jws::Jws::parse(&forged).is_ok_and(|j| j.verify(&key)));
    assert!(josekit::jws::deserialize_compact(&forged, &josekit_verifier).is_err());
    assert!(ssi::claims::jws::decode_verify(&forged, &ssi_jwk).is_err());

    let (signing_input, _) = f.jwt.rsplit_once('.').unwrap();
    let sig = Signature::from_bytes(&verifier::build::jws::Jws::parse(&f.jwt).unwrap().signature);
    let vk = f.issuer.verifying_key();

    let mut g = c.benchmark_group("sd_jwt_issuer_jws");
    g.bench_function("floor_verify_strict", |b| {
        b.iter(|| black_box(&vk).verify_strict(black_box(signing_input.as_bytes()), black_box(&sig)).unwrap())
    });
    // ssi calls the non-strict `verify` (which compares compressed R instead of decompressing it).
    g.bench_function("floor_verify_nonstrict", |b| {
        b.iter(|| {
            ed25519_dalek::Verifier::verify(black_box(&vk), black_box(signing_input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    g.bench_function("verifier_jws_parse_verify", |b| b.iter(|| ours(black_box(&f.jwt))));
    g.bench_function("verifier_verify_sd_jwt_full", |b| {
        b.iter(|| f.store.verify_sd_jwt(black_box(&f.sd_jwt), NOW, &Policy::default(), None).valid().unwrap())
    });
    g.bench_function("josekit_deserialize_compact", |b| {
        b.iter(|| josekit::jws::deserialize_compact(black_box(&f.jwt), &josekit_verifier).unwrap())
    });
    g.bench_function("ssi_decode_verify", |b| {
        b.iter(|| ssi::claims::jws::decode_verify(black_box(&f.jwt), &ssi_jwk).unwrap())
    });
    g.finish();
}

fn main() {
    let f = fixture();
    report_sizes(&f);
    let mut c = Criterion::default()
        .sample_size(200)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6))
        .noise_threshold(0.05)
        .configure_from_args();
    floor(&mut c, &f);
    qr_group(&mut c, &f);
    setup_group(&mut c, &f);
    sd_jwt_group(&mut c, &f);
    c.final_summary();
}
