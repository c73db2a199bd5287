//! The enrollment lifecycle as a state machine:
//!
//! ```text
//! screening ──> screen_failed
//!     │
//!     └──────> enrolled ──> completed
//!                  │
//!                  └──────> withdrawn
//! ```
//!
//! [`plan_action`] checks an action against the subject's state and data and
//! returns the field changes it makes; it never mutates anything.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::screening::{check_date, check_enrollment, check_reason};
use super::{Change, Criterion, DomainError, Field, Subject, SubjectStatus};

/// A lifecycle action with the data it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    ScreenFail {
        reason: String,
    },
    Enroll {
        enrollment_date: NaiveDate,
    },
    Complete {
        completion_date: NaiveDate,
    },
    Withdraw {
        withdrawal_date: NaiveDate,
        reason: String,
    },
}

/// An action without its data, for messages and for the table of legal
/// transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    ScreenFail,
    Enroll,
    Complete,
    Withdraw,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [
        ActionKind::ScreenFail,
        ActionKind::Enroll,
        ActionKind::Complete,
        ActionKind::Withdraw,
    ];

    /// The status an action leads to, if it is legal from `from`. This is
    /// the whole transition table.
    pub fn target(self, from: SubjectStatus) -> Option<SubjectStatus> {
        use SubjectStatus::*;
        match (from, self) {
            (Screening, ActionKind::ScreenFail) => Some(ScreenFailed),
            (Screening, ActionKind::Enroll) => Some(Enrolled),
            (Enrolled, ActionKind::Complete) => Some(Completed),
            (Enrolled, ActionKind::Withdraw) => Some(Withdrawn),
            _ => None,
        }
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::ScreenFail { .. } => ActionKind::ScreenFail,
            Action::Enroll { .. } => ActionKind::Enroll,
            Action::Complete { .. } => ActionKind::Complete,
            Action::Withdraw { .. } => ActionKind::Withdraw,
        }
    }
}

/// Decides whether `action` may be applied to `subject` and returns the
/// changes it makes, the status change first.
pub fn plan_action(
    subject: &Subject,
    action: &Action,
    criteria: &[Criterion],
    today: NaiveDate,
) -> Result<Vec<Change>, DomainError> {
    let kind = action.kind();
    let to = kind
        .target(subject.status)
        .ok_or(DomainError::IllegalTransition {
            from: subject.status,
            action: kind,
        })?;
    let mut changes = vec![Change::of(
        "status",
        Some(subject.status.as_str()),
        Some(to.as_str()),
    )];
    match action {
        Action::ScreenFail { reason } => {
            let reason = check_reason(reason)?;
            changes.push(Change::of(
                "screen_fail_reason",
                subject.screen_fail_reason.clone(),
                Some(reason),
            ));
        }
        Action::Enroll { enrollment_date } => {
            check_date(*enrollment_date, Field::EnrollmentDate, today)?;
            check_enrollment(&subject.screening, *enrollment_date, criteria)?;
            changes.push(Change::of(
                "enrollment_date",
                subject.enrollment_date,
                Some(*enrollment_date),
            ));
        }
        Action::Complete { completion_date } => {
            check_date(*completion_date, Field::CompletionDate, today)?;
            check_after_enrollment(subject, *completion_date, Field::CompletionDate)?;
            changes.push(Change::of(
                "completion_date",
                subject.completion_date,
                Some(*completion_date),
            ));
        }
        Action::Withdraw {
            withdrawal_date,
            reason,
        } => {
            check_date(*withdrawal_date, Field::WithdrawalDate, today)?;
            check_after_enrollment(subject, *withdrawal_date, Field::WithdrawalDate)?;
            let reason = check_reason(reason)?;
            changes.push(Change::of(
                "withdrawal_date",
                subject.withdrawal_date,
                Some(*withdrawal_date),
            ));
            changes.push(Change::of(
                "withdrawal_reason",
                subject.withdrawal_reason.clone(),
                Some(reason),
            ));
        }
    }
    Ok(changes.into_iter().flatten().collect())
}

fn check_after_enrollment(
    subject: &Subject,
    date: NaiveDate,
    field: Field,
) -> Result<(), DomainError> {
    match subject.enrollment_date {
        Some(enrolled) if date < enrolled => Err(DomainError::DateOrder {
            earlier: Field::EnrollmentDate,
            later: field,
        }),
        _ => Ok(()),
    }
}

impl Action {
    /// Builds an action from what the user typed: the dates as
    /// `YYYY-MM-DD` text, so that a malformed date is refused with a message
    /// that names the field.
    pub fn parse(
        kind: ActionKind,
        date: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Action, DomainError> {
        let date = |field| {
            super::screening::parse_date(date.unwrap_or(""), field)?
                .ok_or(DomainError::Required { field })
        };
        let reason = || reason.unwrap_or("").to_owned();
        Ok(match kind {
            ActionKind::ScreenFail => Action::ScreenFail { reason: reason() },
            ActionKind::Enroll => Action::Enroll {
                enrollment_date: date(Field::EnrollmentDate)?,
            },
            ActionKind::Complete => Action::Complete {
                completion_date: date(Field::CompletionDate)?,
            },
            ActionKind::Withdraw => Action::Withdraw {
                withdrawal_date: date(Field::WithdrawalDate)?,
                reason: reason(),
            },
        })
    }
}
