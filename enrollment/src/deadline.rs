//! Working days and the decision deadline.
//!
//! The authority must decide within **3 working days** when the applicant's biometrics are already on
//! file nationally, otherwise **7**. Working days are Monday to Friday minus public holidays, plus the
//! Saturdays the government designates as make-up working days when it swaps a day to lengthen a break
//! (reception points are state offices and follow the civil-service calendar).
//!
//! Counting follows Vietnamese administrative practice: an application received on a non-working day is
//! taken as received on the next working day, and the day of receipt does not count. So a Friday
//! submission with a 3-day deadline is due the next Wednesday, and a Saturday submission the next
//! Thursday.
//!
//! The calendar is data, not code: [`HolidayCalendar::from_json`] reads a list of
//! `{date, name_vi, name_en}` entries (optionally `"kind": "working_day"` for a make-up Saturday, and
//! `estimated`/`provisional` flags), either as a bare array or inside an object with a `note`.
//! [`HolidayCalendar::vietnam_2026_2027`] is the shipped file `data/holidays-vn-2026-2027.json`, which
//! records its sources and which dates are still estimates.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use crate::{dates, Error};

const VIETNAM_2026_2027: &str = include_str!("../data/holidays-vn-2026-2027.json");

/// Working days allowed when biometrics are already on file nationally.
pub const DAYS_WITH_BIOMETRICS_ON_FILE: u32 = 3;
/// Working days allowed otherwise.
pub const DAYS_WITHOUT_BIOMETRICS_ON_FILE: u32 = 7;

/// Whether a calendar entry closes or opens the offices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday, compensatory or swapped day off: offices closed.
    #[default]
    Holiday,
    /// A weekend day designated as a make-up working day: offices open.
    WorkingDay,
}

/// One calendar entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDay {
    /// The date.
    #[serde(with = "dates::iso")]
    pub date: Date,
    /// Name in Vietnamese.
    pub name_vi: String,
    /// Name in English.
    pub name_en: String,
    /// Holiday (default) or make-up working day.
    #[serde(default)]
    pub kind: DayKind,
    /// Our reading of the law before the official announcement.
    #[serde(default)]
    pub estimated: bool,
    /// Announced policy not yet in force by law.
    #[serde(default)]
    pub provisional: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CalendarFile {
    List(Vec<CalendarDay>),
    Document {
        #[serde(default)]
        #[allow(dead_code)]
        note: Option<String>,
        #[serde(default)]
        #[allow(dead_code)]
        sources: Vec<String>,
        holidays: Vec<CalendarDay>,
    },
}

/// Public holidays and make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayCalendar {
    days: BTreeMap<Date, CalendarDay>,
}

impl HolidayCalendar {
    /// The shipped calendar of Vietnamese state agencies for 2026 and 2027.
    pub fn vietnam_2026_2027() -> Result<Self, Error> {
        Self::from_json(VIETNAM_2026_2027)
    }

    /// Reads a calendar file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
        Self::from_json(&text)
    }

    /// Parses calendar JSON. Refuses duplicate dates, blank names, and make-up working days that are not
    /// on a weekend.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let bad = |message: String| Error::Calendar { message };
        let file: CalendarFile = serde_json::from_str(text)
            .map_err(|e| bad(format!("expected a list of {{date, name_vi, name_en}}: {e}")))?;
        let list = match file {
            CalendarFile::List(list) | CalendarFile::Document { holidays: list, .. } => list,
        };
        let mut days = BTreeMap::new();
        for day in list {
            let date = dates::format(day.date);
            if day.name_vi.trim().is_empty() || day.name_en.trim().is_empty() {
                return Err(bad(format!("{date}: name_vi and name_en must not be blank")));
            }
            if day.kind == DayKind::WorkingDay && !is_weekend(day.date) {
                return Err(bad(format!("{date}: a make-up working day must be a Saturday or Sunday")));
            }
            if days.insert(day.date, day).is_some() {
                return Err(bad(format!("{date} appears twice")));
            }
        }
        Ok(HolidayCalendar { days })
    }

    /// The entry for `date`, if any.
    pub fn entry(&self, date: Date) -> Option<&CalendarDay> {
        self.days.get(&date)
    }

    /// All entries, in date order.
    pub fn entries(&self) -> impl Iterator<Item = &CalendarDay> {
        self.days.values()
    }

    /// True when reception points are open on `date`.
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.days.get(&date).map(|d| d.kind) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::WorkingDay) => true,
            None => !is_weekend(date),
        }
    }

    /// The first working day on or after `date` (the day an application counts as received).
    pub fn receipt_day(&self, date: Date) -> Date {
        let mut d = date;
        while !self.is_working_day(d) {
            match d.next_day() {
                Some(next) => d = next,
                None => break,
            }
        }
        d
    }

    /// The `n`th working day after `date` (`date` itself never counts). Saturates at the end of `Date`'s
    /// range instead of panicking.
    pub fn add_working_days(&self, date: Date, n: u32) -> Date {
        let mut d = date;
        let mut counted = 0;
        while counted < n {
            match d.next_day() {
                Some(next) => d = next,
                None => break,
            }
            if self.is_working_day(d) {
                counted += 1;
            }
        }
        d
    }
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Working days allowed for a decision.
pub const fn allowed_working_days(biometrics_on_file: bool) -> u32 {
    if biometrics_on_file {
        DAYS_WITH_BIOMETRICS_ON_FILE
    } else {
        DAYS_WITHOUT_BIOMETRICS_ON_FILE
    }
}

