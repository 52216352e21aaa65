//! The pure rules of level-2 enrollment for foreign residents of Vietnam.
//!
//! A foreigner aged 6 or more who holds a valid temporary (TRC) or permanent (PRC) residence card applies
//! at a reception point with form TK01; an officer captures a portrait and fingerprints, checks the
//! national immigration and residence registries, and approves or rejects within 3 working days (when
//! the person's biometrics are already on file nationally) or 7. This crate holds those rules and nothing
//! else: no HTTP, no database, no clock, no async runtime. The `issuer` crate calls it from its handlers
//! and stores what it returns.
//!
//! # Design
//!
//! * **Parse, don't validate.** Every field of the form is a newtype with a private field that can only be
//!   built through `FromStr`/`TryFrom` (and serde through those). Once a [`tk01::Tk01Application`] exists,
//!   its phone number is E.164, its nationality is a real ISO 3166-1 code other than `VNM`, its Latin name
//!   is ICAO 9303 text, and so on; later stages never re-check shapes.
//! * **Stable codes, not messages.** Every refusal a person can see is a [`Reason`] with a stable
//!   snake_case [`Reason::code`]. The HTTP layer sends the code and a message from [`i18n::Localizer`] in
//!   the applicant's language (Vietnamese, English, simplified Chinese or Korean). serde's own error texts
//!   never reach an applicant: [`tk01::Tk01Application::from_json`] walks the JSON itself so that every
//!   problem gets a field path and a code, and it reports all problems at once.
//! * **One error type.** [`Error`] separates "the input is not acceptable, because …"
//!   ([`Error::Invalid`], [`Error::Workflow`]) from "the rules could not run" (a data file that could not be
//!   read or parsed). Newtype constructors fail with a bare [`Reason`]; the form parser attaches the field.
//! * **Time is a parameter.** Functions take `today: Date` or `at: OffsetDateTime`; nothing here reads the
//!   clock, so tests (and the issuer's injected clock) decide what "now" is.
//! * **Data you can read.** The stand-in registry ([`registry::FileRegistry`]) and the holiday calendar
//!   ([`deadline::HolidayCalendar`]) are plain JSON files in `data/`; the Fluent message files are in
//!   `locales/`. The shipped calendar and messages are compiled in with `include_str!`, so the crate has no
//!   run-time file dependency unless the caller asks for one.
//! * **No personal data in `Debug`.** Names, document numbers, addresses, contacts and biometric bytes
//!   print as redacted placeholders (lengths and digests), so a stray `{:?}` in a log line leaks nothing.
//!
//! # The whole flow, as the issuer drives it
//!
//! ```
//! use enrollment::deadline::{due_date, HolidayCalendar};
//! use enrollment::i18n::{Lang, Localizer};
//! use enrollment::registry::{FileRegistry, NationalRegistry, RegistryQuery};
//! use enrollment::tk01::Tk01Application;
//! use enrollment::workflow::{Action, Application, OfficerId, Status};
//! use enrollment::{eligibility, Reason};
//! use time::macros::{date, datetime};
//!
//! let body = r#"{
//!   "full_name": "김민준", "full_name_latin": "Kim Min-jun", "sex": "M",
//!   "date_of_birth": "1990-04-12", "nationality": "KOR", "passport_number": "M12345678",
//!   "residence_card": {"number": "TRC0012345", "kind": "temporary",
//!                      "issued_on": "2024-07-01", "expires_on": "2028-06-30"},
//!   "address": "Số 12 phố Kim Mã, Hà Nội", "phone": "0912 345 678",
//!   "email": "minjun.kim@example.com", "reception_point": "hn-ba-dinh-police"
//! }"#;
//! let app = Tk01Application::from_json(body)?;
//! let today = date!(2026 - 03 - 06); // a Friday
//! eligibility::check(&app, today, false).map_err(|r| format!("{r:?}"))?;
//!
//! let registry = FileRegistry::from_jsonl(include_str!("../data/registry-sample.jsonl"))?;
//! let answer = registry.check(&RegistryQuery::from_application(&app, today));
//! assert!(answer.is_clear() && answer.biometrics_on_file);
//!
//! let calendar = HolidayCalendar::vietnam_2026_2027()?;
//! assert_eq!(due_date(today, answer.biometrics_on_file, &calendar), date!(2026 - 03 - 11));
//!
//! let officer: OfficerId = "officer-001".parse()?;
//! let mut file = Application::submitted(datetime!(2026-03-06 09:00 +07:00));
//! file.apply(Action::CaptureBiometrics, officer.clone(), datetime!(2026-03-06 09:20 +07:00))?;
//! let refused = file.apply(Action::Approve, officer.clone(), datetime!(2026-03-06 09:30 +07:00));
//! assert_eq!(refused.unwrap_err().reasons(), vec![Reason::ApplicationNotReady]);
//! file.apply(Action::CheckData, officer.clone(), datetime!(2026-03-06 10:00 +07:00))?;
//! file.apply(Action::Approve, officer, datetime!(2026-03-09 08:00 +07:00))?;
//! assert_eq!(file.status(), Status::Approved);
//!
//! let messages = Localizer::new()?;
//! let lang = Lang::negotiate(Some("ko-KR,ko;q=0.9,en;q=0.8"));
//! assert_eq!(messages.status(lang, file.status()), "승인");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! | module | what it decides |
//! |---|---|
//! | [`tk01`] | the TK01 form: field types, ICAO transliteration, parsing raw JSON with reason codes |
//! | [`eligibility`] | age, residence card validity, guardian, one credential per person |
//! | [`registry`] | the national-registry check behind the [`registry::NationalRegistry`] trait |
//! | [`registry_changes`] | the registry's change feed, and what a change means for the credentials on a card |
//! | [`workflow`] | application states and the officer actions that move between them |
//! | [`biometrics`] | portrait and fingerprint uploads: type by magic bytes, size, position, quality, SHA-256 |
//! | [`deadline`] | working days, the holiday calendar and the due date |
//! | [`reports`] | overdue/due-soon lists and daily counts per reception point |
//! | [`i18n`] | languages, `Accept-Language` negotiation and localized messages |

