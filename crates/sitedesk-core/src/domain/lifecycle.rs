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
use super::{Change, Criterion, DomainError, Field, Reasons, Subject, SubjectStatus};

/// A lifecycle action with the data it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    ScreenFail {
        date: NaiveDate,
        reason: Reason,
    },
    Enroll {
        enrollment_date: NaiveDate,
    },
    Complete {
        completion_date: NaiveDate,
    },
    Withdraw {
        withdrawal_date: NaiveDate,
        reason: Reason,
    },
}

/// Why a subject screen fails or withdraws: a code of the study's reasons
/// and, for a code that asks for it, the "other, specify" text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Reason {
    pub code: String,
    #[serde(default)]
    pub other: Option<String>,
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
    reasons: &Reasons,
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
    let status_date = |date: NaiveDate| Change::of("status_date", subject.status_date, Some(date));
    match action {
        Action::ScreenFail { date, reason } => {
            check_date(*date, Field::ScreenFailDate, today)?;
            if *date < subject.screening.screening_date {
                return Err(DomainError::DateOrder {
                    earlier: Field::ScreeningDate,
                    later: Field::ScreenFailDate,
                });
            }
            changes.push(status_date(*date));
            changes.extend(reason_changes(subject, reason, reasons)?);
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
            changes.push(status_date(*completion_date));
        }
        Action::Withdraw {
            withdrawal_date,
            reason,
        } => {
            check_date(*withdrawal_date, Field::WithdrawalDate, today)?;
            check_after_enrollment(subject, *withdrawal_date, Field::WithdrawalDate)?;
            changes.push(status_date(*withdrawal_date));
            changes.extend(reason_changes(subject, reason, reasons)?);
        }
    }
    Ok(changes.into_iter().flatten().collect())
}

/// Checks a coded reason against the study's and returns its changes: the
/// code, and the "other" text where the code asks for one (cleared where
/// it does not).
fn reason_changes(
    subject: &Subject,
    reason: &Reason,
    reasons: &Reasons,
) -> Result<Vec<Option<Change>>, DomainError> {
    let code = reason.code.trim();
    if code.is_empty() {
        return Err(DomainError::Required {
            field: Field::Reason,
        });
    }
    if !reasons.choices.iter().any(|c| c.code == code) {
        return Err(DomainError::UnknownReason {
            code: code.to_owned(),
        });
    }
    let other = if reasons.other.iter().any(|c| c == code) {
        let text = reason.other.as_deref().unwrap_or("");
        if text.trim().is_empty() {
            return Err(DomainError::Required {
                field: Field::OtherReason,
            });
        }
        Some(check_reason(text).map_err(|e| match e {
            DomainError::TooLong { max, .. } => DomainError::TooLong {
                field: Field::OtherReason,
                max,
            },
            e => e,
        })?)
    } else {
        None
    };
    Ok(vec![
        Change::of(
            "status_reason",
            subject.status_reason.as_deref(),
            Some(code),
        ),
        Change::of(
            "status_reason_other",
            subject.status_reason_other.as_deref(),
            other.as_deref(),
        ),
    ])
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
        reason: Option<Reason>,
    ) -> Result<Action, DomainError> {
        let date = |field| {
            super::screening::parse_date(date.unwrap_or(""), field)?
                .ok_or(DomainError::Required { field })
        };
        let reason = || {
            reason.clone().unwrap_or(Reason {
                code: String::new(),
                other: None,
            })
        };
        Ok(match kind {
            ActionKind::ScreenFail => Action::ScreenFail {
                date: date(Field::ScreenFailDate)?,
                reason: reason(),
            },
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
