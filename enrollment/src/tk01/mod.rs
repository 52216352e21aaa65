//! Form TK01, the application for a level-2 electronic identity, as it arrives over HTTP (JSON, snake_case
//! fields) and as the rest of the crate sees it once parsed.
//!
//! [`Tk01Application::from_json`] (or `TryFrom<serde_json::Value>`, or plain serde deserialization, which
//! goes through the same path) walks the JSON by hand instead of deriving `Deserialize` field by field:
//! that way every problem gets the field's dotted path and a stable [`Reason`] rather than serde's English
//! message, and all problems are reported in one answer, which is what a form on a counter needs.
//!
//! ```json
//! {
//!   "full_name": "김민준",
//!   "full_name_latin": "KIM MIN JUN",
//!   "sex": "M",
//!   "date_of_birth": "1990-04-12",
//!   "nationality": "KOR",
//!   "passport_number": "M12345678",
//!   "residence_card": {"number": "TRC0012345", "kind": "temporary",
//!                      "issued_on": "2024-07-01", "expires_on": "2028-06-30"},
//!   "address": "Số 12 phố Kim Mã, phường Ngọc Hà, Hà Nội",
//!   "phone": "0912 345 678",
//!   "email": "minjun.kim@example.com",
//!   "reception_point": "hn-ba-dinh-police",
//!   "guardian": null
//! }
//! ```

mod countries;
mod transliterate;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};
use time::Date;

use crate::newtype::string_newtype;
use crate::{dates, Error, FieldProblem, Reason};

pub use countries::ISO_3166_ALPHA3;
pub use transliterate::icao_transliterate;

// ---------------------------------------------------------------------------------------------------------
// Field types

const MAX_NAME_CHARS: usize = 150;

fn parse_person_name(s: &str) -> Result<String, Reason> {
    let s = s.trim();
    let allowed = |c: char| {
        c.is_alphabetic()
            || matches!(c, ' ' | '-' | '\'' | '\u{2019}' | '.' | ',' | '\u{b7}' | '\u{30fb}')
            || ('\u{300}'..='\u{36f}').contains(&c)
    };
    if s.is_empty()
        || s.chars().count() > MAX_NAME_CHARS
        || !s.chars().all(allowed)
        || !s.chars().any(char::is_alphabetic)
    {
        return Err(Reason::NameInvalid);
    }
    Ok(s.to_owned())
}

/// A person's name as written on their documents, in any script, exactly as given (only leading and
/// trailing whitespace is removed; no Unicode normalization). 1–150 characters: letters, combining marks,
/// spaces and `- ' ’ . , ·`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);
string_newtype!(PersonName, parse_person_name, redacted);

fn parse_latin_name(s: &str) -> Result<String, Reason> {
    match icao_transliterate(s) {
        Some(t) if t.len() <= MAX_NAME_CHARS => Ok(t),
        _ => Err(Reason::NameInvalid),
    }
}

/// A name in ICAO 9303 Latin form: uppercase `A`–`Z` and single spaces. Parsing runs
/// [`icao_transliterate`], so `"Kim Min-jun"` and `"KIM MIN JUN"` give the same value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LatinName(String);
string_newtype!(LatinName, parse_latin_name, redacted);

impl LatinName {
    /// The letters only, for comparisons that ignore spacing (`KIM MINJUN` = `KIM MIN JUN`).
    pub fn compact(&self) -> String {
        self.0.chars().filter(|c| *c != ' ').collect()
    }
}

fn parse_passport_number(s: &str) -> Result<String, Reason> {
    let s = s.trim().to_ascii_uppercase();
    if (5..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(Reason::PassportNumberInvalid)
    }
}

/// A passport (travel document) number: 5–20 characters `A`–`Z` `0`–`9`, uppercased on input.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PassportNumber(String);
string_newtype!(PassportNumber, parse_passport_number, redacted);

fn parse_card_number(s: &str) -> Result<String, Reason> {
    let s = s.trim().to_ascii_uppercase();
    if (6..=20).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_digit())
    {
        Ok(s)
    } else {
        Err(Reason::CardNumberInvalid)
    }
}

/// A Vietnamese temporary or permanent residence card number: 6–20 letters and digits (at least one
/// digit), uppercased on input.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(String);
string_newtype!(CardNumber, parse_card_number, redacted);

fn parse_address(s: &str) -> Result<String, Reason> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 300 || s.chars().any(char::is_control) {
        Err(Reason::AddressInvalid)
    } else {
        Ok(s.to_owned())
    }
}

