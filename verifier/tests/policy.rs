//! The freshness policy through the library, beyond the vectors: warnings, a policy that does
//! not require a status, configured ages, and the outcome helpers apps use.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use verifier::testkit::{credential, present, sd_jwt, world, World, T0};
use verifier::{Outcome, Policy, Purpose, QrCheck, Reason, TrustStore, UndecidedReason, Warning, DAY};

const EXP: u64 = T0 + 2 * 365 * DAY;

fn store(w: &World) -> TrustStore {
    w.bundle.open().unwrap()
}

/// A proof for `purpose` with status index `idx`, shown at `now - 10`, checked at `now`.
fn check(w: &World, purpose: Purpose, idx: u64, now: u64, policy: Policy) -> Outcome<verifier::VerifiedQr> {
    let text = present(w, &credential(w, &w.issuer, purpose, idx, EXP), purpose, now - 10, &w.holder, b"");
    store(w).verify_qr(&text, &QrCheck { purpose: Some(purpose), now, challenge: b"", policy })
}

#[test]
fn a_due_trust_list_and_an_old_status_list_are_warnings_on_a_valid_proof() {
    let w = world();
    // The trust list is due at T0 + 7 days; the status list (iat T0) is 8 days old.
    let landlord = Policy::for_verifier(Purpose::Landlord).with_max_status_age(10 * DAY);
    let v = check(&w, Purpose::Landlord, 4242, T0 + 8 * DAY, landlord).valid().unwrap();
    assert_eq!(v.warnings, vec![Warning::StatusStale, Warning::TrustListDue]);
    assert_eq!(v.status_list_age, Some(8 * DAY));
    // A fresh list, a fresh trust list: no warning.
    let v = check(&w, Purpose::Landlord, 4242, T0 + 3600, landlord).valid().unwrap();
    assert!(v.warnings.is_empty());
    assert_eq!(v.status_list_age, Some(3600));
    // The boundary: exactly max_status_age old still decides; one second more does not.
    let bank = Policy::for_verifier(Purpose::Bank);
    assert!(check(&w, Purpose::Bank, 4242, T0 + DAY, bank).is_valid());
    let o = check(&w, Purpose::Bank, 4242, T0 + DAY + 1, bank);
    assert_eq!(o.code(), "cannot_decide");
    let u = o.undecided().unwrap();
    assert_eq!((u.reason, u.status_list_age), (UndecidedReason::StatusStale, Some(DAY + 1)));
    assert_eq!(u.purpose, Some(Purpose::Bank));
    assert!(u.advice().contains("sync"));
}

#[test]
fn past_its_exp_a_list_cannot_decide_whatever_the_policy() {
    let w = world();
    // The vectors' status list expires at T0 + 30 days.
    let lenient = Policy::for_verifier(Purpose::Landlord).with_max_status_age(60 * DAY);
    let o = check(&w, Purpose::Landlord, 4242, T0 + 30 * DAY + 1, lenient);
    assert_eq!(
        o.undecided().map(|u| (u.reason, u.detail)),
        Some((UndecidedReason::StatusStale, "status list is past its exp"))
    );
    // And still revoked when it says so.
    let o = check(&w, Purpose::Landlord, 77, T0 + 30 * DAY + 1, lenient);
    assert_eq!(o.invalid().map(|r| r.reason), Some(Reason::Revoked));
}

#[test]
fn without_a_required_status_an_old_list_is_ignored_but_a_revocation_is_not() {
    let w = world();
    let relaxed = Policy { require_status: false, ..Policy::for_verifier(Purpose::Bank) };
    let v = check(&w, Purpose::Bank, 4242, T0 + 3 * DAY, relaxed).valid().unwrap();
    assert_eq!(v.status_list_age, None, "the old list was not used");
    assert!(v.warnings.is_empty());
    assert_eq!(check(&w, Purpose::Bank, 77, T0 + 3 * DAY, relaxed).invalid().map(|r| r.reason), Some(Reason::Revoked));
    // Suspended in an old list: not believed (it may have been lifted), so not refused either.
    assert!(check(&w, Purpose::Bank, 78, T0 + 3 * DAY, relaxed).is_valid());
}

#[test]
fn a_key_revoked_in_a_stale_trust_list_stays_revoked() {
    let w = world();
    let late = T0 + 40 * DAY; // past next_update + 30 days of grace
    let text = present(
        &w,
        &credential(&w, &w.revoked, Purpose::Landlord, 4242, EXP),
        Purpose::Landlord,
        late - 10,
        &w.holder,
        b"",
    );
    let policy = Policy::for_verifier(Purpose::Landlord);
    let o = store(&w).verify_qr(&text, &QrCheck { purpose: None, now: late, challenge: b"", policy });
    assert_eq!(o.invalid().map(|r| r.reason), Some(Reason::KeyRevoked));
    // An unknown key with a stale list: a newer list may know it.
    let text = present(
        &w,
        &credential(&w, &w.stranger, Purpose::Landlord, 4242, EXP),
        Purpose::Landlord,
        late - 10,
        &w.holder,
        b"",
    );
    let o = store(&w).verify_qr(&text, &QrCheck { purpose: None, now: late, challenge: b"", policy });
    assert_eq!(o.undecided().map(|u| u.reason), Some(UndecidedReason::TrustListStale));
}

#[test]
fn sd_jwt_freshness_follows_the_same_policy() {
    let w = world();
    let good = sd_jwt(&w, &w.issuer, 4242);
    let at = |now, p: Purpose| store(&w).verify_sd_jwt(&good, now, &Policy::for_verifier(p), None);
    let v = at(T0 + 3 * DAY, Purpose::Landlord).valid().unwrap();
    assert_eq!((v.warnings, v.status_list_age), (vec![Warning::StatusStale], Some(3 * DAY)));
    assert_eq!(
        at(T0 + 3 * DAY, Purpose::ResidenceOffice).undecided().map(|u| u.reason),
        Some(UndecidedReason::StatusStale)
    );
}
