//! A bundle's size bounds: whatever its status lists claim, opening it costs at most 64 MiB of
//! decompressed lists (eight of the largest), and a ninth is refused, quickly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use verifier::build::jws;
use verifier::build::statuslist::{StatusList, MAX_BYTES, MAX_TOTAL_BYTES};
use verifier::testkit::{key, kid, pk, sign, T0};
use verifier::{Bundle, Error, KeyState, StatusListRef, TrustList, TrustedKey};

/// A bundle whose trust list lists `n` status lists, each the largest one accepted (8 MiB
/// decompressed, a few KiB compressed).
fn bundle_with_lists(n: u32) -> Bundle {
    let (root, issuer) = (key(1), key(2));
    let uri = |id: u32| format!("https://issuer.example.vn/status-lists/{id}");
    let list = TrustList {
        v: 1,
        issuer: "https://issuer.example.vn".into(),
        seq: 1,
        issued_at: T0,
        next_update: T0 + 7 * 86_400,
        keys: vec![TrustedKey {
            kid: kid(&issuer),
            x: pk(&issuer),
            state: KeyState::Active,
            sign_from: T0 - 86_400,
            sign_until: T0 + 86_400,
            valid_until: T0 + 365 * 86_400,
            node: None,
        }],
        status_lists: (1..=n).map(|id| StatusListRef { id, uri: uri(id) }).collect(),
    };
    let input = list.signing_input(&kid(&root));
    let mut bundle = Bundle::new(pk(&root), jws::assemble(&input, &sign(&root, input.as_bytes())), T0);
    let largest = StatusList::new(8, MAX_BYTES).unwrap();
    for id in 1..=n {
        let input = largest.token_signing_input(&kid(&issuer), &uri(id), T0, T0 + 86_400, 3600);
        bundle.status_lists.insert(id, jws::assemble(&input, &sign(&issuer, input.as_bytes())));
    }
    bundle
}

#[test]
fn status_lists_hold_at_most_64_mib_in_total() {
    assert_eq!(MAX_TOTAL_BYTES, 64 << 20);
    assert_eq!(MAX_TOTAL_BYTES / MAX_BYTES, 8);

    let eight = bundle_with_lists(8);
    let json = eight.to_json();
    assert!(json.len() < 1 << 20, "eight maximal lists are {} bytes on disk", json.len());
    let store = Bundle::from_json(&json).unwrap().open().unwrap();
    assert_eq!((1..=8).filter_map(|id| store.status_list_info(id)).map(|i| i.len).sum::<usize>(), MAX_TOTAL_BYTES);

    let nine = bundle_with_lists(9).to_json();
    let start = Instant::now();
    let refused = Bundle::from_json(&nine).unwrap().open();
    let took = start.elapsed();
    eprintln!("nine maximal status lists ({} KiB on disk): refused in {took:?}", nine.len() >> 10);
    assert_eq!(
        refused.unwrap_err(),
        Error::StatusListInvalid("status lists larger than 64 MiB in total, decompressed")
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}
