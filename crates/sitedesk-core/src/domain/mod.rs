//! The site's domain: study, site, subject, the enrollment lifecycle and
//! the screening log.
//!
//! Everything here is a pure function over values: it decides whether an
//! action is allowed and which fields it changes, and returns those changes
//! as [`Change`]s. Persisting them (with audit and outbox rows) is the
//! store's job; nothing in this module touches a database or a clock (the
//! caller passes `today`).

mod error;
mod ids;
mod lifecycle;
mod people;
mod screening;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use error::{DomainError, Field};
pub use ids::{DeskCode, SubjectId};
pub use lifecycle::{Action, ActionKind, Reason, plan_action};
pub use people::{
    LOGIN_MAX_CHARS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, PERSON_NAME_MAX_CHARS, Role,
    check_login, check_new_password, check_person_name, check_plain_text,
};
pub use screening::{
    LABEL_MAX_CHARS, REASON_MAX_CHARS, ScreeningInput, VERSION_MAX_CHARS, check_reason, parse_date,
    plan_screening_edit, validate_new_screening,
};
pub use values::{
    Cell, NAME_MAX_CHARS, RecordEdit, VALUE_MAX_CHARS, check_record_edit, normalize,
    plan_record_edit,
};

/// Who acts: the person signed in to the desk (their login and name), with
/// the operating-system account beside it, as every audit row names them.
/// The desk's own work (sync, migrations) has no login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Actor {
    /// The account that is signed in to the desk computer.
    pub account: String,
    /// The person's name on the desk; may be empty for the desk's own work.
    pub display_name: String,
    /// The person's login on the desk; `None` for the desk's own work.
    #[serde(default)]
    pub login: Option<String>,
}

/// The study this desk works for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Study {
    pub id: String,
    pub title: String,
    /// How many subjects the study plans to enroll across all sites: the
    /// screening instrument's `@SITEDESK-TARGET`, or this desk's own where a
    /// person changed it (`StudySetup::targets` says which).
    pub enrollment_target: u32,
}

/// A trial site (a REDCap data access group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Site {
    pub id: String,
    /// Short code that prefixes subject ids, such as `S01`.
    pub code: String,
    pub name: String,
}

/// Whether a criterion must hold (inclusion) or must not hold (exclusion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CriterionKind {
    Inclusion,
    Exclusion,
}

/// One line of the study's eligibility checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Criterion {
    /// Stable id such as `I1` or `E2`.
    pub id: String,
    pub kind: CriterionKind,
    pub text: String,
}

/// A CRC's answer to one eligibility criterion. An unanswered criterion is
/// absent from the map, not a third value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Yes,
    No,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
        }
    }

    pub fn parse(s: &str) -> Option<Answer> {
        match s {
            "yes" => Some(Answer::Yes),
            "no" => Some(Answer::No),
            _ => None,
        }
    }
}

/// Where a subject stands in the enrollment lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    Screening,
    ScreenFailed,
    Enrolled,
    Completed,
    Withdrawn,
}

impl SubjectStatus {
    pub const ALL: [SubjectStatus; 5] = [
        SubjectStatus::Screening,
        SubjectStatus::ScreenFailed,
        SubjectStatus::Enrolled,
        SubjectStatus::Completed,
        SubjectStatus::Withdrawn,
    ];

    /// The value stored in the database and sent over IPC.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectStatus::Screening => "screening",
            SubjectStatus::ScreenFailed => "screen_failed",
            SubjectStatus::Enrolled => "enrolled",
            SubjectStatus::Completed => "completed",
            SubjectStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<SubjectStatus> {
        SubjectStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the subject has been enrolled at some point, so the
    /// enrollment checks (consent, eligibility) must keep holding.
    pub fn was_enrolled(self) -> bool {
        matches!(
            self,
            SubjectStatus::Enrolled | SubjectStatus::Completed | SubjectStatus::Withdrawn
        )
    }
}

/// The screening-log part of a subject record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Screening {
    pub screening_date: NaiveDate,
    /// Initials or a short label; never a full name.
    pub label: String,
    pub consent_date: Option<NaiveDate>,
    /// Version of the informed-consent form the subject signed.
    pub consent_version: Option<String>,
    /// Criterion id to answer; unanswered criteria are absent.
    pub eligibility: BTreeMap<String, Answer>,
}

/// A subject as stored at this desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Subject {
    pub id: String,
    pub site_id: String,
    pub status: SubjectStatus,
    pub screening: Screening,
    pub enrollment_date: Option<NaiveDate>,
    /// The day of the last status change after screening: screen failure,
    /// completion or withdrawal.
    pub status_date: Option<NaiveDate>,
    /// Why the subject screen failed or withdrew: a code of the screening
    /// instrument's reason choices.
    pub status_reason: Option<String>,
    /// The "other, specify" text, for a reason code that asks for it.
    pub status_reason_other: Option<String>,
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    #[ts(type = "string")]
    pub updated_at: DateTime<Utc>,
}

/// One coded reason a subject screen fails or withdraws for: a choice of
/// the screening instrument's reason field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReasonChoice {
    pub code: String,
    pub label: String,
}

/// The reasons a study codes, and which of them ask for "other, specify".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Reasons {
    pub choices: Vec<ReasonChoice>,
    /// Codes whose text must be given.
    pub other: Vec<String>,
}

/// One field changed by an action: what the audit row and the outbox row
/// record. Values are the stored text form (ISO dates, `yes`/`no`), `None`
/// for empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// A subject field name (`status`, `consent_date`, ...) or
    /// `eligibility.<criterion id>`: the screening log's own names, which
    /// the store maps to the screening instrument's fields.
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    fn of<T: ToString>(field: &str, old: Option<T>, new: Option<T>) -> Option<Change> {
        let old = old.map(|v| v.to_string());
        let new = new.map(|v| v.to_string());
        (old != new).then(|| Change {
            field: field.to_owned(),
            old,
            new,
        })
    }
}

/// The demo study a desk starts with when nothing is configured. Its
/// eligibility checklist is the demo dictionary's screening instrument.
pub fn demo_study() -> (Study, Vec<Site>) {
    let study = Study {
        id: "DEMO-01".into(),
        title: "SiteDesk Demo Study".into(),
        enrollment_target: 40,
    };
    let sites = vec![
        Site {
            id: "s01".into(),
            code: "S01".into(),
            name: "Riverside Clinic".into(),
        },
        Site {
            id: "s02".into(),
            code: "S02".into(),
            name: "Hillview Hospital".into(),
        },
    ];
    (study, sites)
}
