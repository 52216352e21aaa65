//! The life of an application: `submitted → biometrics_captured → data_checked → approved → issued`, or
//! `rejected` from any step before approval.
//!
//! Why a state enum and not typestate: the issuer loads an application from storage and must dispatch on
//! whatever state it finds, so the state is a run-time value anyway. [`Status::transition`] is the single
//! pure rule; [`Application::apply`] applies it and keeps the history. Every refusal has a stable code:
//!
//! * a step that needs an earlier one first → `application_not_ready` (approve before the data check);
//! * any action once `rejected` or `issued` → `application_closed`;
//! * a step already done, or an earlier one → `step_already_done`;
//! * an action dated before the last recorded change → `event_time_invalid` (clocks must not run
//!   backwards in an audit trail).
//!
//! Time and actor are inputs: the crate never reads the clock.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;

use crate::newtype::string_newtype;
use crate::{Error, Reason};

/// Where an application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Form received at a reception point.
    Submitted,
    /// Portrait and fingerprints captured.
    BiometricsCaptured,
    /// National registries checked.
    DataChecked,
    /// Approved; the credential can be issued.
    Approved,
    /// Rejected (closed).
    Rejected,
    /// Credential issued to the wallet (closed).
    Issued,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: &'static [Status] = &[
        Status::Submitted,
        Status::BiometricsCaptured,
        Status::DataChecked,
        Status::Approved,
        Status::Rejected,
        Status::Issued,
    ];

    /// The stable snake_case name.
    pub const fn code(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::BiometricsCaptured => "biometrics_captured",
            Status::DataChecked => "data_checked",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Issued => "issued",
        }
    }

    /// The Fluent message id: `status-` and the code with `-` for `_`.
    pub fn message_id(self) -> String {
        format!("status-{}", self.code().replace('_', "-"))
    }

    /// True once nothing more can happen (rejected or issued).
    pub const fn is_closed(self) -> bool {
        matches!(self, Status::Rejected | Status::Issued)
    }

    /// True while the authority still owes a decision (the deadline runs).
    pub const fn awaits_decision(self) -> bool {
        matches!(self, Status::Submitted | Status::BiometricsCaptured | Status::DataChecked)
    }

    /// Position on the main line, for "too early" versus "already done".
    const fn rank(self) -> u8 {
        match self {
            Status::Submitted => 0,
            Status::BiometricsCaptured => 1,
            Status::DataChecked => 2,
            Status::Approved => 3,
            Status::Rejected | Status::Issued => 4,
        }
    }

    /// The state `action` leads to from `self`, or why it may not happen now.
    pub fn transition(self, action: &Action) -> Result<Status, Error> {
        let refuse = |reason| Error::Workflow { from: self, reason };
        if self.is_closed() {
            return Err(refuse(Reason::ApplicationClosed));
        }
        match action {
            // A new capture before the data check replaces the earlier one (a blurred portrait,
            // a finger scanned again): the state stays, the history records it.
            Action::CaptureBiometrics if self == Status::BiometricsCaptured => Ok(Status::BiometricsCaptured),
            Action::Reject { .. } => {
                if self.awaits_decision() {
                    Ok(Status::Rejected)
                } else {
                    // Approved: the decision is taken; revoking an issued credential is another process.
                    Err(refuse(Reason::StepAlreadyDone))
                }
            }
            _ => {
                let to = action.target();
                let (have, want) = (self.rank(), to.rank());
                if want == have + 1 {
                    Ok(to)
                } else if want > have {
                    Err(refuse(Reason::ApplicationNotReady))
                } else {
                    Err(refuse(Reason::StepAlreadyDone))
                }
            }
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Status {
    type Err = Reason;
    fn from_str(s: &str) -> Result<Self, Reason> {
        Status::ALL.iter().copied().find(|st| st.code() == s).ok_or(Reason::FieldUnknown)
    }
}

fn parse_officer_id(s: &str) -> Result<String, Reason> {
    let ok =
        (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Reason::ActorInvalid)
    }
}

/// Who acted: an officer's id (or a service account such as `issuer`), 1–64 characters
/// `A–Z a–z 0–9 . _ -`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OfficerId(String);
string_newtype!(OfficerId, parse_officer_id, public);

/// What an officer (or the issuer) does to an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Portrait and fingerprints were captured.
    CaptureBiometrics,
    /// The national registries were checked and agreed.
    CheckData,
    /// The application is approved.
    Approve,
    /// The application is rejected, for a reason the applicant will be told.
    Reject {
        /// Why.
        reason: Reason,
    },
    /// The credential was issued.
    Issue,
}

