//! The TK01 fuzz target's smoke run, on stable: `enrollment::fuzzing::tk01` (what
//! `fuzz/fuzz_targets/tk01.rs` calls) over the committed corpus (`fuzz/corpus/tk01/`), the demo
//! form, and a few thousand deterministic mutations of them. The long runs are cargo-fuzz's
//! (nightly, see `fuzz/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

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

/// Text that TK01 fields treat specially.
const INTERESTING: &[&str] = &[
    "\u{202E}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{0301}",
    "Đ",
    "ß",
    "ﬁ",
    "İ",
    "\"",
    "\\u0000",
    "null",
    "[]",
    "{}",
    "1e999",
    "-0",
    "+84",
    "@",
    ".",
    " ",
    "\n",
    "9999-12-31",
    "guardian",
    "residence_card",
];

fn mutate(rng: &mut Rng, seed: &str) -> Vec<u8> {
    let mut v = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(7);
            }
            1 => {
                let s = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, s.bytes());
            }
            2 if !v.is_empty() => {
                let end = (at + 1 + rng.below(12)).min(v.len());
                v.drain(at.min(end)..end);
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn the_tk01_fuzz_entry_point_survives_its_corpus_and_mutations() {
    let kim = r#"{"full_name":"김민준","full_name_latin":"KIM MIN JUN","sex":"M","date_of_birth":"1990-04-12",
        "nationality":"KOR","passport_number":"M12345678","residence_card":{"number":"TRC0012345",
        "kind":"temporary","issued_on":"2025-07-01","expires_on":"2028-06-30"},
        "address":"Số 12 Phố Liễu Giai, Ba Đình, Hà Nội","phone":"0912345678","email":"minjun.kim@example.com",
        "reception_point":"hn-ba-dinh-police","guardian":{"full_name":"Kim Ji-ho","id_number":"M7654321","relationship":"parent"}}"#;
    let mut seeds = vec![kim.to_owned()];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/tk01");
    if std::env::var_os("VNEID_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&corpus).unwrap();
        std::fs::write(corpus.join("seed-kim"), kim).unwrap();
    }
    if let Ok(dir) = std::fs::read_dir(&corpus) {
        for e in dir {
            seeds.push(String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned());
        }
    }
    enrollment::fuzzing::tk01(kim.as_bytes());
    let mut rng = Rng(0x7c01_5eed_0000_0001);
    let mut runs = 0;
    for seed in &seeds {
        for _ in 0..3000 {
            let input = mutate(&mut rng, seed);
            if std::panic::catch_unwind(|| enrollment::fuzzing::tk01(&input)).is_err() {
                panic!("tk01 panicked on {:?}", String::from_utf8_lossy(&input));
            }
            runs += 1;
        }
    }
    assert!(runs >= 3000);
}
