//! The screening log: what a CRC records before a subject may be enrolled,
//! and the checks on it.
//!
//! Inputs arrive as text (as typed); this module turns them into a
//! [`Screening`] or refuses them with a [`DomainError`] that names the field.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Answer, Change, Criterion, CriterionKind, DomainError, Field, Screening, Subject};

/// Initials or a short label. Eight characters hold initials with a
/// disambiguating digit; a full name does not fit, and spaces are refused.
pub const LABEL_MAX_CHARS: usize = 8;
/// A consent form version such as `v2.1 2026-03-01`.
pub const VERSION_MAX_CHARS: usize = 40;
/// Reasons are free text for the audit trail; a paragraph at most.
pub const REASON_MAX_CHARS: usize = 500;

/// The screening log as the CRC typed it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ScreeningInput {
    /// `YYYY-MM-DD`.
    pub screening_date: String,
    pub label: String,
    /// `YYYY-MM-DD`, empty or absent when consent is not yet given.
    #[serde(default)]
    pub consent_date: Option<String>,
    #[serde(default)]
    pub consent_version: Option<String>,
    #[serde(default)]
    pub eligibility: BTreeMap<String, Answer>,
}

/// Checks a new subject's screening log.
pub fn validate_new_screening(
    input: &ScreeningInput,
    criteria: &[Criterion],
    today: NaiveDate,
) -> Result<Screening, DomainError> {
    let screening_date =
        parse_date(&input.screening_date, Field::ScreeningDate)?.ok_or(DomainError::Required {
            field: Field::ScreeningDate,
        })?;
    check_date(screening_date, Field::ScreeningDate, today)?;
    let label = check_label(&input.label)?;

    let consent_date = parse_date(
        input.consent_date.as_deref().unwrap_or(""),
        Field::ConsentDate,
    )?;
    let consent_version = non_empty(input.consent_version.as_deref());
    if let Some(v) = &consent_version
        && v.chars().count() > VERSION_MAX_CHARS
    {
        return Err(DomainError::TooLong {
            field: Field::ConsentVersion,
            max: VERSION_MAX_CHARS,
        });
    }
    match (consent_date, &consent_version) {
        (Some(_), None) => {
            return Err(DomainError::Required {
                field: Field::ConsentVersion,
            });
        }
        (None, Some(_)) => {
            return Err(DomainError::Required {
                field: Field::ConsentDate,
            });
        }
        _ => {}
    }
    if let Some(d) = consent_date {
        check_date(d, Field::ConsentDate, today)?;
    }
    for id in input.eligibility.keys() {
        if !criteria.iter().any(|c| &c.id == id) {
            return Err(DomainError::UnknownCriterion { id: id.clone() });
        }
    }
    Ok(Screening {
        screening_date,
        label,
        consent_date,
        consent_version,
        eligibility: input.eligibility.clone(),
    })
}

/// Checks a correction of a subject's screening log and returns the changed
/// fields. Changing a value that was already saved needs a `reason`; a
/// subject who was enrolled must still satisfy the enrollment checks.
pub fn plan_screening_edit(
    subject: &Subject,
    input: &ScreeningInput,
    criteria: &[Criterion],
    today: NaiveDate,
    reason: Option<&str>,
) -> Result<Vec<Change>, DomainError> {
    let new = validate_new_screening(input, criteria, today)?;
    if subject.status.was_enrolled()
        && let Some(enrolled) = subject.enrollment_date
    {
        check_enrollment(&new, enrolled, criteria)?;
    }
    let old = &subject.screening;
    let mut changes: Vec<(Field, Change)> = Vec::new();
    let mut push = |field, change: Option<Change>| changes.extend(change.map(|c| (field, c)));
    push(
        Field::ScreeningDate,
        Change::of(
            "screening_date",
            Some(old.screening_date),
            Some(new.screening_date),
        ),
    );
    push(
        Field::Label,
        Change::of("label", Some(&old.label), Some(&new.label)),
    );
    push(
        Field::ConsentDate,
        Change::of("consent_date", old.consent_date, new.consent_date),
    );
    push(
        Field::ConsentVersion,
        Change::of(
            "consent_version",
            old.consent_version.as_ref(),
            new.consent_version.as_ref(),
        ),
    );
    for c in criteria {
        let field = format!("eligibility.{}", c.id);
        let before = old.eligibility.get(&c.id).map(|a| a.as_str());
        let after = new.eligibility.get(&c.id).map(|a| a.as_str());
        push(Field::Eligibility, Change::of(&field, before, after));
    }
    if changes.is_empty() {
        return Err(DomainError::NothingChanged);
    }
    let reason = non_empty(reason);
    if let Some((field, _)) = changes.iter().find(|(_, c)| c.old.is_some())
        && reason.is_none()
    {
        return Err(DomainError::ReasonForChangeRequired { field: *field });
    }
    if let Some(r) = &reason {
        check_reason(r)?;
    }
    Ok(changes.into_iter().map(|(_, c)| c).collect())
}

/// The checks that must hold for a subject to be enrolled on `enrollment_date`.
pub(super) fn check_enrollment(
    s: &Screening,
    enrollment_date: NaiveDate,
    criteria: &[Criterion],
) -> Result<(), DomainError> {
    if enrollment_date < s.screening_date {
        return Err(DomainError::DateOrder {
            earlier: Field::ScreeningDate,
            later: Field::EnrollmentDate,
        });
    }
    let consent = s.consent_date.ok_or(DomainError::Required {
        field: Field::ConsentDate,
    })?;
    if s.consent_version.is_none() {
        return Err(DomainError::Required {
            field: Field::ConsentVersion,
        });
    }
    if consent > enrollment_date {
        return Err(DomainError::DateOrder {
            earlier: Field::ConsentDate,
            later: Field::EnrollmentDate,
        });
    }
    let unmet: Vec<String> = criteria
        .iter()
        .filter(|c| {
            let wanted = match c.kind {
                CriterionKind::Inclusion => Answer::Yes,
                CriterionKind::Exclusion => Answer::No,
            };
            s.eligibility.get(&c.id) != Some(&wanted)
        })
        .map(|c| c.id.clone())
        .collect();
    if !unmet.is_empty() {
        return Err(DomainError::EligibilityNotMet { unmet });
    }
    Ok(())
}

pub(super) fn check_date(d: NaiveDate, field: Field, today: NaiveDate) -> Result<(), DomainError> {
    if d > today {
        return Err(DomainError::DateInFuture { field });
    }
    Ok(())
}

/// Returns the trimmed reason, or why it is not acceptable.
pub fn check_reason(reason: &str) -> Result<String, DomainError> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(DomainError::Required {
            field: Field::Reason,
        });
    }
    if r.chars().count() > REASON_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::Reason,
            max: REASON_MAX_CHARS,
        });
    }
    super::check_plain_text(Field::Reason, r)?;
    Ok(r.to_owned())
}

fn check_label(label: &str) -> Result<String, DomainError> {
    let l = label.trim();
    if l.is_empty() {
        return Err(DomainError::Required {
            field: Field::Label,
        });
    }
    if l.chars().count() > LABEL_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::Label,
            max: LABEL_MAX_CHARS,
        });
    }
    if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(DomainError::LabelNotInitials);
    }
    Ok(l.to_ascii_uppercase())
}

/// Parses `YYYY-MM-DD`; empty text is `None`.
pub fn parse_date(s: &str, field: Field) -> Result<Option<NaiveDate>, DomainError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    // Exactly ten characters: chrono alone would accept `2026-1-5`.
    if s.len() != 10 {
        return Err(DomainError::BadDate { field });
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| DomainError::BadDate { field })
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