impl Action {
    fn target(&self) -> Status {
        match self {
            Action::CaptureBiometrics => Status::BiometricsCaptured,
            Action::CheckData => Status::DataChecked,
            Action::Approve => Status::Approved,
            Action::Reject { .. } => Status::Rejected,
            Action::Issue => Status::Issued,
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    /// State before.
    pub from: Status,
    /// State after.
    pub to: Status,
    /// Who acted.
    pub actor: OfficerId,
    /// When (as given by the caller's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The rejection reason, for rejections.
    pub reason: Option<Reason>,
}

/// An application's state with its history. The history is append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Application {
    status: Status,
    #[serde(with = "time::serde::rfc3339")]
    submitted_at: OffsetDateTime,
    history: Vec<HistoryEntry>,
}

impl Application {
    /// A newly submitted application.
    pub fn submitted(at: OffsetDateTime) -> Self {
        Application { status: Status::Submitted, submitted_at: at, history: Vec::new() }
    }

    /// The current state.
    pub fn status(&self) -> Status {
        self.status
    }

    /// When it was submitted.
    pub fn submitted_at(&self) -> OffsetDateTime {
        self.submitted_at
    }

    /// Every change so far, oldest first.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    /// The time of the last change (or of submission).
    pub fn last_changed_at(&self) -> OffsetDateTime {
        self.history.last().map_or(self.submitted_at, |h| h.at)
    }

    /// What `action` would lead to, without changing anything.
    pub fn transition(&self, action: &Action, at: OffsetDateTime) -> Result<Status, Error> {
        let to = self.status.transition(action)?;
        if at < self.last_changed_at() {
            return Err(Error::Workflow { from: self.status, reason: Reason::EventTimeInvalid });
        }
        Ok(to)
    }