/// An address in Vietnam, free text, 1–300 characters, no control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address(String);
string_newtype!(Address, parse_address, redacted);

fn parse_phone(s: &str) -> Result<String, Reason> {
    // Separators people type; anything else that is not a digit (or a leading +) is refused.
    let compact: String = s.trim().chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')')).collect();
    let national = if let Some(rest) = compact.strip_prefix("+84") {
        rest
    } else if let Some(rest) = compact.strip_prefix('0') {
        rest
    } else if let Some(rest) = compact.strip_prefix("84").filter(|r| r.len() == 9) {
        rest
    } else {
        return Err(Reason::PhoneInvalid);
    };
    // Mobile numbers since the 2018 renumbering: 9 digits after the trunk prefix, starting 3, 5, 7, 8 or 9.
    let ok = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && matches!(national.as_bytes().first(), Some(b'3' | b'5' | b'7' | b'8' | b'9'));
    if ok {
        Ok(format!("+84{national}"))
    } else {
        Err(Reason::PhoneInvalid)
    }
}

/// A Vietnamese mobile number in E.164 form (`+84` and nine digits starting 3, 5, 7, 8 or 9).
///
/// Accepts `0xx…`, `84xx…` and `+84xx…`, with spaces, dots, hyphens or parentheses between digits. The
/// prefix rule is the coarse one (03x, 05x, 07x, 08x, 09x) rather than the list of blocks assigned
/// today, so a newly allocated block does not lock people out.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);
string_newtype!(PhoneNumber, parse_phone, redacted);

fn parse_email(s: &str) -> Result<String, Reason> {
    let s = s.trim();
    let bad = || Reason::EmailInvalid;
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.split_once('@').ok_or_else(bad)?;
    // The domain is checked as stored (lowercased): `İ` lowercases to `i` and a combining dot,
    // which is no letter, and a stored address must parse again (found by fuzzing).
    let domain = domain.to_lowercase();
    let domain = domain.as_str();
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || local.chars().any(|c| "\"(),:;<>[\\]".contains(c))
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(bad());
    }
    Ok(format!("{local}@{domain}"))
}

/// An email address, checked pragmatically: one `@`, a local part of 1–64 characters without spaces or
/// specials, a domain with at least one dot, 254 characters at most. The domain is lowercased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
string_newtype!(Email, parse_email, redacted);

fn parse_reception_point(s: &str) -> Result<String, Reason> {
    let ok = (3..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Reason::ReceptionPointInvalid)
    }
}

/// The id of a reception point, e.g. `hn-ba-dinh-police`: 3–64 characters, lowercase letters, digits and
/// single inner hyphens. Whether the id names an open reception point is the issuer's question.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReceptionPointId(String);
string_newtype!(ReceptionPointId, parse_reception_point, public);

fn parse_guardian_id(s: &str) -> Result<String, Reason> {
    let s = s.trim().to_ascii_uppercase();
    if (5..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(Reason::GuardianIdInvalid)
    }
}

/// A guardian's identity document number (Vietnamese citizen ID, passport or residence card): 5–20
/// letters and digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GuardianIdNumber(String);
string_newtype!(GuardianIdNumber, parse_guardian_id, redacted);

/// Sex as on ICAO travel documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Sex {
    /// Male.
    M,
    /// Female.
    F,
    /// Unspecified.
    X,
}

impl FromStr for Sex {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Reason> {
        match s {
            "M" => Ok(Sex::M),
            "F" => Ok(Sex::F),
            "X" => Ok(Sex::X),
            _ => Err(Reason::SexInvalid),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Sex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|r: Reason| serde::de::Error::custom(r.code()))
    }
}

/// A nationality: an ISO 3166-1 alpha-3 code from [`ISO_3166_ALPHA3`], other than `VNM`.
///
/// Lowercase input is accepted and uppercased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nationality(&'static str);

impl Nationality {
    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0
    }
}

impl FromStr for Nationality {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Reason> {
        let upper = s.trim().to_ascii_uppercase();
        if upper == "VNM" {
            // Vietnamese citizens get their level-2 identity through the citizen channel, not this one.
            return Err(Reason::NationalityInvalid);
        }
        ISO_3166_ALPHA3
            .binary_search(&upper.as_str())
            .ok()
            .and_then(|i| ISO_3166_ALPHA3.get(i))
            .map(|code| Nationality(code))
            .ok_or(Reason::NationalityInvalid)
    }
}

