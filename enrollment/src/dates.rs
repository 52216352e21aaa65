//! `YYYY-MM-DD` dates, parsed strictly (the `time` crate's parser accepts more shapes than the form does).

use time::{Date, Month};

/// Parses exactly `YYYY-MM-DD` into a real calendar date.
pub(crate) fn parse(s: &str) -> Option<Date> {
    if s.len() != 10 || s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return None;
    }
    let year = digits(s.get(0..4)?)?;
    let month = digits(s.get(5..7)?)?;
    let day = digits(s.get(8..10)?)?;
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

fn digits(s: &str) -> Option<u32> {
    s.bytes().try_fold(0u32, |acc, b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// Formats as `YYYY-MM-DD`.
pub(crate) fn format(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// serde `with` module for `YYYY-MM-DD` dates.
pub(crate) mod iso {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub(crate) fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).ok_or_else(|| serde::de::Error::custom("date_invalid: expected YYYY-MM-DD"))
    }
}

/// serde `with` module for optional `YYYY-MM-DD` dates.
pub(crate) mod iso_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => {
                super::parse(&s).map(Some).ok_or_else(|| serde::de::Error::custom("date_invalid: expected YYYY-MM-DD"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn parses_only_real_iso_dates() {
        let cases: &[(&str, Option<Date>)] = &[
            ("1990-04-12", Some(date!(1990 - 04 - 12))),
            ("2024-02-29", Some(date!(2024 - 02 - 29))),
            ("2023-02-29", None),
            ("1990-4-12", None),
            ("1990/04/12", None),
            ("12-04-1990", None),
            ("+1990-04-1", None),
            ("1990-13-01", None),
            ("1990-00-10", None),
            ("1990-04-12T00:00:00", None),
            ("", None),
            ("１９９０-04-12", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), *want, "{input:?}");
        }
        assert_eq!(format(date!(0999 - 01 - 02)), "0999-01-02");
    }
}
