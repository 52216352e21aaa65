//! The service's bridge to the `enrollment` rules: conversions between its types and ours
//! (dates, reasons), and the few compositions the use cases need. No rule is decided here: the
//! workflow, eligibility, deadlines and biometric checks all live in `enrollment`.

use enrollment::biometrics::{Fingerprint, FingerprintSet, Portrait};
use enrollment::deadline::HolidayCalendar;
use enrollment::registry::{NationalRegistry, RegistryQuery};
use enrollment::reports::ApplicationSummary;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use verifier::build::qr::{CardKind, PersonClaims, Sex};

use crate::ids::ApplicationId;
use crate::service::error::Reason;
use crate::store::AppMeta;

pub type Form = enrollment::tk01::Tk01Application;

const JULIAN_EPOCH: i64 = 2_440_588;

pub fn to_time(d: verifier::Date) -> time::Date {
    time::Date::from_julian_day((d.days() + JULIAN_EPOCH) as i32).unwrap_or(time::Date::MIN)
}

pub fn from_time(d: time::Date) -> verifier::Date {
    verifier::Date::from_days(i64::from(d.to_julian_day()) - JULIAN_EPOCH)
        .unwrap_or_else(|| verifier::Date::from_unix_vn(0))
}

fn reason(r: enrollment::Reason) -> Reason {
    Reason::new(r.code())
}

fn refusal(e: enrollment::Error) -> Vec<Reason> {
    match e {
        enrollment::Error::Invalid { problems } => {
            problems.into_iter().map(|p| reason(p.reason).arg("field", p.field)).collect()
        }
        other => other.reasons().into_iter().map(reason).collect(),
    }
}

pub fn reception_point(form: &Form) -> &str {
    form.reception_point().as_ref()
}

/// Parses a TK01 request body; every problem comes back with its field and code (a body that is
/// not JSON at all is `json_invalid`).
pub fn parse_form(body: &[u8]) -> Result<Form, Vec<Reason>> {
    let text = std::str::from_utf8(body).map_err(|_| vec![reason(enrollment::Reason::JsonInvalid)])?;
    Form::from_json(text).map_err(refusal)
}

/// Blind-index inputs identifying a person: passport with nationality, and residence card.
pub fn identity_keys(form: &Form) -> Vec<(&'static str, String)> {
    vec![
        ("passport", format!("{}:{}", form.nationality().code(), form.passport_number().as_ref())),
        ("card", form.residence_card().number().as_ref().to_owned()),
    ]
}

pub fn eligibility(form: &Form, today: verifier::Date, holds_active: bool) -> Result<(), Vec<Reason>> {
    enrollment::eligibility::check(form, to_time(today), holds_active)
        .map_err(|rs| rs.into_iter().map(reason).collect())
}

pub fn biometrics_on_file(registry: &dyn NationalRegistry, form: &Form, today: verifier::Date) -> bool {
    registry.check(&RegistryQuery::from_application(form, to_time(today))).biometrics_on_file
}

pub fn due_date(today: verifier::Date, on_file: bool, cal: &HolidayCalendar) -> verifier::Date {
    from_time(enrollment::deadline::due_date(to_time(today), on_file, cal))
}

/// What the biometric upload keeps in clear (digests and quality), and where the sealed file is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BiometricSummary {
    pub slot: String,
    pub format: String,
    pub size: usize,
    pub sha256: String,
    pub quality: u8,
}

/// A checked upload, ready to be sealed.
pub struct Captured {
    pub slot: String,
    pub bytes: Vec<u8>,
    pub summary: BiometricSummary,
}

impl Captured {
    #[cfg(test)]
    pub(crate) fn for_test(slot: &str, bytes: Vec<u8>) -> Self {
        let summary = BiometricSummary {
            slot: slot.into(),
            format: "png".into(),
            size: bytes.len(),
            sha256: String::new(),
            quality: 80,
        };
        Self { slot: slot.into(), bytes, summary }
    }
}

impl std::fmt::Debug for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captured").field("slot", &self.slot).field("size", &self.bytes.len()).finish()
    }
}