impl fmt::Display for Nationality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Nationality {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Nationality {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|r: Reason| serde::de::Error::custom(r.code()))
    }
}

/// Temporary (TRC, thẻ tạm trú) or permanent (PRC, thẻ thường trú) residence card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidenceKind {
    /// Temporary residence card.
    Temporary,
    /// Permanent residence card.
    Permanent,
}

impl FromStr for ResidenceKind {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Reason> {
        match s {
            "temporary" => Ok(ResidenceKind::Temporary),
            "permanent" => Ok(ResidenceKind::Permanent),
            _ => Err(Reason::ResidenceKindInvalid),
        }
    }
}

/// How the guardian is related to a child applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// Mother or father.
    Parent,
    /// Another person appointed or recognised as guardian.
    LegalGuardian,
}

impl FromStr for Relationship {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Reason> {
        match s {
            "parent" => Ok(Relationship::Parent),
            "legal_guardian" => Ok(Relationship::LegalGuardian),
            _ => Err(Reason::RelationshipInvalid),
        }
    }
}

/// The residence card section of the form. `issued_on <= expires_on` always holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResidenceCard {
    number: CardNumber,
    kind: ResidenceKind,
    #[serde(serialize_with = "dates::iso::serialize")]
    issued_on: Date,
    #[serde(serialize_with = "dates::iso::serialize")]
    expires_on: Date,
}

impl ResidenceCard {
    /// Builds a card section; refuses an expiry before the issue date.
    pub fn new(number: CardNumber, kind: ResidenceKind, issued_on: Date, expires_on: Date) -> Result<Self, Reason> {
        if expires_on < issued_on {
            return Err(Reason::DateInvalid);
        }
        Ok(ResidenceCard { number, kind, issued_on, expires_on })
    }
    /// The card number.
    pub fn number(&self) -> &CardNumber {
        &self.number
    }
    /// Temporary or permanent.
    pub fn kind(&self) -> ResidenceKind {
        self.kind
    }
    /// The issue date.
    pub fn issued_on(&self) -> Date {
        self.issued_on
    }
    /// The expiry date (the card is valid through this day).
    pub fn expires_on(&self) -> Date {
        self.expires_on
    }
}

/// The guardian of an applicant under 14.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guardian {
    full_name: PersonName,
    id_number: GuardianIdNumber,
    relationship: Relationship,
}

impl Guardian {
    /// Builds a guardian section.
    pub fn new(full_name: PersonName, id_number: GuardianIdNumber, relationship: Relationship) -> Self {
        Guardian { full_name, id_number, relationship }
    }
    /// The guardian's name as written.
    pub fn full_name(&self) -> &PersonName {
        &self.full_name
    }
    /// The guardian's identity document number (never empty).
    pub fn id_number(&self) -> &GuardianIdNumber {
        &self.id_number
    }
    /// How the guardian is related to the applicant.
    pub fn relationship(&self) -> Relationship {
        self.relationship
    }
}

// ---------------------------------------------------------------------------------------------------------
// The application

/// A TK01 application whose every field has been parsed.
///
/// Built by [`Tk01Application::from_json`] / `TryFrom<serde_json::Value>` / serde. Serializes back to the
/// same JSON shape, with normalized values (E.164 phone, uppercase document numbers, the ICAO Latin name
/// always present). Its `Debug` output shows no personal data.
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Tk01Application {
    full_name: PersonName,
    full_name_latin: LatinName,
    sex: Sex,
    #[serde(serialize_with = "dates::iso::serialize")]
    date_of_birth: Date,
    nationality: Nationality,
    passport_number: PassportNumber,
    residence_card: ResidenceCard,
    address: Address,
    phone: PhoneNumber,
    email: Email,
    reception_point: ReceptionPointId,
    guardian: Option<Guardian>,
}

impl fmt::Debug for Tk01Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tk01Application")
            .field("nationality", &self.nationality)
            .field("residence_kind", &self.residence_card.kind)
            .field("reception_point", &self.reception_point)
            .field("has_guardian", &self.guardian.is_some())
            .finish_non_exhaustive()
    }
}

/// The earliest date of birth the form accepts.
const MIN_BIRTH_YEAR: i32 = 1900;

impl Tk01Application {
    /// Parses a JSON request body. All problems are reported together in [`Error::Invalid`].
    pub fn from_json(body: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(body).map_err(|_| Error::invalid("body", Reason::JsonInvalid))?;
        Self::try_from(value)
    }

