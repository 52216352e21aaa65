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
//!
//! The registries also publish what happens to cards after enrollment (revoked, expired, replaced,
//! reinstated): [`NationalRegistry::changes_after`] is that **change feed**, and
//! [`crate::registry_changes`] says what each change means for the credentials resting on the card.
//! [`FileRegistry::with_change_log`] gives the stand-in a change log file (JSON Lines, appended to)
//! that feeds both the feed and its own answers: a card the log revokes, expires or replaces is
//! answered as such, and a replacement card is known under its new number.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::registry_changes::{Change, ChangeLogFile, RegistryChange};
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

    /// The change feed: the registry's changes to residence cards with a feed position (`seq`)
    /// greater than `after`, oldest first, at most `limit`. Positions only grow, so a caller that
    /// stores the last position it applied resumes exactly there. Nothing past an entry that
    /// cannot be read is ever returned: the entries before it come first, then the error (the
    /// caller tries again later). A registry without a feed has no changes.
    fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<RegistryChange>, Error> {
        let _ = (after, limit);
        Ok(Vec::new())
    }

    /// How many changes the feed holds after `after`, when it can tell cheaply (progress reports).
    fn backlog(&self, after: u64) -> Option<u64> {
        let _ = after;
        None
    }
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

/// The registries as a JSON Lines file loaded into memory, with an optional change log.
#[derive(Debug, Clone, Default)]
pub struct FileRegistry {
    records: Vec<(RegistryRecord, String)>,
    by_card: HashMap<String, usize>,
    by_passport: HashMap<String, Vec<usize>>,
    changes: Option<std::sync::Arc<ChangeLogFile>>,
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

    /// Adds a change log (JSON Lines, appended to by the registry; `docs/registry.md`): the change
    /// feed reads it, and [`NationalRegistry::check`] answers with the changes applied.
    pub fn with_change_log(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.changes = Some(std::sync::Arc::new(ChangeLogFile::new(path)));
        self
    }

    /// The record a card number names, with what the change log says since: the card's status
    /// and last valid day as changed (a replaced card answers as revoked), and a replacement card
    /// known under its new number (the person's record with the new card). The log is read up to
    /// its first bad line (the feed reports the line).
    fn current(&self, number: &str) -> Option<(RegistryRecord, &str)> {
        let base = self.by_card.get(number).and_then(|&i| self.records.get(i));
        let Some(log) = &self.changes else {
            return base.map(|(r, latin)| (r.clone(), latin.as_str()));
        };
        let (changes, _): (Vec<RegistryChange>, _) = log.with_changes(|all| {
            all.iter()
                .filter(|c| {
                    c.card().as_str() == number
                        || matches!(c.change(), Change::Replaced { new_card } if new_card.number().as_str() == number)
                })
                .cloned()
                .collect()
        });
        let mut current = base.map(|(r, latin)| (r.clone(), latin.as_str()));
        for c in &changes {
            match c.change() {
                Change::Replaced { new_card } if new_card.number().as_str() == number => {
                    // A new card: the person of the old one, with this card, in force.
                    let old = self.by_card.get(c.card().as_str()).and_then(|&i| self.records.get(i));
                    if let Some((r, latin)) = old {
                        let mut r = r.clone();
                        r.residence_card = RegistryCard {
                            number: new_card.number().clone(),
                            kind: new_card.kind(),
                            issued_on: Some(new_card.issued_on()),
                            expires_on: new_card.expires_on(),
                            status: CardStatus::Valid,
                        };
                        current = Some((r, latin.as_str()));
                    }
                }
                change => {
                    if let Some((r, _)) = &mut current {
                        match change {
                            Change::Revoked | Change::Replaced { .. } => r.residence_card.status = CardStatus::Revoked,
                            Change::Expired { last_valid_day } => {
                                r.residence_card.expires_on = r.residence_card.expires_on.min(*last_valid_day);
                            }
                            Change::Reinstated => r.residence_card.status = CardStatus::Valid,
                        }
                    }
                }
            }
        }
        current
    }
}