/// Checks the multipart upload: `portrait` and `fingerprint_<1..10>` files with `<name>_quality`
/// fields (0..=100, from the capture station).
pub fn check_biometrics(
    files: &[(String, Vec<u8>)],
    fields: &[(String, String)],
) -> Result<Vec<Captured>, Vec<Reason>> {
    let quality = |name: &str| -> i64 {
        let key = format!("{name}_quality");
        fields.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.trim().parse().ok()).unwrap_or(-1)
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut portrait = None;
    let mut prints = Vec::new();
    for (name, bytes) in files {
        if name == "portrait" {
            match Portrait::new(bytes.clone(), quality(name)) {
                Ok(p) => portrait = Some(p),
                Err(e) => problems.extend(refusal(e).into_iter().map(|r| r.arg("field", name.clone()))),
            }
        } else if let Some(pos) = name.strip_prefix("fingerprint_").and_then(|p| p.parse::<i64>().ok()) {
            match Fingerprint::new(pos, bytes.clone(), quality(name)) {
                Ok(f) => prints.push(f),
                Err(e) => problems.extend(refusal(e).into_iter().map(|r| r.arg("field", name.clone()))),
            }
        } else {
            problems.push(Reason::new(enrollment::Reason::BiometricTypeInvalid.code()).arg("field", name.clone()));
        }
    }
    if portrait.is_none() && problems.is_empty() {
        problems.push(Reason::new(enrollment::Reason::FieldMissing.code()).arg("field", "portrait"));
    }
    let set = match FingerprintSet::try_from(prints) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.extend(refusal(e));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Some(p) = portrait {
        out.push(Captured {
            slot: "portrait".into(),
            summary: BiometricSummary {
                slot: "portrait".into(),
                format: format!("{:?}", p.format()).to_lowercase(),
                size: p.bytes().len(),
                sha256: p.digest().to_string(),
                quality: p.quality().value(),
            },
            bytes: p.bytes().to_vec(),
        });
    }
    for f in set.iter().flat_map(|s| s.as_slice()) {
        let slot = format!("fingerprint_{}", f.position().code());
        out.push(Captured {
            summary: BiometricSummary {
                slot: slot.clone(),
                format: format!("{:?}", f.format()).to_lowercase(),
                size: f.bytes().len(),
                sha256: f.digest().to_string(),
                quality: f.quality().value(),
            },
            slot,
            bytes: f.bytes().to_vec(),
        });
    }
    Ok(out)
}

/// The national-data check's outcome.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Value,
    pub biometrics_on_file: bool,
    pub reasons: Vec<Reason>,
}

pub fn national_check(registry: &dyn NationalRegistry, form: &Form, today: verifier::Date) -> Outcome {
    let a = registry.check(&RegistryQuery::from_application(form, to_time(today)));
    let mut reasons: Vec<Reason> = a.mismatches.iter().copied().map(reason).collect();
    if reasons.is_empty() && !a.is_clear() {
        let r = if !a.person_found { enrollment::Reason::PersonNotFound } else { enrollment::Reason::CardNotFound };
        reasons.push(reason(r));
    }
    Outcome {
        summary: serde_json::to_value(&a).unwrap_or(Value::Null),
        biometrics_on_file: a.biometrics_on_file,
        reasons,
    }
}

/// Every claim the credential can carry, from the approved form.
pub fn person_claims(form: &Form, eid: Option<&str>, today: verifier::Date) -> PersonClaims {
    let card = form.residence_card();
    let age = enrollment::eligibility::age_on(form.date_of_birth(), to_time(today));
    PersonClaims {
        name: Some(form.full_name().as_ref().to_owned()),
        name_latin: Some(form.full_name_latin().as_ref().to_owned()),
        birth_date: Some(from_time(form.date_of_birth())),
        sex: Some(match form.sex() {
            enrollment::tk01::Sex::M => Sex::M,
            enrollment::tk01::Sex::F => Sex::F,
            _ => Sex::X,
        }),
        nationality: Some(form.nationality().code().to_owned()),
        passport_number: Some(form.passport_number().as_ref().to_owned()),
        residence_card_number: Some(card.number().as_ref().to_owned()),
        residence_card_kind: Some(match card.kind() {
            enrollment::tk01::ResidenceKind::Permanent => CardKind::Permanent,
            _ => CardKind::Temporary,
        }),
        residence_card_expiry: Some(from_time(card.expires_on())),
        address: Some(form.address().as_ref().to_owned()),
        eid_number: eid.map(str::to_owned),
        age_over_18: Some(age >= 18),
        shortened: Vec::new(),
    }
}

fn summaries(rows: &[(ApplicationId, AppMeta)]) -> Vec<ApplicationSummary> {
    rows.iter()
        .filter_map(|(id, m)| {
            Some(ApplicationSummary {
                id: id.to_string(),
                reception_point: m.reception_point.parse().ok()?,
                submitted_on: to_time(m.submitted_on),
                due_on: to_time(m.due_on),
                status: m.state,
            })
        })
        .collect()
}

pub fn deadline_report(rows: &[(ApplicationId, AppMeta)], today: verifier::Date, soon_days: u32) -> Value {
    let backlog = enrollment::reports::overdue_and_due_soon(&summaries(rows), to_time(today), soon_days);
    json!({"today": today, "soon_days": soon_days, "points": backlog})
}

pub fn daily_counts(rows: &[(ApplicationId, AppMeta)]) -> Value {
    json!({"counts": enrollment::reports::counts_per_point_per_day(&summaries(rows))})
}
