//! Reports for supervisors: what is late or about to be, and how many applications each reception point
//! receives per day. Pure functions over summaries the issuer reads from storage.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Date, Duration};

use crate::tk01::ReceptionPointId;
use crate::workflow::Status;

/// What the reports need to know about one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationSummary {
    /// The issuer's application id.
    pub id: String,
    /// Where it was lodged.
    pub reception_point: ReceptionPointId,
    /// Submission date (local date at the reception point).
    #[serde(with = "crate::dates::iso")]
    pub submitted_on: Date,
    /// Decision due date (see [`crate::deadline::due_date`]).
    #[serde(with = "crate::dates::iso")]
    pub due_on: Date,
    /// Current state.
    pub status: Status,
}

/// An application in a backlog list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueItem {
    /// Application id.
    pub id: String,
    /// Due date.
    #[serde(with = "crate::dates::iso")]
    pub due_on: Date,
    /// Current state.
    pub status: Status,
}

/// The backlog of one reception point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointBacklog {
    /// The reception point.
    pub reception_point: ReceptionPointId,
    /// Still awaiting a decision after their due date, oldest due first.
    pub overdue: Vec<DueItem>,
    /// Awaiting a decision and due from today to `today + soon_days`, soonest first.
    pub due_soon: Vec<DueItem>,
}

/// Applications still awaiting a decision that are overdue (`due_on < today`) or due within
/// `soon_days` calendar days (`today <= due_on <= today + soon_days`), grouped per reception point in id
/// order. Points with nothing to report are left out. Approved, rejected and issued applications are not
/// counted: the deadline is for the decision.
pub fn overdue_and_due_soon(apps: &[ApplicationSummary], today: Date, soon_days: u32) -> Vec<PointBacklog> {
    let horizon = today.checked_add(Duration::days(i64::from(soon_days))).unwrap_or(Date::MAX);
    let mut points: BTreeMap<&ReceptionPointId, PointBacklog> = BTreeMap::new();
    for app in apps.iter().filter(|a| a.status.awaits_decision()) {
        let overdue = app.due_on < today;
        if !overdue && app.due_on > horizon {
            continue;
        }
        let backlog = points.entry(&app.reception_point).or_insert_with(|| PointBacklog {
            reception_point: app.reception_point.clone(),
            overdue: Vec::new(),
            due_soon: Vec::new(),
        });
        let item = DueItem { id: app.id.clone(), due_on: app.due_on, status: app.status };
        if overdue {
            backlog.overdue.push(item);
        } else {
            backlog.due_soon.push(item);
        }
    }
    let mut out: Vec<PointBacklog> = points.into_values().collect();
    for b in &mut out {
        b.overdue.sort_by(|x, y| (x.due_on, &x.id).cmp(&(y.due_on, &y.id)));
        b.due_soon.sort_by(|x, y| (x.due_on, &x.id).cmp(&(y.due_on, &y.id)));
    }
    out
}

/// Applications submitted at one reception point on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyCount {
    /// The reception point.
    pub reception_point: ReceptionPointId,
    /// The submission date.
    #[serde(with = "crate::dates::iso")]
    pub date: Date,
    /// How many (whatever their state now).
    pub count: usize,
}

/// Submissions per reception point per day, sorted by point then date. Days without submissions are
/// absent.
pub fn counts_per_point_per_day(apps: &[ApplicationSummary]) -> Vec<DailyCount> {
    let mut counts: BTreeMap<(&ReceptionPointId, Date), usize> = BTreeMap::new();
    for app in apps {
        *counts.entry((&app.reception_point, app.submitted_on)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((point, date), count)| DailyCount { reception_point: point.clone(), date, count })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn app(id: &str, point: &str, submitted: Date, due: Date, status: Status) -> ApplicationSummary {
        ApplicationSummary {
            id: id.into(),
            reception_point: point.parse().unwrap(),
            submitted_on: submitted,
            due_on: due,
            status,
        }
    }

    fn sample() -> Vec<ApplicationSummary> {
        use Status::*;
        vec![
            app("a1", "hn-ba-dinh-police", date!(2026 - 03 - 02), date!(2026 - 03 - 05), Submitted),
            app("a2", "hn-ba-dinh-police", date!(2026 - 03 - 02), date!(2026 - 03 - 11), DataChecked),
            app("a3", "hn-ba-dinh-police", date!(2026 - 03 - 03), date!(2026 - 03 - 06), Approved),
            app("a4", "hcm-kcn-tan-thuan", date!(2026 - 03 - 04), date!(2026 - 03 - 09), BiometricsCaptured),
            app("a5", "hcm-kcn-tan-thuan", date!(2026 - 03 - 04), date!(2026 - 03 - 13), Submitted),
            app("a6", "hcm-kcn-tan-thuan", date!(2026 - 03 - 05), date!(2026 - 03 - 10), Rejected),
            app("a7", "hn-ba-dinh-police", date!(2026 - 03 - 02), date!(2026 - 03 - 04), Submitted),
            app("a8", "dn-hai-chau-police", date!(2026 - 03 - 06), date!(2026 - 03 - 20), Submitted),
        ]
    }

    #[test]
    fn backlog_groups_per_point() {
        let got = overdue_and_due_soon(&sample(), date!(2026 - 03 - 09), 2);
        let view: Vec<(&str, Vec<&str>, Vec<&str>)> = got
            .iter()
            .map(|b| {
                (
                    b.reception_point.as_str(),
                    b.overdue.iter().map(|i| i.id.as_str()).collect(),
                    b.due_soon.iter().map(|i| i.id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            view,
            vec![("hcm-kcn-tan-thuan", vec![], vec!["a4"]), ("hn-ba-dinh-police", vec!["a7", "a1"], vec!["a2"]),]
        );
        let soon_len = |days, point: &str| {
            overdue_and_due_soon(&sample(), date!(2026 - 03 - 09), days)
                .iter()
                .find(|b| b.reception_point.as_str() == point)
                .map(|b| b.due_soon.len())
        };
        assert_eq!(soon_len(0, "hcm-kcn-tan-thuan"), Some(1));
        assert_eq!(soon_len(4, "hcm-kcn-tan-thuan"), Some(2));
        assert_eq!(soon_len(1, "hn-ba-dinh-police"), Some(0));
        assert!(overdue_and_due_soon(&[], date!(2026 - 03 - 09), 3).is_empty());
    }

    #[test]
    fn daily_counts_are_sorted() {
        let got: Vec<(String, String, usize)> = counts_per_point_per_day(&sample())
            .into_iter()
            .map(|c| (c.reception_point.to_string(), crate::dates::format(c.date), c.count))
            .collect();
        let want = [
            ("dn-hai-chau-police", "2026-03-06", 1),
            ("hcm-kcn-tan-thuan", "2026-03-04", 2),
            ("hcm-kcn-tan-thuan", "2026-03-05", 1),
            ("hn-ba-dinh-police", "2026-03-02", 3),
            ("hn-ba-dinh-police", "2026-03-03", 1),
        ];
        let want: Vec<(String, String, usize)> =
            want.iter().map(|(p, d, n)| (p.to_string(), d.to_string(), *n)).collect();
        assert_eq!(got, want);
    }
}