impl NationalRegistry for FileRegistry {
    fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<RegistryChange>, Error> {
        match &self.changes {
            Some(log) => log.changes_after(after, limit),
            None => Ok(Vec::new()),
        }
    }

    fn backlog(&self, after: u64) -> Option<u64> {
        self.changes.as_ref().map(|log| log.backlog(after))
    }

    fn check(&self, q: &RegistryQuery) -> RegistryAnswer {
        let mut answer = RegistryAnswer::default();
        let by_card = self.current(q.card_number.as_str());
        let (record, latin) = match &by_card {
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
    fn the_change_log_feeds_the_answers_and_the_feed() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("changes.jsonl");
        let reg = sample().with_change_log(&log);
        assert!(reg.check(&kim_query()).is_clear(), "no log yet: the sample as it is");
        assert!(reg.changes_after(0, 10).unwrap().is_empty());
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let at = r#""at":"2026-03-01T09:00:00+07:00""#;
        let mut append = |line: String| writeln!(f, "{line}").unwrap();
        append(format!(r#"{{"seq":1,"card":"TRC0012345","event":"revoked",{at},"reason":"deportation"}}"#));
        assert_eq!(reg.check(&kim_query()).mismatches, vec![Reason::CardRevoked]);
        append(format!(r#"{{"seq":2,"card":"TRC0012345","event":"reinstated",{at},"reason":"decision_annulled"}}"#));
        assert!(reg.check(&kim_query()).is_clear());
        append(format!(
            r#"{{"seq":3,"card":"TRC0012345","event":"expired",{at},"reason":"expiry","last_valid_day":"2026-03-01"}}"#
        ));
        assert_eq!(reg.check(&kim_query()).mismatches, vec![Reason::CardExpired], "past its new last day");
        let mut on_the_day = kim_query();
        on_the_day.today = date!(2026 - 03 - 01);
        assert!(reg.check(&on_the_day).is_clear(), "valid through its last day");
        append(format!(
            r#"{{"seq":7,"card":"TRC0023456","event":"replaced",{at},"reason":"renewal","new_card":{{"number":"PRC0099001","kind":"permanent","issued_on":"2026-03-01","expires_on":"2036-02-28"}}}}"#
        ));
        // The replaced card is no longer in force; the new one is known, for the same person.
        assert_eq!(record_query(&reg, "TRC0023456", date!(2026 - 03 - 02)).mismatches, vec![Reason::CardRevoked]);
        let mut q = RegistryQuery {
            full_name_latin: "WANG FANG".parse().unwrap(),
            date_of_birth: date!(1985 - 11 - 03),
            nationality: "CHN".parse().unwrap(),
            passport_number: "EA1234567".parse().unwrap(),
            card_number: "PRC0099001".parse().unwrap(),
            card_kind: ResidenceKind::Permanent,
            today: date!(2026 - 03 - 02),
        };
        let a = reg.check(&q);
        assert!(a.is_clear() && a.biometrics_on_file, "{a:?}");
        q.card_kind = ResidenceKind::Temporary;
        assert_eq!(reg.check(&q).mismatches, vec![Reason::CardKindMismatch]);
        // The feed: in order, from a position, bounded; and how much is left.
        let seqs: Vec<u64> = reg.changes_after(2, 10).unwrap().iter().map(|c| c.seq()).collect();
        assert_eq!(seqs, vec![3, 7]);
        assert_eq!(reg.changes_after(0, 2).unwrap().len(), 2);
        assert_eq!(reg.backlog(3), Some(1));
        assert_eq!(sample().backlog(0), None, "no log, no feed");
    }

    #[test]
    fn registry_is_usable_as_a_shared_trait_object() {
        let reg: std::sync::Arc<dyn NationalRegistry> = std::sync::Arc::new(sample());
        assert!(reg.check(&kim_query()).is_clear());
    }
}
