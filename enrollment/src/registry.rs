//! The national-data check: does the immigration and residence registry know this person and this card?
//!
//! The real registries are reached by a client the issuer owns; here they sit behind the
//! [`NationalRegistry`] trait, and [`FileRegistry`] is the stand-in used in development and tests. It
//! reads a JSON Lines file, one person (with one residence card) per line; the schema is in
//! `docs/registry.md` and a sample ships in `data/registry-sample.jsonl`.
//!
//! The lookup goes by residence card number first (the card is what is being vouched for), then by
//! passport number. The [`RegistryAnswer`] reports facts (found, matches, valid, biometrics on file) and
//! every mismatch as a [`Reason`], so the officer sees all of them. Names are compared on their ICAO 9303
//! Latin form with spaces ignored, so `김민준 / KIM MIN JUN`, `Kim Min-jun` and `KIM MINJUN` agree.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::tk01::{
    CardNumber, LatinName, Nationality, PassportNumber, PersonName, ResidenceKind, Sex, Tk01Application,
};
use crate::{dates, Error, Reason};

/// What the enrollment asks the registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryQuery {
    /// ICAO Latin name.
    pub full_name_latin: LatinName,
    /// Date of birth.
    pub date_of_birth: Date,
    /// Nationality.
    pub nationality: Nationality,
    /// Passport number.
    pub passport_number: PassportNumber,
    /// Residence card number.
    pub card_number: CardNumber,
    /// Residence card kind.
    pub card_kind: ResidenceKind,
    /// The day the check is made (for the card's expiry).
    pub today: Date,
}

impl RegistryQuery {
    /// The query for an application, checked on `today`.
    pub fn from_application(app: &Tk01Application, today: Date) -> Self {
        RegistryQuery {
            full_name_latin: app.full_name_latin().clone(),
            date_of_birth: app.date_of_birth(),
            nationality: app.nationality(),
            passport_number: app.passport_number().clone(),
            card_number: app.residence_card().number().clone(),
            card_kind: app.residence_card().kind(),
            today,
        }
    }
}

/// What the registries answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryAnswer {
    /// A person was found, by card number or by passport number.
    pub person_found: bool,
    /// The residence card number is known.
    pub card_found: bool,
    /// The card is known, of the stated kind, and its holder's identity agrees with the query.
    pub card_matches: bool,
    /// The card's status is `valid` and it has not expired.
    pub card_valid: bool,
    /// The person's portrait and fingerprints are already on file nationally (3-day deadline).
    pub biometrics_on_file: bool,
    /// Every disagreement, in [`Reason::ALL`] order; empty when all is well.
    pub mismatches: Vec<Reason>,
}

impl RegistryAnswer {
    /// True when the registries vouch for the applicant and the card.
    pub fn is_clear(&self) -> bool {
        self.mismatches.is_empty() && self.card_matches && self.card_valid
    }
}

/// The national immigration and residence registries, as enrollment sees them.
///
/// Implementations answer; they do not fail: a registry that cannot be reached is the caller's
/// retry/timeout problem, handled in the client before it answers.
pub trait NationalRegistry: Send + Sync {
    /// Looks the applicant and card up.
    fn check(&self, q: &RegistryQuery) -> RegistryAnswer;
}

/// A residence card's status in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// In force.
    Valid,
    /// Withdrawn by the authority.
    Revoked,
    /// Marked expired (the expiry date is also checked on its own).
    Expired,
}

/// The residence card part of a registry record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryCard {
    /// Card number.
    pub number: CardNumber,
    /// Temporary or permanent.
    pub kind: ResidenceKind,
    /// Issue date, if recorded.
    #[serde(default, with = "dates::iso_opt", skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<Date>,
    /// Expiry date.
    #[serde(with = "dates::iso")]
    pub expires_on: Date,
    /// Status.
    pub status: CardStatus,
}

/// One line of the registry file: a person and their residence card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRecord {
    /// Name as written, any script.
    pub full_name: PersonName,
    /// ICAO Latin name; required when `full_name` is not in Latin script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name_latin: Option<LatinName>,
    /// Date of birth.
    #[serde(with = "dates::iso")]
    pub date_of_birth: Date,
    /// Sex, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Nationality.
    pub nationality: Nationality,
    /// Passport number.
    pub passport_number: PassportNumber,
    /// Residence card.
    pub residence_card: RegistryCard,
    /// Biometrics already on file nationally.
    pub biometrics_on_file: bool,
}

impl RegistryRecord {
    /// The record's ICAO Latin name, given or derived from `full_name`.
    pub fn latin_name(&self) -> Option<LatinName> {
        self.full_name_latin.clone().or_else(|| self.full_name.as_str().parse().ok())
    }
}

