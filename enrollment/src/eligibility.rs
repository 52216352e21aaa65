//! Who may enroll: the rules that depend on today's date and on what the issuer already knows.
//!
//! [`check`] returns **every** failed rule, in [`Reason::ALL`] order, not just the first: an applicant at
//! the counter wants to hear at once that the card has expired *and* a guardian is missing.
//!
//! Shape rules (phone, email, residence card kind, nationality) are not repeated here: they are enforced
//! by the types of [`Tk01Application`], so an application that exists already satisfies them.

use time::Date;

use crate::tk01::Tk01Application;
use crate::Reason;

/// Minimum age to enroll.
pub const MIN_AGE: i32 = 6;
/// Applicants younger than this need a guardian.
pub const GUARDIAN_UNTIL_AGE: i32 = 14;

/// Completed years of age on `today`.
///
/// A birthday counts from the start of its day. A person born on 29 February becomes a year older on
/// 1 March in common years: the year is completed only once 28 February has passed (the Vietnamese Civil
/// Code ends a period without a matching day on the last day of that month, and it ends at the end of
/// that day). Negative when `born` is after `today`.
pub fn age_on(born: Date, today: Date) -> i32 {
    let had_birthday = (u8::from(today.month()), today.day()) >= (u8::from(born.month()), born.day());
    today.year() - born.year() - i32::from(!had_birthday)
}

/// Checks the application on `today`. `already_holds_active` is the issuer's answer to "does this person
/// (by passport and card) hold an active level-2 credential?".
///
/// Errors with every failed rule: `applicant_under_6`, `guardian_required` (aged 6 to 13 without a
/// guardian), `residence_card_expired` (expiry before today; the card is valid through its expiry day),
/// `residence_card_not_yet_valid` (issued after today), `already_holds_credential`.
pub fn check(app: &Tk01Application, today: Date, already_holds_active: bool) -> Result<(), Vec<Reason>> {
    let mut reasons = Vec::new();
    let age = age_on(app.date_of_birth(), today);
    if age < MIN_AGE {
        reasons.push(Reason::ApplicantUnder6);
    } else if age < GUARDIAN_UNTIL_AGE && app.guardian().is_none() {
        // The guardian's id number is non-empty by construction (`GuardianIdNumber`).
        reasons.push(Reason::GuardianRequired);
    }
    let card = app.residence_card();
    if card.expires_on() < today {
        reasons.push(Reason::ResidenceCardExpired);
    }
    if card.issued_on() > today {
        reasons.push(Reason::ResidenceCardNotYetValid);
    }
    if already_holds_active {
        reasons.push(Reason::AlreadyHoldsCredential);
    }
    reasons.sort_by_key(|r| Reason::ALL.iter().position(|x| x == r));
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tk01::tests::kim_json;
    use serde_json::json;
    use time::macros::date;

    #[test]
    fn age_table() {
        let cases = [
            (date!(1990 - 04 - 12), date!(2026 - 04 - 11), 35),
            (date!(1990 - 04 - 12), date!(2026 - 04 - 12), 36),
            (date!(2020 - 02 - 29), date!(2026 - 02 - 28), 5),
            (date!(2020 - 02 - 29), date!(2026 - 03 - 01), 6),
            (date!(2020 - 02 - 29), date!(2028 - 02 - 28), 7),
            (date!(2020 - 02 - 29), date!(2028 - 02 - 29), 8),
            (date!(2019 - 12 - 31), date!(2025 - 12 - 31), 6),
            (date!(2020 - 01 - 01), date!(2025 - 12 - 31), 5),
            (date!(2027 - 01 - 01), date!(2026 - 06 - 01), -1),
        ];
        for (born, today, want) in cases {
            assert_eq!(age_on(born, today), want, "{born} on {today}");
        }
    }

    fn app_with(dob: &str, guardian: bool, issued: &str, expires: &str) -> Tk01Application {
        let mut v = kim_json();
        v["date_of_birth"] = json!(dob);
        v["residence_card"]["issued_on"] = json!(issued);
        v["residence_card"]["expires_on"] = json!(expires);
        if guardian {
            v["guardian"] = json!({"full_name": "Kim Ji-woo", "id_number": "M87654321",
                                   "relationship": "parent"});
        }
        Tk01Application::try_from(v).unwrap()
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn eligibility_table() {
        let today = date!(2026 - 03 - 01);
        // (dob, guardian, card issued, card expires, already holds, expected codes)
        let cases: &[(&str, bool, &str, &str, bool, &[&str])] = &[
            ("1990-04-12", false, "2024-07-01", "2028-06-30", false, &[]),
            ("2020-03-02", true, "2024-07-01", "2028-06-30", false, &["applicant_under_6"]),
            ("2020-03-01", false, "2024-07-01", "2028-06-30", false, &["guardian_required"]),
            ("2020-03-01", true, "2024-07-01", "2028-06-30", false, &[]),
            ("2020-02-29", true, "2024-07-01", "2028-06-30", false, &[]),
            ("2012-03-02", false, "2024-07-01", "2028-06-30", false, &["guardian_required"]),
            ("2012-03-01", false, "2024-07-01", "2028-06-30", false, &[]),
            ("1990-04-12", false, "2024-07-01", "2026-03-01", false, &[]),
            ("1990-04-12", false, "2024-07-01", "2026-02-28", false, &["residence_card_expired"]),
            ("1990-04-12", false, "2026-03-01", "2028-06-30", false, &[]),
            ("1990-04-12", false, "2026-03-02", "2028-06-30", false, &["residence_card_not_yet_valid"]),
            ("1990-04-12", false, "2024-07-01", "2028-06-30", true, &["already_holds_credential"]),
            (
                "2015-01-01",
                false,
                "2020-01-01",
                "2025-12-31",
                true,
                &["guardian_required", "residence_card_expired", "already_holds_credential"],
            ),
        ];
        for (dob, guardian, issued, expires, holds, want) in cases {
            let app = app_with(dob, *guardian, issued, expires);
            let got: Vec<&str> = match check(&app, today, *holds) {
                Ok(()) => vec![],
                Err(rs) => rs.iter().map(|r| r.code()).collect(),
            };
            assert_eq!(got, *want, "dob {dob} guardian {guardian} card {issued}..{expires}");
        }
    }
}