    /// Name as written (any script).
    pub fn full_name(&self) -> &PersonName {
        &self.full_name
    }
    /// ICAO 9303 Latin name (given, or derived from a Latin-script `full_name`).
    pub fn full_name_latin(&self) -> &LatinName {
        &self.full_name_latin
    }
    /// Sex.
    pub fn sex(&self) -> Sex {
        self.sex
    }
    /// Date of birth.
    pub fn date_of_birth(&self) -> Date {
        self.date_of_birth
    }
    /// Nationality (never `VNM`).
    pub fn nationality(&self) -> Nationality {
        self.nationality
    }
    /// Passport number.
    pub fn passport_number(&self) -> &PassportNumber {
        &self.passport_number
    }
    /// Residence card.
    pub fn residence_card(&self) -> &ResidenceCard {
        &self.residence_card
    }
    /// Address in Vietnam.
    pub fn address(&self) -> &Address {
        &self.address
    }
    /// Mobile number (E.164).
    pub fn phone(&self) -> &PhoneNumber {
        &self.phone
    }
    /// Email.
    pub fn email(&self) -> &Email {
        &self.email
    }
    /// Where the application was lodged.
    pub fn reception_point(&self) -> &ReceptionPointId {
        &self.reception_point
    }
    /// Guardian, for applicants under 14.
    pub fn guardian(&self) -> Option<&Guardian> {
        self.guardian.as_ref()
    }

    /// The same application with another residence card (a renewal after the registry replaced
    /// the card: same person, same contacts, the new card).
    pub fn with_residence_card(mut self, card: ResidenceCard) -> Self {
        self.residence_card = card;
        self
    }
}

const TOP_FIELDS: &[&str] = &[
    "full_name",
    "full_name_latin",
    "sex",
    "date_of_birth",
    "nationality",
    "passport_number",
    "residence_card",
    "address",
    "phone",
    "email",
    "reception_point",
    "guardian",
];
const CARD_FIELDS: &[&str] = &["number", "kind", "issued_on", "expires_on"];
const GUARDIAN_FIELDS: &[&str] = &["full_name", "id_number", "relationship"];

/// Walks one JSON object, collecting problems under a path prefix.
struct Walker<'a> {
    map: &'a Map<String, Value>,
    prefix: &'static str,
    problems: Vec<FieldProblem>,
}

impl<'a> Walker<'a> {
    fn new(map: &'a Map<String, Value>, prefix: &'static str, known: &[&str]) -> Self {
        let mut w = Walker { map, prefix, problems: Vec::new() };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                w.problem(key, Reason::FieldUnknown);
            }
        }
        w
    }

    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn problem(&mut self, key: &str, reason: Reason) {
        let field = self.path(key);
        self.problems.push(FieldProblem::new(field, reason));
    }

    /// The value if present and not `null`.
    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional text field: absent, `null` or blank is `None`. Text with invisible format
    /// characters (bidi controls, zero-width characters) is refused for every field, before the
    /// field's own rule ([`crate::text`]).
    fn opt_str(&mut self, key: &str) -> Option<&'a str> {
        match self.present(key) {
            None => None,
            Some(Value::String(s)) if crate::text::has_format_characters(s) => {
                self.problem(key, Reason::FormatCharacters);
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.problem(key, Reason::FieldTypeInvalid);
                None
            }
        }
    }

    /// A required text field.
    fn req_str(&mut self, key: &str) -> Option<&'a str> {
        // A wrong type or format characters are reported by `opt_str` already.
        let reported = self.present(key).is_some_and(|v| v.as_str().is_none_or(crate::text::has_format_characters));
        let s = self.opt_str(key);
        if s.is_none() && !reported {
            self.problem(key, Reason::FieldMissing);
        }
        s
    }

    /// A required field parsed through `FromStr`.
    fn req<T: FromStr<Err = Reason>>(&mut self, key: &str) -> Option<T> {
        let s = self.req_str(key)?;
        self.parse(key, s)
    }

    fn parse<T: FromStr<Err = Reason>>(&mut self, key: &str, s: &str) -> Option<T> {
        match s.parse() {
            Ok(v) => Some(v),
            Err(reason) => {
                self.problem(key, reason);
                None
            }
        }
    }

    fn req_date(&mut self, key: &str) -> Option<Date> {
        let s = self.req_str(key)?;
        let d = dates::parse(s);
        if d.is_none() {
            self.problem(key, Reason::DateInvalid);
        }
        d
    }

    /// A nested object; `Ok(None)` when absent or null.
    fn opt_object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.present(key) {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                self.problem(key, Reason::FieldTypeInvalid);
                None
            }
        }
    }
}