    /// Applies `action` by `actor` at `at`, records it, and returns the entry to write to the audit log.
    pub fn apply(&mut self, action: Action, actor: OfficerId, at: OffsetDateTime) -> Result<&HistoryEntry, Error> {
        let to = self.transition(&action, at)?;
        let reason = match action {
            Action::Reject { reason } => Some(reason),
            _ => None,
        };
        self.history.push(HistoryEntry { from: self.status, to, actor, at, reason });
        self.status = to;
        self.history.last().ok_or(Error::Workflow {
            // Unreachable: an entry was pushed just above.
            from: to,
            reason: Reason::StepAlreadyDone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn officer() -> OfficerId {
        "cb.nguyen-van-a".parse().unwrap()
    }

    #[test]
    fn transition_table() {
        use Action::*;
        use Status::*;
        let reject = Reject { reason: Reason::NameMismatch };
        let cases: &[(Status, Action, Result<Status, &str>)] = &[
            (Submitted, CaptureBiometrics, Ok(BiometricsCaptured)),
            (Submitted, CheckData, Err("application_not_ready")),
            (Submitted, Approve, Err("application_not_ready")),
            (Submitted, Issue, Err("application_not_ready")),
            (Submitted, reject.clone(), Ok(Rejected)),
            (BiometricsCaptured, CaptureBiometrics, Ok(BiometricsCaptured)),
            (BiometricsCaptured, CheckData, Ok(DataChecked)),
            (BiometricsCaptured, Approve, Err("application_not_ready")),
            (BiometricsCaptured, reject.clone(), Ok(Rejected)),
            (DataChecked, Approve, Ok(Approved)),
            (DataChecked, CaptureBiometrics, Err("step_already_done")),
            (DataChecked, Issue, Err("application_not_ready")),
            (DataChecked, reject.clone(), Ok(Rejected)),
            (Approved, Issue, Ok(Issued)),
            (Approved, Approve, Err("step_already_done")),
            (Approved, reject.clone(), Err("step_already_done")),
            (Rejected, Approve, Err("application_closed")),
            (Rejected, reject.clone(), Err("application_closed")),
            (Issued, Issue, Err("application_closed")),
            (Issued, CaptureBiometrics, Err("application_closed")),
        ];
        for (from, action, want) in cases {
            let got = from.transition(action).map_err(|e| {
                assert!(matches!(e, Error::Workflow { from: f, .. } if f == *from));
                e.reasons()[0].code()
            });
            assert_eq!(got, *want, "{from} + {action:?}");
        }
    }

    #[test]
    fn full_run_keeps_history() {
        let t0 = datetime!(2026-03-02 08:30 +07:00);
        let mut app = Application::submitted(t0);
        let steps = [
            (Action::CaptureBiometrics, datetime!(2026-03-02 08:45 +07:00)),
            (Action::CheckData, datetime!(2026-03-02 10:00 +07:00)),
            (Action::Approve, datetime!(2026-03-03 09:00 +07:00)),
            (Action::Issue, datetime!(2026-03-03 09:01 +07:00)),
        ];
        for (action, at) in steps {
            app.apply(action, officer(), at).unwrap();
        }
        assert_eq!(app.status(), Status::Issued);
        let path: Vec<_> = app.history().iter().map(|h| (h.from, h.to)).collect();
        assert_eq!(
            path,
            vec![
                (Status::Submitted, Status::BiometricsCaptured),
                (Status::BiometricsCaptured, Status::DataChecked),
                (Status::DataChecked, Status::Approved),
                (Status::Approved, Status::Issued),
            ]
        );
        let json = serde_json::to_value(&app.history()[0]).unwrap();
        assert_eq!(json["from"], "submitted");
        assert_eq!(json["to"], "biometrics_captured");
        assert_eq!(json["actor"], "cb.nguyen-van-a");
        assert_eq!(json["at"], "2026-03-02T08:45:00+07:00");
    }

    #[test]
    fn rejection_records_its_reason_and_closes() {
        let t0 = datetime!(2026-03-02 08:30 UTC);
        let mut app = Application::submitted(t0);
        let e = app.apply(Action::Reject { reason: Reason::CardRevoked }, officer(), t0).unwrap();
        assert_eq!(e.reason, Some(Reason::CardRevoked));
        let err = app.apply(Action::CaptureBiometrics, officer(), t0).unwrap_err();
        assert_eq!(err.reasons(), vec![Reason::ApplicationClosed]);
        assert_eq!(app.history().len(), 1);
    }

    #[test]
    fn refuses_time_running_backwards_and_leaves_state_alone() {
        let t0 = datetime!(2026-03-02 08:30 UTC);
        let mut app = Application::submitted(t0);
        let err = app.apply(Action::CaptureBiometrics, officer(), datetime!(2026-03-02 08:29 UTC)).unwrap_err();
        assert_eq!(err.reasons(), vec![Reason::EventTimeInvalid]);
        assert_eq!(app.status(), Status::Submitted);
        assert!(app.history().is_empty());
    }

    #[test]
    fn officer_ids() {
        assert!("officer_01".parse::<OfficerId>().is_ok());
        for bad in ["", "a b", "cán-bộ", &"x".repeat(65)] {
            assert_eq!(bad.parse::<OfficerId>(), Err(Reason::ActorInvalid), "{bad:?}");
        }
    }

    #[test]
    fn status_codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.code().parse::<Status>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.code());
        }
        assert_eq!(Status::BiometricsCaptured.message_id(), "status-biometrics-captured");
    }
}
