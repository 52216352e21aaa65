//! Reading an applicant's record, audited: who read it and why.
//!
//! - An officer reads the records of their own reception point; every read is written to the
//!   audit log (`application.read`, the officer's token id, the application, and the reason:
//!   the one given, or `case-work`), before the record is returned: a read the log cannot record
//!   does not happen.
//! - An admin gets a record **redacted** (the state, dates, reception point, credential id and
//!   history; no form, biometrics, national-check answer, e-ID number or note) unless the admin
//!   gives a reason, which is audited like an officer's read, and then gets it whole.
//!
//! A reason is 3 to 200 characters of text without control or invisible format characters; it
//! is staff's own words, kept in the audit log, so it must not carry applicants' personal data
//! (docs/operations.md says so).

use serde::Serialize;

use super::enroll::{ApplicationView, Lookup};
use super::{Principal, Result, Service, ServiceError};
use crate::ids::ApplicationId;
use crate::store::{AppMeta, AuditEntry, Role};

/// What the reader gets.
#[derive(Debug, Clone)]
pub enum Record {
    Full(Box<ApplicationView>),
    Redacted(Redacted),
}

/// An application without the applicant's personal data.
#[derive(Debug, Clone, Serialize)]
pub struct Redacted {
    pub id: ApplicationId,
    pub version: u64,
    pub meta: AppMeta,
    pub due_on: verifier::Date,
    pub biometrics_on_file: bool,
    pub history: Vec<enrollment::workflow::HistoryEntry>,
}

/// The reason a reader gave, checked.
fn reason_of(raw: Option<&str>) -> Result<Option<String>> {
    let Some(r) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    if enrollment::text::has_format_characters(r) {
        return Err(ServiceError::field("format_characters", "reason"));
    }
    let n = r.chars().count();
    if !(3..=200).contains(&n) || r.chars().any(char::is_control) {
        return Err(ServiceError::field("field_invalid", "reason"));
    }
    Ok(Some(r.to_owned()))
}

impl Service {
    async fn audit_read(&self, who: &Principal, id: &ApplicationId, why: &str) -> Result<()> {
        let audit = AuditEntry::new(self.now(), who.id.as_str(), "application.read", id.as_str(), Some(why.to_owned()));
        self.store.append_audit(audit).await?;
        Ok(())
    }

    /// An application as staff may see it (see the module docs).
    pub async fn read_application(&self, who: &Principal, id: &ApplicationId, reason: Option<&str>) -> Result<Record> {
        let reason = reason_of(reason)?;
        let view = self.application(who, id).await?;
        match (who.role, reason) {
            (Role::Admin, None) => Ok(Record::Redacted(Redacted {
                id: view.id,
                version: view.version,
                due_on: view.record.due_on,
                biometrics_on_file: view.record.biometrics_on_file,
                history: view.record.workflow.history().to_vec(),
                meta: view.meta,
            })),
            (_, reason) => {
                let why = format!("reason={}", reason.as_deref().unwrap_or("case-work"));
                self.audit_read(who, id, &why).await?;
                Ok(Record::Full(Box::new(view)))
            }
        }
    }

    /// [`Service::lookup`], audited as a read.
    pub async fn lookup_audited(&self, who: &Principal, by: &Lookup) -> Result<ApplicationView> {
        let view = self.lookup(who, by).await?;
        self.audit_read(who, &view.id, "via=lookup").await?;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_short_plain_text() {
        assert_eq!(reason_of(None).ok(), Some(None));
        assert_eq!(reason_of(Some("  ")).ok(), Some(None));
        assert_eq!(reason_of(Some("complaint #4711")).ok(), Some(Some("complaint #4711".into())));
        assert!(reason_of(Some("ok")).is_err());
        assert!(reason_of(Some(&"x".repeat(201))).is_err());
        assert!(reason_of(Some("audit\u{202E}tixe")).is_err());
        assert!(reason_of(Some("line\nbreak")).is_err());
    }
}