fn parse_card(map: &Map<String, Value>, problems: &mut Vec<FieldProblem>) -> Option<ResidenceCard> {
    let mut w = Walker::new(map, "residence_card.", CARD_FIELDS);
    let number = w.req::<CardNumber>("number");
    let kind = w.req::<ResidenceKind>("kind");
    let issued_on = w.req_date("issued_on");
    let expires_on = w.req_date("expires_on");
    let card = match (number, kind, issued_on, expires_on) {
        (Some(n), Some(k), Some(i), Some(e)) => match ResidenceCard::new(n, k, i, e) {
            Ok(card) => Some(card),
            Err(reason) => {
                w.problem("expires_on", reason);
                None
            }
        },
        _ => None,
    };
    problems.append(&mut w.problems);
    card
}

fn parse_guardian(map: &Map<String, Value>, problems: &mut Vec<FieldProblem>) -> Option<Guardian> {
    let mut w = Walker::new(map, "guardian.", GUARDIAN_FIELDS);
    let full_name = w.req::<PersonName>("full_name");
    let id_number = w.req::<GuardianIdNumber>("id_number");
    let relationship = w.req::<Relationship>("relationship");
    problems.append(&mut w.problems);
    Some(Guardian::new(full_name?, id_number?, relationship?))
}

impl TryFrom<Value> for Tk01Application {
    type Error = Error;