/// The day a decision is due for an application submitted on `submitted_on`.
pub fn due_date(submitted_on: Date, biometrics_on_file: bool, cal: &HolidayCalendar) -> Date {
    cal.add_working_days(cal.receipt_day(submitted_on), allowed_working_days(biometrics_on_file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use time::macros::date;

    fn vn() -> HolidayCalendar {
        HolidayCalendar::vietnam_2026_2027().unwrap()
    }

    #[test]
    fn due_date_table() {
        let cal = vn();
        // (why, submitted on, biometrics on file, due)
        let cases = [
            ("Monday, 3 days", date!(2026 - 03 - 02), true, date!(2026 - 03 - 05)),
            ("Friday, 3 days -> next Wednesday", date!(2026 - 03 - 06), true, date!(2026 - 03 - 11)),
            ("Friday, 7 days", date!(2026 - 03 - 06), false, date!(2026 - 03 - 17)),
            ("Saturday counts from Monday", date!(2026 - 03 - 07), true, date!(2026 - 03 - 12)),
            ("Sunday, 7 days", date!(2026 - 03 - 08), false, date!(2026 - 03 - 18)),
            ("Thursday before Tet 2026, 3 days", date!(2026 - 02 - 12), true, date!(2026 - 02 - 24)),
            ("Thursday before Tet 2026, 7 days", date!(2026 - 02 - 12), false, date!(2026 - 03 - 02)),
            ("last day before Tet 2026", date!(2026 - 02 - 13), true, date!(2026 - 02 - 25)),
            ("during Tet 2026", date!(2026 - 02 - 18), true, date!(2026 - 02 - 26)),
            ("before Hung Kings and 30/4-1/5, 3 days", date!(2026 - 04 - 24), true, date!(2026 - 05 - 04)),
            ("before Hung Kings and 30/4-1/5, 7 days", date!(2026 - 04 - 24), false, date!(2026 - 05 - 08)),
            ("eve of 30 April 2026", date!(2026 - 04 - 29), true, date!(2026 - 05 - 06)),
            ("eve of 30 April 2027 (1 May on Saturday)", date!(2027 - 04 - 29), true, date!(2027 - 05 - 06)),
            ("make-up Saturday 10 Jan 2026 counts", date!(2026 - 01 - 09), true, date!(2026 - 01 - 13)),
            ("make-up Saturday 22 Aug 2026 counts", date!(2026 - 08 - 21), true, date!(2026 - 08 - 25)),
            ("National Day 2026", date!(2026 - 08 - 28), true, date!(2026 - 09 - 07)),
            ("year end 2025 into New Year 2026", date!(2025 - 12 - 31), true, date!(2026 - 01 - 07)),
            ("year end 2026, 3 days", date!(2026 - 12 - 30), true, date!(2027 - 01 - 05)),
            ("year end 2026, 7 days", date!(2026 - 12 - 30), false, date!(2027 - 01 - 11)),
            ("before Tet 2027 (estimated)", date!(2027 - 02 - 03), true, date!(2027 - 02 - 15)),
        ];
        for (why, submitted, on_file, want) in cases {
            assert_eq!(due_date(submitted, on_file, &cal), want, "{why}");
        }
    }

    #[test]
    fn shipped_calendar_is_consistent() {
        let cal = vn();
        let holidays: Vec<_> = cal.entries().filter(|d| d.kind == DayKind::Holiday).collect();
        // Weekday days off: 2026 has New Year 2, Tet 5, Hung Kings 1, 30/4-1/5 2, National Day 3, Culture Day 1.
        let weekday_off_2026 = holidays.iter().filter(|d| d.date.year() == 2026 && !is_weekend(d.date)).count();
        assert_eq!(weekday_off_2026, 14);
        for (d, closed) in [
            (date!(2026 - 02 - 16), true),
            (date!(2026 - 02 - 20), true),
            (date!(2026 - 02 - 23), false),
            (date!(2026 - 04 - 27), true),
            (date!(2026 - 01 - 10), false),
            (date!(2026 - 01 - 17), true),
            (date!(2027 - 05 - 03), true),
        ] {
            assert_eq!(!cal.is_working_day(d), closed, "{d}");
        }
        assert!(cal.entries().any(|d| d.estimated));
    }

    #[test]
    fn from_json_accepts_a_bare_list_and_refuses_bad_files() {
        let cal = HolidayCalendar::from_json(
            r#"[{"date": "2030-01-01", "name_vi": "Tết Dương lịch", "name_en": "New Year's Day"}]"#,
        )
        .unwrap();
        assert!(!cal.is_working_day(date!(2030 - 01 - 01)));
        let bad = [
            r#"{"holidays": [{"date": "2030-13-01", "name_vi": "x", "name_en": "x"}]}"#,
            r#"[{"date": "2030-01-01", "name_vi": "x", "name_en": "x"},
                {"date": "2030-01-01", "name_vi": "y", "name_en": "y"}]"#,
            r#"[{"date": "2030-01-01", "name_vi": " ", "name_en": "x"}]"#,
            r#"[{"date": "2030-01-02", "name_vi": "x", "name_en": "x", "kind": "working_day"}]"#,
            r#"[{"date": "2030-01-01", "name": "x"}]"#,
            "not json",
        ];
        for text in bad {
            assert!(matches!(HolidayCalendar::from_json(text), Err(Error::Calendar { .. })), "{text}");
        }
    }

    #[test]
    fn load_reads_files() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(VIETNAM_2026_2027.as_bytes()).unwrap();
        assert_eq!(HolidayCalendar::load(f.path()).unwrap(), vn());
        assert!(matches!(HolidayCalendar::load("/nonexistent.json"), Err(Error::Io { .. })));
    }

    #[test]
    fn saturates_at_the_end_of_time() {
        let cal = HolidayCalendar::default();
        assert_eq!(cal.add_working_days(Date::MAX, 3), Date::MAX);
    }
}