/// The registries as a JSON Lines file loaded into memory.
#[derive(Debug, Clone, Default)]
pub struct FileRegistry {
    records: Vec<(RegistryRecord, String)>,
    by_card: HashMap<String, usize>,
    by_passport: HashMap<String, Vec<usize>>,
}

impl FileRegistry {
    /// Reads a JSON Lines file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::from_jsonl(&text)
    }

    /// Parses JSON Lines text. Blank lines are skipped; any other bad line is an
    /// [`Error::RegistryLine`] with its 1-based number. A card number may appear once only.
    pub fn from_jsonl(text: &str) -> Result<Self, Error> {
        let mut reg = FileRegistry::default();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| Error::RegistryLine { line: line_no, message };
            let record: RegistryRecord = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let latin = record
                .latin_name()
                .ok_or_else(|| bad("full_name_latin is required for a non-Latin full_name".into()))?
                .compact();
            let idx = reg.records.len();
            let card = record.residence_card.number.as_str().to_owned();
            if reg.by_card.insert(card, idx).is_some() {
                return Err(bad("residence card number appears twice".into()));
            }
            reg.by_passport.entry(record.passport_number.as_str().to_owned()).or_default().push(idx);
            reg.records.push((record, latin));
        }
        Ok(reg)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl NationalRegistry for FileRegistry {
    fn check(&self, q: &RegistryQuery) -> RegistryAnswer {
        let mut answer = RegistryAnswer::default();
        let by_card = self.by_card.get(q.card_number.as_str()).and_then(|&i| self.records.get(i));
        let (record, latin) = match by_card {
            Some(found) => {
                answer.card_found = true;
                found
            }
            None => {
                let by_passport = self
                    .by_passport
                    .get(q.passport_number.as_str())
                    .and_then(|ids| ids.first())
                    .and_then(|&i| self.records.get(i));
                answer.mismatches.push(match by_passport {
                    Some((record, _)) => {
                        answer.person_found = true;
                        answer.biometrics_on_file = record.biometrics_on_file;
                        Reason::CardNotFound
                    }
                    None => Reason::PersonNotFound,
                });
                return answer;
            }
        };
        answer.person_found = true;
        answer.biometrics_on_file = record.biometrics_on_file;
        let mut m = Vec::new();
        if *latin != q.full_name_latin.compact() {
            m.push(Reason::NameMismatch);
        }
        if record.date_of_birth != q.date_of_birth {
            m.push(Reason::DateOfBirthMismatch);
        }
        if record.nationality != q.nationality {
            m.push(Reason::NationalityMismatch);
        }
        if record.passport_number != q.passport_number {
            m.push(Reason::PassportMismatch);
        }
        let card = &record.residence_card;
        if card.kind != q.card_kind {
            m.push(Reason::CardKindMismatch);
        }
        answer.card_matches = m.is_empty();
        match card.status {
            CardStatus::Revoked => m.push(Reason::CardRevoked),
            CardStatus::Expired => m.push(Reason::CardExpired),
            CardStatus::Valid if card.expires_on < q.today => m.push(Reason::CardExpired),
            CardStatus::Valid => answer.card_valid = true,
        }
        m.sort_by_key(|r| Reason::ALL.iter().position(|x| x == r));
        answer.mismatches = m;
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tk01::tests::kim;
    use std::io::Write;
    use time::macros::date;

    const SAMPLE: &str = include_str!("../data/registry-sample.jsonl");

    fn sample() -> FileRegistry {
        FileRegistry::from_jsonl(SAMPLE).unwrap()
    }

    fn kim_query() -> RegistryQuery {
        RegistryQuery::from_application(&kim(), date!(2026 - 03 - 02))
    }

    #[test]
    fn sample_loads_and_knows_the_demo_applicant() {
        let reg = sample();
        assert!(reg.len() >= 8);
        let a = reg.check(&kim_query());
        assert_eq!(
            a,
            RegistryAnswer {
                person_found: true,
                card_found: true,
                card_matches: true,
                card_valid: true,
                biometrics_on_file: true,
                mismatches: vec![],
            }
        );
        assert!(a.is_clear());
    }

    #[test]
    fn mismatch_table() {
        let reg = sample();
        type Edit = fn(&mut RegistryQuery);
        let cases: &[(&str, Edit, &[Reason])] = &[
            ("latin name spacing ignored", |q| q.full_name_latin = "KIM MINJUN".parse().unwrap(), &[]),
            ("name", |q| q.full_name_latin = "LEE MIN JUN".parse().unwrap(), &[Reason::NameMismatch]),
            ("dob", |q| q.date_of_birth = date!(1990 - 04 - 13), &[Reason::DateOfBirthMismatch]),
            ("nationality", |q| q.nationality = "PRK".parse().unwrap(), &[Reason::NationalityMismatch]),
            ("passport", |q| q.passport_number = "M00000000".parse().unwrap(), &[Reason::PassportMismatch]),
            ("kind", |q| q.card_kind = ResidenceKind::Permanent, &[Reason::CardKindMismatch]),
            ("expired by date", |q| q.today = date!(2028 - 07 - 01), &[Reason::CardExpired]),
            ("still valid on expiry day", |q| q.today = date!(2028 - 06 - 30), &[]),
            (
                "unknown card, known passport",
                |q| q.card_number = "TRC9999999".parse().unwrap(),
                &[Reason::CardNotFound],
            ),
            (
                "unknown card and passport",
                |q| {
                    q.card_number = "TRC9999999".parse().unwrap();
                    q.passport_number = "Z99999999".parse().unwrap();
                },
                &[Reason::PersonNotFound],
            ),
            (
                "several",
                |q| {
                    q.date_of_birth = date!(1991 - 04 - 12);
                    q.card_kind = ResidenceKind::Permanent;
                    q.full_name_latin = "PARK MIN JUN".parse().unwrap();
                },
                &[Reason::NameMismatch, Reason::DateOfBirthMismatch, Reason::CardKindMismatch],
            ),
        ];
        for (name, edit, want) in cases {
            let mut q = kim_query();
            edit(&mut q);
            let a = reg.check(&q);
            assert_eq!(a.mismatches, *want, "{name}");
            assert_eq!(a.is_clear(), want.is_empty(), "{name}");
        }
    }

    fn record_query(reg: &FileRegistry, card: &str, today: Date) -> RegistryAnswer {
        let idx = reg.by_card[card];
        let (r, _) = &reg.records[idx];
        let q = RegistryQuery {
            full_name_latin: r.latin_name().unwrap(),
            date_of_birth: r.date_of_birth,
            nationality: r.nationality,
            passport_number: r.passport_number.clone(),
            card_number: r.residence_card.number.clone(),
            card_kind: r.residence_card.kind,
            today,
        };
        reg.check(&q)
    }

    #[test]
    fn every_sample_person_answers_for_themselves() {
        let reg = sample();
        let today = date!(2026 - 03 - 02);
        let mut revoked = 0;
        let mut without_biometrics = 0;
        for (r, _) in &reg.records {
            let a = record_query(&reg, r.residence_card.number.as_str(), today);
            assert!(a.person_found && a.card_found && a.card_matches, "{a:?}");
            match r.residence_card.status {
                CardStatus::Revoked => {
                    revoked += 1;
                    assert_eq!(a.mismatches, vec![Reason::CardRevoked]);
                }
                _ => assert!(a.is_clear(), "{:?}", r.residence_card.number),
            }
            without_biometrics += usize::from(!a.biometrics_on_file);
        }
        assert!(revoked >= 1 && without_biometrics >= 1);
        let nationalities: Vec<_> = reg.records.iter().map(|(r, _)| r.nationality.code()).collect();
        for n in ["KOR", "CHN", "JPN", "USA", "DEU", "FRA"] {
            assert!(nationalities.contains(&n), "{n}");
        }
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let good = SAMPLE.lines().next().unwrap();
        let cases = [
            (format!("{good}\n\nnot json\n"), 3),
            (format!("{good}\n{}", good.replace("\"KOR\"", "\"VNM\"")), 2),
            (format!("{good}\n{good}"), 2),
            (format!("\n{}", good.replace("\"temporary\"", "\"visa\"")), 2),
            (good.replace("\"biometrics_on_file\"", "\"fingerprints\""), 1),
            (good.replace("\"full_name_latin\":\"Kim Min-jun\",", ""), 1),
        ];
        for (text, line) in cases {
            match FileRegistry::from_jsonl(&text) {
                Err(Error::RegistryLine { line: got, .. }) => assert_eq!(got, line, "{text}"),
                other => panic!("expected a line error, got {other:?}"),
            }
        }
    }

    #[test]
    fn load_reads_a_file_and_reports_missing_ones() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(SAMPLE.as_bytes()).unwrap();
        assert_eq!(FileRegistry::load(f.path()).unwrap().len(), sample().len());
        assert!(matches!(FileRegistry::load("/nonexistent/registry.jsonl"), Err(Error::Io { .. })));
    }

    #[test]
    fn registry_is_usable_as_a_shared_trait_object() {
        let reg: std::sync::Arc<dyn NationalRegistry> = std::sync::Arc::new(sample());
        assert!(reg.check(&kim_query()).is_clear());
    }
}
