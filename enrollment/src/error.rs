//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

use crate::workflow::Status;
use crate::Reason;

/// One problem with one field of an input: where, and why (never the value itself, which may be
/// personal data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldProblem {
    /// Dotted path of the field, e.g. `residence_card.number`; `body` for the input as a whole.
    pub field: String,
    /// Why the field was refused.
    pub reason: Reason,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, reason: Reason) -> Self {
        FieldProblem { field: field.into(), reason }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Everything that can go wrong in this crate.
///
/// The first two variants mean "the rules ran, and the input is not acceptable, because …"; they carry
/// [`Reason`]s that the issuer turns into a 4xx with a localized message. The others mean "the rules
/// could not run" (a data file is missing or malformed); they are operator problems, a 5xx at most, and
/// their text may name files and lines but never holds personal data from a form.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused; `problems` is never empty and lists every problem found, in field order.
    #[error("input refused: {}", DisplayList(.problems))]
    Invalid {
        /// What is wrong, field by field.
        problems: Vec<FieldProblem>,
    },
    /// A workflow action was refused in the application's current state.
    #[error("workflow action refused in state {from}: {reason}")]
    Workflow {
        /// The state the application is in (and stays in).
        from: Status,
        /// Why: `application_not_ready`, `application_closed`, `step_already_done`, `event_time_invalid`.
        reason: Reason,
    },
    /// A data file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a registry JSON Lines file is malformed.
    #[error("registry line {line}: {message}")]
    RegistryLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A line of the registry's change log is malformed (see `docs/registry.md`).
    #[error("registry changes line {line}: {message}")]
    ChangeLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The holiday calendar file is malformed.
    #[error("holiday calendar: {message}")]
    Calendar {
        /// What is wrong with it.
        message: String,
    },
    /// A shipped Fluent message file does not parse (a build defect: the tests catch it).
    #[error("messages for {lang}: {message}")]
    Locale {
        /// The language tag.
        lang: &'static str,
        /// The Fluent errors.
        message: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] with a single problem.
    pub fn invalid(field: impl Into<String>, reason: Reason) -> Self {
        Error::Invalid { problems: vec![FieldProblem::new(field, reason)] }
    }

    /// The reasons an input was refused, in order; empty for "could not run" errors.
    pub fn reasons(&self) -> Vec<Reason> {
        match self {
            Error::Invalid { problems } => problems.iter().map(|p| p.reason).collect(),
            Error::Workflow { reason, .. } => vec![*reason],
            _ => Vec::new(),
        }
    }

    /// True when the input was refused (a 4xx), false when the rules could not run (a 5xx).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Invalid { .. } | Error::Workflow { .. })
    }
}

struct DisplayList<'a>(&'a [FieldProblem]);

impl fmt::Display for DisplayList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_fields_and_codes() {
        let e = Error::Invalid {
            problems: vec![
                FieldProblem::new("phone", Reason::PhoneInvalid),
                FieldProblem::new("residence_card.number", Reason::CardNumberInvalid),
            ],
        };
        assert_eq!(e.to_string(), "input refused: phone: phone_invalid; residence_card.number: card_number_invalid");
        assert!(e.is_refusal());
        assert_eq!(e.reasons(), vec![Reason::PhoneInvalid, Reason::CardNumberInvalid]);
    }
}