mod dates;
mod error;
mod newtype;
mod reason;

pub mod biometrics;
pub mod deadline;
pub mod eligibility;
pub mod i18n;
pub mod registry;
pub mod registry_changes;
pub mod reports;
pub mod text;
pub mod tk01;
pub mod workflow;

pub use error::{Error, FieldProblem};
pub use reason::Reason;

#[doc(hidden)]
pub mod fuzzing {
    //! Entry points for the fuzz targets in `fuzz/` and the smoke test that runs them on stable
    //! (`enrollment/tests/fuzz_smoke.rs`): they must never panic, whatever the bytes.

    /// The TK01 parser on arbitrary bytes: as a JSON body, and, when the bytes are JSON, through
    /// the `serde_json::Value` path too; every field type's parser on the text.
    pub fn tk01(data: &[u8]) {
        use std::str::FromStr as _;
        let Ok(text) = std::str::from_utf8(data) else { return };
        if let Ok(app) = crate::tk01::Tk01Application::from_json(text) {
            // What parsed must serialize and parse back to the same form.
            if let Ok(json) = serde_json::to_string(&app) {
                let again = crate::tk01::Tk01Application::from_json(&json);
                assert!(again.as_ref().is_ok_and(|a| *a == app), "a parsed TK01 form does not round-trip");
            }
        }
        let _ = crate::tk01::PersonName::from_str(text);
        let _ = crate::tk01::LatinName::from_str(text);
        let _ = crate::tk01::PassportNumber::from_str(text);
        let _ = crate::tk01::CardNumber::from_str(text);
        let _ = crate::tk01::Address::from_str(text);
        let _ = crate::tk01::PhoneNumber::from_str(text);
        let _ = crate::tk01::Email::from_str(text);
        let _ = crate::tk01::Nationality::from_str(text);
        let _ = crate::tk01::ReceptionPointId::from_str(text);
        let _ = crate::tk01::icao_transliterate(text);
        let _ = crate::text::has_format_characters(text);
    }
}