    fn try_from(value: Value) -> Result<Self, Error> {
        let Value::Object(map) = &value else {
            return Err(Error::invalid("body", Reason::JsonInvalid));
        };
        let mut w = Walker::new(map, "", TOP_FIELDS);

        let full_name = w.req::<PersonName>("full_name");
        let latin_given = w.opt_str("full_name_latin");
        let sex = w.req::<Sex>("sex");
        let date_of_birth = w.req_date("date_of_birth");
        if date_of_birth.is_some_and(|d| d.year() < MIN_BIRTH_YEAR) {
            w.problem("date_of_birth", Reason::DateInvalid);
        }
        let nationality = w.req::<Nationality>("nationality");
        let passport_number = w.req::<PassportNumber>("passport_number");
        let mut nested = Vec::new();
        let residence_card = match w.opt_object("residence_card") {
            Some(m) => parse_card(m, &mut nested),
            None => {
                if w.present("residence_card").is_none() {
                    w.problem("residence_card", Reason::FieldMissing);
                }
                None
            }
        };
        w.problems.append(&mut nested);
        let address = w.req::<Address>("address");
        let phone = w.req::<PhoneNumber>("phone");
        let email = w.req::<Email>("email");
        let reception_point = w.req::<ReceptionPointId>("reception_point");
        let guardian = match w.opt_object("guardian") {
            Some(m) => {
                let g = parse_guardian(m, &mut nested);
                w.problems.append(&mut nested);
                g
            }
            None => None,
        };

        // The Latin name: as given (normalized to ICAO form), else derived from a Latin-script name.
        let full_name_latin = match latin_given {
            Some(s) => w.parse::<LatinName>("full_name_latin", s),
            None => match full_name.as_ref().map(|n| n.as_str().parse::<LatinName>()) {
                Some(Ok(latin)) => Some(latin),
                // A non-Latin name: the applicant must write the passport's Latin name (unless
                // the one given was refused already).
                Some(Err(_)) => {
                    let refused = w
                        .present("full_name_latin")
                        .and_then(Value::as_str)
                        .is_some_and(crate::text::has_format_characters);
                    if !refused {
                        w.problem("full_name_latin", Reason::FieldMissing);
                    }
                    None
                }
                // full_name itself is already reported.
                None => None,
            },
        };

        let problems = std::mem::take(&mut w.problems);
        match (
            full_name,
            full_name_latin,
            sex,
            date_of_birth,
            nationality,
            passport_number,
            residence_card,
            address,
            phone,
            email,
            reception_point,
        ) {
            (
                Some(full_name),
                Some(full_name_latin),
                Some(sex),
                Some(date_of_birth),
                Some(nationality),
                Some(passport_number),
                Some(residence_card),
                Some(address),
                Some(phone),
                Some(email),
                Some(reception_point),
            ) if problems.is_empty() => Ok(Tk01Application {
                full_name,
                full_name_latin,
                sex,
                date_of_birth,
                nationality,
                passport_number,
                residence_card,
                address,
                phone,
                email,
                reception_point,
                guardian,
            }),
            _ => Err(Error::Invalid {
                problems: if problems.is_empty() {
                    // Unreachable in practice: every `None` above pushed a problem. Kept so that a
                    // future field cannot silently produce an empty list.
                    vec![FieldProblem::new("body", Reason::FieldMissing)]
                } else {
                    problems
                },
            }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    /// The demo applicant, Kim Min-jun.
    pub(crate) fn kim_json() -> Value {
        json!({
            "full_name": "김민준",
            "full_name_latin": "Kim Min-jun",
            "sex": "M",
            "date_of_birth": "1990-04-12",
            "nationality": "KOR",
            "passport_number": "M12345678",
            "residence_card": {"number": "TRC0012345", "kind": "temporary",
                               "issued_on": "2024-07-01", "expires_on": "2028-06-30"},
            "address": "Số 12 phố Kim Mã, phường Ngọc Hà, Hà Nội",
            "phone": "0912 345 678",
            "email": "minjun.kim@Example.COM",
            "reception_point": "hn-ba-dinh-police"
        })
    }

    pub(crate) fn kim() -> Tk01Application {
        Tk01Application::try_from(kim_json()).unwrap()
    }

    fn problems_of(v: Value) -> Vec<(String, &'static str)> {
        match Tk01Application::try_from(v) {
            Err(Error::Invalid { problems }) => problems.into_iter().map(|p| (p.field, p.reason.code())).collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_normalizes_the_demo_applicant() {
        let app = kim();
        assert_eq!(app.full_name().as_str(), "김민준");
        assert_eq!(app.full_name_latin().as_str(), "KIM MIN JUN");
        assert_eq!(app.phone().as_str(), "+84912345678");
        assert_eq!(app.email().as_str(), "minjun.kim@example.com");
        assert_eq!(app.nationality().code(), "KOR");
        assert_eq!(app.residence_card().kind(), ResidenceKind::Temporary);
        assert_eq!(app.residence_card().expires_on(), date!(2028 - 06 - 30));
        assert_eq!(app.date_of_birth(), date!(1990 - 04 - 12));
        assert!(app.guardian().is_none());
    }

    #[test]
    fn serializes_back_and_round_trips_through_serde() {
        let app = kim();
        let json = serde_json::to_value(&app).unwrap();
        assert_eq!(json["full_name_latin"], "KIM MIN JUN");
        assert_eq!(json["date_of_birth"], "1990-04-12");
        assert_eq!(json["residence_card"]["kind"], "temporary");
        assert_eq!(json["residence_card"]["expires_on"], "2028-06-30");
        assert_eq!(json["guardian"], Value::Null);
        let back: Tk01Application = serde_json::from_value(json).unwrap();
        assert_eq!(back, app);
    }

    #[test]
    fn debug_shows_no_personal_data() {
        let app = kim();
        let dbg = format!("{app:?} {:?} {:?}", app.full_name(), app.phone());
        for secret in ["김민준", "KIM", "M12345678", "TRC0012345", "912345678", "minjun", "Kim Mã"] {
            assert!(!dbg.contains(secret), "{secret} leaked in {dbg}");
        }
    }

    #[test]
    fn latin_name_is_derived_from_a_latin_full_name_and_required_otherwise() {
        let mut v = kim_json();
        v["full_name"] = json!("Thomas Müller");
        v["full_name_latin"] = Value::Null;
        v["nationality"] = json!("DEU");
        let app = Tk01Application::try_from(v).unwrap();
        assert_eq!(app.full_name_latin().as_str(), "THOMAS MUELLER");

        let mut v = kim_json();
        v.as_object_mut().unwrap().remove("full_name_latin");
        assert_eq!(problems_of(v), vec![("full_name_latin".to_owned(), "field_missing")]);
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn field_problems_table() {
        // (field path to set, value, expected problems)
        let cases: Vec<(&str, Value, Vec<(&str, &str)>)> = vec![
            ("full_name", json!(""), vec![("full_name", "field_missing")]),
            ("full_name", json!(42), vec![("full_name", "field_type_invalid")]),
            ("full_name", json!("R2-D2"), vec![("full_name", "name_invalid")]),
            ("full_name", json!("a\nb"), vec![("full_name", "name_invalid")]),
            ("full_name_latin", json!("金"), vec![("full_name_latin", "name_invalid")]),
            ("sex", json!("male"), vec![("sex", "sex_invalid")]),
            ("date_of_birth", json!("1990-02-30"), vec![("date_of_birth", "date_invalid")]),
            ("date_of_birth", json!("12/04/1990"), vec![("date_of_birth", "date_invalid")]),
            ("date_of_birth", json!("1899-12-31"), vec![("date_of_birth", "date_invalid")]),
            ("nationality", json!("VNM"), vec![("nationality", "nationality_invalid")]),
            ("nationality", json!("XYZ"), vec![("nationality", "nationality_invalid")]),
            ("nationality", json!("KR"), vec![("nationality", "nationality_invalid")]),
            ("passport_number", json!("M123"), vec![("passport_number", "passport_number_invalid")]),
            ("passport_number", json!("M 12345678"), vec![("passport_number", "passport_number_invalid")]),
            ("residence_card", json!("TRC0012345"), vec![("residence_card", "field_type_invalid")]),
            ("residence_card", Value::Null, vec![("residence_card", "field_missing")]),
            ("address", json!(" "), vec![("address", "field_missing")]),
            ("address", json!("x".repeat(301)), vec![("address", "address_invalid")]),
            ("phone", json!("0212345678"), vec![("phone", "phone_invalid")]),
            ("phone", json!("+1 202 555 0100"), vec![("phone", "phone_invalid")]),
            ("email", json!("a@b"), vec![("email", "email_invalid")]),
            ("email", json!("a b@c.vn"), vec![("email", "email_invalid")]),
            ("email", json!("a@@c.vn"), vec![("email", "email_invalid")]),
            ("email", json!("minjun.kim@example.comİ"), vec![("email", "email_invalid")]),
            ("reception_point", json!("HN Ba Dinh"), vec![("reception_point", "reception_point_invalid")]),
            ("guardian", json!("mom"), vec![("guardian", "field_type_invalid")]),
            ("nickname", json!("Minjun"), vec![("nickname", "field_unknown")]),
            // Invisible format characters, in any text field, whatever its own rule.
            ("address", json!("Số 12 \u{202E}iaiG uệiL"), vec![("address", "format_characters")]),
            ("email", json!("min\u{200B}jun@example.com"), vec![("email", "format_characters")]),
            ("full_name", json!("김민\u{2066}준"), vec![("full_name", "format_characters")]),
            ("full_name_latin", json!("KIM\u{200D} MIN JUN"), vec![("full_name_latin", "format_characters")]),
            ("phone", json!("0912\u{FEFF}345678"), vec![("phone", "format_characters")]),
            ("passport_number", json!("\u{2028}"), vec![("passport_number", "format_characters")]),
        ];
        for (field, value, want) in cases {
            let mut v = kim_json();
            v[field] = value.clone();
            let want: Vec<(String, &str)> = want.into_iter().map(|(f, r)| (f.to_owned(), r)).collect();
            assert_eq!(problems_of(v), want, "{field} = {value}");
        }
    }

    #[test]
    fn nested_problems_have_dotted_paths_and_are_all_reported() {
        let mut v = kim_json();
        v["residence_card"] = json!({"number": "T1", "kind": "visa", "issued_on": "2024-07-01",
                                      "expires_on": "2028-06-31", "color": "blue"});
        v["guardian"] = json!({"full_name": "Kim Ji-woo", "id_number": "", "relationship": "uncle"});
        v["phone"] = json!("123");
        assert_eq!(
            problems_of(v),
            vec![
                ("residence_card.color".to_owned(), "field_unknown"),
                ("residence_card.number".to_owned(), "card_number_invalid"),
                ("residence_card.kind".to_owned(), "residence_kind_invalid"),
                ("residence_card.expires_on".to_owned(), "date_invalid"),
                ("phone".to_owned(), "phone_invalid"),
                ("guardian.id_number".to_owned(), "field_missing"),
                ("guardian.relationship".to_owned(), "relationship_invalid"),
            ]
        );
    }

    #[test]
    fn card_expiring_before_issue_is_refused() {
        let mut v = kim_json();
        v["residence_card"]["expires_on"] = json!("2024-06-30");
        assert_eq!(problems_of(v), vec![("residence_card.expires_on".to_owned(), "date_invalid")]);
    }

    #[test]
    fn non_object_bodies_are_json_invalid() {
        for body in ["", "[]", "\"x\"", "{", "null"] {
            let err = Tk01Application::from_json(body).unwrap_err();
            assert_eq!(err.reasons(), vec![Reason::JsonInvalid], "{body:?}");
        }
    }

    #[test]
    fn phone_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("0912345678", Some("+84912345678")),
            ("0912 345 678", Some("+84912345678")),
            ("091.234.5678", Some("+84912345678")),
            ("+84 912 345 678", Some("+84912345678")),
            ("+84912345678", Some("+84912345678")),
            ("84912345678", Some("+84912345678")),
            ("(+84) 38-123-4567", Some("+84381234567")),
            ("0351234567", Some("+84351234567")),
            ("0561234567", Some("+84561234567")),
            ("0701234567", Some("+84701234567")),
            ("0861234567", Some("+84861234567")),
            ("0241234567", None),  // Hanoi landline prefix 024 is not mobile
            ("02412345678", None), // landline, 11 digits
            ("0112345678", None),
            ("091234567", None),
            ("09123456789", None),
            ("+8491234567", None),
            ("+840912345678", None),
            ("849123456789", None),
            ("912345678", None),
            ("0912345a78", None),
            ("+1 202 555 0100", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<PhoneNumber>().ok().as_ref().map(PhoneNumber::as_str), *want, "{input:?}");
        }
    }

    #[test]
    fn email_table() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_total = format!("a@{}.com", "b".repeat(250));
        let cases: &[(&str, Option<&str>)] = &[
            ("minjun.kim@example.com", Some("minjun.kim@example.com")),
            ("Anna+vn@Mail.Example.DE", Some("Anna+vn@mail.example.de")),
            (" x@y.vn ", Some("x@y.vn")),
            ("user@bücher.de", Some("user@bücher.de")),
            ("a@b", None),
            ("@b.vn", None),
            ("a@.vn", None),
            ("a@b..vn", None),
            ("a@b.vn.", None),
            ("a@-b.vn", None),
            ("a@b@c.vn", None),
            ("a b@c.vn", None),
            ("a<b>@c.vn", None),
            (".a@c.vn", None),
            ("a..b@c.vn", None),
            ("abc", None),
            (&long_local, None),
            (&long_total, None),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Email>().ok().as_ref().map(Email::as_str), *want, "{input:?}");
        }
    }

    #[test]
    fn nationality_list_is_sorted_unique_and_complete() {
        assert_eq!(ISO_3166_ALPHA3.len(), 249);
        assert!(ISO_3166_ALPHA3.windows(2).all(|w| w[0] < w[1]));
        for code in ["KOR", "CHN", "JPN", "USA", "DEU", "FRA", "TWN", "PSE", "SSD", "ALA", "BES"] {
            assert_eq!(code.parse::<Nationality>().unwrap().code(), code);
        }
        assert_eq!("kor".parse::<Nationality>().unwrap().code(), "KOR");
        for bad in ["VNM", "vnm", "D", "GBD", "XXA", "UNK", "ZZZ", "KORE", ""] {
            assert_eq!(bad.parse::<Nationality>(), Err(Reason::NationalityInvalid), "{bad}");
        }
    }

    #[test]
    fn document_number_and_name_tables() {
        assert_eq!("m12345678".parse::<PassportNumber>().unwrap().as_str(), "M12345678");
        assert!("E1234".parse::<PassportNumber>().is_ok());
        assert!("A".repeat(21).parse::<PassportNumber>().is_err());
        assert!("M1234567-8".parse::<PassportNumber>().is_err());
        assert_eq!("trc0012345".parse::<CardNumber>().unwrap().as_str(), "TRC0012345");
        assert!("TRCABC".parse::<CardNumber>().is_err(), "needs a digit");
        assert!("12345".parse::<CardNumber>().is_err());
        assert!("TT-12345".parse::<CardNumber>().is_err());
        for ok in ["김민준", "王小明", "Nguyễn Thị Mai Anh", "Jean-Luc O'Neill", "山田・太郎", "Zoë"] {
            assert!(ok.parse::<PersonName>().is_ok(), "{ok}");
        }
        for bad in ["", "   ", "---", "Agent 47", "a\tb", &"a".repeat(151)] {
            assert!(bad.parse::<PersonName>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "KIM MINJUN".parse::<LatinName>().unwrap().compact(),
            "Kim Min-jun".parse::<LatinName>().unwrap().compact()
        );
        for ok in ["hn-ba-dinh-police", "hcm-kcn-tan-thuan", "bn-vsip-2"] {
            assert!(ok.parse::<ReceptionPointId>().is_ok(), "{ok}");
        }
        for bad in ["hn", "-hn-police", "hn--police", "hn_police", "HN-POLICE", "hn-police-"] {
            assert!(bad.parse::<ReceptionPointId>().is_err(), "{bad}");
        }
    }
}
