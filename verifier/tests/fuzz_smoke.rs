//! The fuzz targets' smoke run, on stable: every entry point of `verifier::fuzzing` (what the
//! cargo-fuzz targets in `fuzz/` call) over the seed inputs (the test vectors, freshly built
//! credentials, tokens and proofs, and the committed corpus `fuzz/corpus/<target>/`) and a few
//! thousand deterministic mutations of them. The long runs are cargo-fuzz's (nightly, see
//! `fuzz/README.md`); this one keeps the entry points compiling and catches a panic that any
//! seed or a small mutation reaches, in CI, in a few seconds.
//!
//! `VNEID_WRITE_FUZZ_SEEDS=1` writes the built seeds into `fuzz/corpus/<target>/` (the start of
//! a cargo-fuzz run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use verifier::build::oid4vci::{proof_signing_input, CredentialOffer, TxCodeSpec};
use verifier::fuzzing;
use verifier::testkit::*;
use verifier::Purpose;

/// A small deterministic generator (xorshift64*): the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that parsers treat specially.
const INTERESTING: &[&[u8]] = &[
    b"~",
    b".",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"VN1:",
    b"null",
    b"-1",
    b"18446744073709551616",
    b"\xff",
    b"\x00",
    b"\xf9\x7c\x00",
    b"\xbf",
    b"\x9f",
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xd8\x12",
    b"%",
];

/// One mutation of `seed`.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, ins.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 => v.truncate(at),
            4 if !v.is_empty() => {
                let from = rng.below(v.len());
                let end = (from + 1 + rng.below(32)).min(v.len());
                let chunk = v[from..end].to_vec();
                v.splice(at..at, chunk);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The seeds of each entry point (by its cargo-fuzz target name).
fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let w = world();
    let cred = credential(&w, &w.issuer, Purpose::Bank, 4242, T0 + 2 * 365 * 86_400);
    let qr = present(&w, &cred, Purpose::Bank, NOW - 10, &w.holder, b"");
    let sd = sd_jwt(&w, &w.issuer, 4242);
    let status = w.bundle.status_lists[&1].clone();
    let proof_input = proof_signing_input(&pk(&w.holder), "https://issuer.example.vn", NOW, "n-0S6_WzA2Mj");
    let proof = verifier::build::jws::assemble(&proof_input, &sign(&w.holder, proof_input.as_bytes()));
    let offer = CredentialOffer::pre_authorized_with_tx_code(
        "https://issuer.example.vn",
        "pac_abc",
        &TxCodeSpec::numeric(6, "x"),
    )
    .to_uri();
    let payload = |compact: &str| {
        use base64::Engine as _;
        let part = compact.split('.').nth(1).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()
    };
    let (_, decoded) = verifier::build::qr::decode_credential(&cred).unwrap();
    let cwt = decoded.encode_payload();
    let mut vectors: Vec<Vec<u8>> = Vec::new();
    for file in ["qr-cases.json", "sd-jwt-cases.json"] {
        let cases: Vec<Value> =
            serde_json::from_slice(&std::fs::read(workspace().join("verifier/testdata").join(file)).unwrap()).unwrap();
        for c in cases {
            for k in ["text", "sd_jwt"] {
                if let Some(t) = c[k].as_str() {
                    vectors.push(t.as_bytes().to_vec());
                }
            }
        }
    }
    let signed = |which: u8, rest: &[u8]| [&[which][..], rest].concat();
    let sd_payload =
        [payload(sd.split('~').next().unwrap()), b"~".to_vec(), sd.split_once('~').unwrap().1.as_bytes().to_vec()]
            .concat();
    vec![
        ("qr_text", [vec![qr.as_bytes().to_vec(), cred.clone()], vectors.clone()].concat()),
        (
            "jws_and_bundle",
            vec![
                w.bundle.to_json(),
                w.bundle.trust_list.as_bytes().to_vec(),
                status.as_bytes().to_vec(),
                offer.as_bytes().to_vec(),
            ],
        ),
        ("cbor_cose", vec![cred.clone(), cwt.clone(), qr.as_bytes()[4..].to_vec()]),
        ("oid4vci", vec![proof.as_bytes().to_vec(), offer.as_bytes().to_vec()]),
        (
            "verify_text",
            [
                vec![
                    qr.as_bytes().to_vec(),
                    sd.as_bytes().to_vec(),
                    status.as_bytes().to_vec(),
                    w.bundle.trust_list.as_bytes().to_vec(),
                ],
                vectors,
            ]
            .concat(),
        ),
        (
            "signed",
            vec![
                signed(0, &payload(&w.bundle.trust_list)),
                signed(1, &payload(&status)),
                signed(2, &sd_payload),
                signed(3, &cwt),
                signed(4, &payload(&proof)),
            ],
        ),
    ]
}

fn signed(data: &[u8]) {
    fuzzing::signed(data);
}

fn entry(target: &str) -> fn(&[u8]) {
    match target {
        "qr_text" => fuzzing::qr_text,
        "jws_and_bundle" => fuzzing::jws_and_bundle,
        "cbor_cose" => fuzzing::cbor_cose,
        "oid4vci" => fuzzing::oid4vci,
        "verify_text" => fuzzing::verify_text,
        "signed" => signed,
        other => panic!("no entry point for {other}"),
    }
}

#[test]
fn every_fuzz_entry_point_survives_its_seeds_corpus_and_mutations() {
    let write = std::env::var_os("VNEID_WRITE_FUZZ_SEEDS").is_some();
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let mut runs = 0usize;
    for (target, mut inputs) in seeds() {
        let run = entry(target);
        let corpus = workspace().join("fuzz/corpus").join(target);
        if write {
            std::fs::create_dir_all(&corpus).unwrap();
            for (i, s) in inputs.iter().enumerate() {
                std::fs::write(corpus.join(format!("seed-{i}")), s).unwrap();
            }
        }
        if let Ok(dir) = std::fs::read_dir(&corpus) {
            for e in dir {
                inputs.push(std::fs::read(e.unwrap().path()).unwrap());
            }
        }
        assert!(!inputs.is_empty(), "{target}: no seeds");
        for seed in &inputs {
            run(seed);
            runs += 1;
            for _ in 0..300 {
                run(&mutate(&mut rng, seed));
                runs += 1;
            }
        }
    }
    assert!(runs > 5_000, "{runs}");
}

#[test]
fn signed_inputs_reach_the_parsers_behind_the_signatures() {
    // The seeds of `signed` are valid objects once signed: the entry point must verify them (a
    // check that the signing wrapper matches what the verifier expects, or the fuzzer would only
    // ever see signature failures).
    let (_, seeds) = seeds().into_iter().find(|(t, _)| *t == "signed").unwrap();
    for (i, seed) in seeds.iter().enumerate() {
        assert!(fuzzing::signed(seed), "signed seed {i} (kind {}) does not verify", seed[0]);
    }
    let w = world();
    let cred = credential(&w, &w.issuer, Purpose::Bank, 4242, T0 + 2 * 365 * 86_400);
    let (_, decoded) = verifier::build::qr::decode_credential(&cred).unwrap();
    let u = verifier::build::qr::UnsignedSign1::new(&kid(&w.issuer), decoded.encode_payload());
    let sig = sign(&w.issuer, &u.to_be_signed());
    assert_eq!(u.finish(&sig), cred, "COSE_Sign1 of the same payload and key is deterministic");
}
