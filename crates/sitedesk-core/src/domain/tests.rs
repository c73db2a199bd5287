use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::i18n::Lang;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const TODAY: &str = "2026-06-15";

fn criteria() -> Vec<Criterion> {
    let c = |id: &str, kind, text: &str| Criterion {
        id: id.into(),
        kind,
        text: text.into(),
    };
    vec![
        c("I1", CriterionKind::Inclusion, "Aged 18 to 75 years"),
        c("I2", CriterionKind::Inclusion, "Type 2 diabetes"),
        c(
            "I3",
            CriterionKind::Inclusion,
            "HbA1c between 7.0% and 10.5%",
        ),
        c("E1", CriterionKind::Exclusion, "Pregnant or breastfeeding"),
        c(
            "E2",
            CriterionKind::Exclusion,
            "In another interventional trial",
        ),
    ]
}

/// Reasons as a screening instrument codes them: `99` asks "other, specify".
fn reasons() -> Reasons {
    let c = |code: &str, label: &str| ReasonChoice {
        code: code.into(),
        label: label.into(),
    };
    Reasons {
        choices: vec![
            c("1", "Did not meet eligibility"),
            c("3", "Lost to follow-up"),
            c("99", "Other"),
        ],
        other: vec!["99".into()],
    }
}

fn reason(code: &str, other: Option<&str>) -> Reason {
    Reason {
        code: code.into(),
        other: other.map(str::to_owned),
    }
}

fn eligible() -> BTreeMap<String, Answer> {
    criteria()
        .into_iter()
        .map(|c| {
            let a = if c.kind == CriterionKind::Inclusion {
                Answer::Yes
            } else {
                Answer::No
            };
            (c.id, a)
        })
        .collect()
}

fn input() -> ScreeningInput {
    ScreeningInput {
        screening_date: "2026-06-01".into(),
        label: "jd".into(),
        consent_date: Some("2026-06-01".into()),
        consent_version: Some("v2.0".into()),
        eligibility: eligible(),
    }
}

fn subject(status: SubjectStatus) -> Subject {
    let screening = validate_new_screening(&input(), &criteria(), d(TODAY)).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
    Subject {
        id: "S01-ABC-0001".into(),
        site_id: "s01".into(),
        status,
        screening,
        enrollment_date: status.was_enrolled().then(|| d("2026-06-02")),
        status_date: None,
        status_reason: None,
        status_reason_other: None,
        created_at: at,
        updated_at: at,
    }
}

fn sample(kind: ActionKind) -> Action {
    match kind {
        ActionKind::ScreenFail => Action::ScreenFail {
            date: d("2026-06-03"),
            reason: reason("99", Some("HbA1c too high")),
        },
        ActionKind::Enroll => Action::Enroll {
            enrollment_date: d("2026-06-03"),
        },
        ActionKind::Complete => Action::Complete {
            completion_date: d("2026-06-10"),
        },
        ActionKind::Withdraw => Action::Withdraw {
            withdrawal_date: d("2026-06-10"),
            reason: reason("3", None),
        },
    }
}

#[test]
fn every_transition_is_legal_exactly_where_the_lifecycle_allows_it() {
    use SubjectStatus::*;
    let legal = [
        (Screening, ActionKind::ScreenFail, ScreenFailed),
        (Screening, ActionKind::Enroll, Enrolled),
        (Enrolled, ActionKind::Complete, Completed),
        (Enrolled, ActionKind::Withdraw, Withdrawn),
    ];
    let mut checked = 0;
    for from in SubjectStatus::ALL {
        for kind in ActionKind::ALL {
            let result = plan_action(
                &subject(from),
                &sample(kind),
                &criteria(),
                &reasons(),
                d(TODAY),
            );
            match legal.iter().find(|(f, k, _)| *f == from && *k == kind) {
                Some((_, _, to)) => {
                    let changes = result.unwrap_or_else(|e| panic!("{from:?} {kind:?}: {e}"));
                    assert_eq!(changes[0].field, "status");
                    assert_eq!(changes[0].old.as_deref(), Some(from.as_str()));
                    assert_eq!(changes[0].new.as_deref(), Some(to.as_str()));
                }
                None => assert_eq!(
                    result,
                    Err(DomainError::IllegalTransition { from, action: kind }),
                    "{from:?} {kind:?} must be refused"
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
}

#[test]
fn illegal_transition_message_is_plain_in_both_languages() {
    let e = DomainError::IllegalTransition {
        from: SubjectStatus::ScreenFailed,
        action: ActionKind::Enroll,
    };
    assert_eq!(
        e.message(Lang::EN),
        "A subject who is screen failed cannot be enrolled."
    );
    assert_eq!(e.message(zh()), "受试者当前状态为“筛选失败”，不能入组。");
}

#[test]
fn screen_failure_needs_a_coded_reason_and_other_text_where_the_code_asks() {
    let s = subject(SubjectStatus::Screening);
    let plan = |r: Reason| {
        let a = Action::ScreenFail {
            date: d("2026-06-03"),
            reason: r,
        };
        plan_action(&s, &a, &criteria(), &reasons(), d(TODAY))
    };
    assert_eq!(
        plan(reason("  ", None)),
        Err(DomainError::Required {
            field: Field::Reason
        })
    );
    assert_eq!(
        plan(reason("42", None)),
        Err(DomainError::UnknownReason { code: "42".into() })
    );
    assert_eq!(
        plan(reason("99", Some(" "))),
        Err(DomainError::Required {
            field: Field::OtherReason
        })
    );
    assert_eq!(
        plan(reason("99", Some(&"x".repeat(REASON_MAX_CHARS + 1)))),
        Err(DomainError::TooLong {
            field: Field::OtherReason,
            max: REASON_MAX_CHARS
        })
    );
    let changes = plan(reason("99", Some("HbA1c too high"))).unwrap();
    let fields: Vec<(&str, Option<&str>)> = changes
        .iter()
        .map(|c| (c.field.as_str(), c.new.as_deref()))
        .collect();
    assert_eq!(
        fields,
        [
            ("status", Some("screen_failed")),
            ("status_date", Some("2026-06-03")),
            ("status_reason", Some("99")),
            ("status_reason_other", Some("HbA1c too high")),
        ]
    );
    // A code that does not ask for it keeps no "other" text.
    let changes = plan(reason("1", Some("ignored"))).unwrap();
    assert!(changes.iter().all(|c| c.field != "status_reason_other"));
}

#[test]
fn screen_failure_is_dated_between_screening_and_today() {
    let s = subject(SubjectStatus::Screening);
    let at = |date: &str| Action::ScreenFail {
        date: d(date),
        reason: reason("1", None),
    };
    assert_eq!(
        plan_action(&s, &at("2026-05-31"), &criteria(), &reasons(), d(TODAY)),
        Err(DomainError::DateOrder {
            earlier: Field::ScreeningDate,
            later: Field::ScreenFailDate
        })
    );
    assert_eq!(
        plan_action(&s, &at("2026-06-16"), &criteria(), &reasons(), d(TODAY)),
        Err(DomainError::DateInFuture {
            field: Field::ScreenFailDate
        })
    );
}

#[test]
fn withdrawal_needs_a_date_and_a_reason() {
    assert_eq!(
        Action::parse(ActionKind::Withdraw, None, Some(reason("3", None))),
        Err(DomainError::Required {
            field: Field::WithdrawalDate
        })
    );
    let s = subject(SubjectStatus::Enrolled);
    let no_reason = Action::Withdraw {
        withdrawal_date: d("2026-06-10"),
        reason: reason("", None),
    };
    assert_eq!(
        plan_action(&s, &no_reason, &criteria(), &reasons(), d(TODAY)),
        Err(DomainError::Required {
            field: Field::Reason
        })
    );
    let before_enrollment = Action::Withdraw {
        withdrawal_date: d("2026-06-01"),
        reason: reason("3", None),
    };
    assert_eq!(
        plan_action(&s, &before_enrollment, &criteria(), &reasons(), d(TODAY)),
        Err(DomainError::DateOrder {
            earlier: Field::EnrollmentDate,
            later: Field::WithdrawalDate
        })
    );
}

#[test]
fn enrollment_needs_consent_on_or_before_it() {
    let mut s = subject(SubjectStatus::Screening);
    s.screening.consent_date = Some(d("2026-06-05"));
    let r = plan_action(
        &s,
        &sample(ActionKind::Enroll),
        &criteria(),
        &reasons(),
        d(TODAY),
    );
    assert_eq!(
        r,
        Err(DomainError::DateOrder {
            earlier: Field::ConsentDate,
            later: Field::EnrollmentDate
        })
    );
    s.screening.consent_date = None;
    s.screening.consent_version = None;
    let r = plan_action(
        &s,
        &sample(ActionKind::Enroll),
        &criteria(),
        &reasons(),
        d(TODAY),
    );
    assert_eq!(
        r,
        Err(DomainError::Required {
            field: Field::ConsentDate
        })
    );
}

#[test]
fn enrollment_needs_every_inclusion_and_no_exclusion() {
    let mut s = subject(SubjectStatus::Screening);
    s.screening.eligibility.insert("I2".into(), Answer::No);
    s.screening.eligibility.insert("E1".into(), Answer::Yes);
    s.screening.eligibility.remove("I3");
    let r = plan_action(
        &s,
        &sample(ActionKind::Enroll),
        &criteria(),
        &reasons(),
        d(TODAY),
    );
    assert_eq!(
        r,
        Err(DomainError::EligibilityNotMet {
            unmet: vec!["I2".into(), "I3".into(), "E1".into()]
        })
    );
}

#[test]
fn dates_in_the_future_are_refused() {
    let s = subject(SubjectStatus::Screening);
    let r = plan_action(
        &s,
        &Action::Enroll {
            enrollment_date: d("2026-06-16"),
        },
        &criteria(),
        &reasons(),
        d(TODAY),
    );
    assert_eq!(
        r,
        Err(DomainError::DateInFuture {
            field: Field::EnrollmentDate
        })
    );
    let mut i = input();
    i.screening_date = "2026-06-16".into();
    assert_eq!(
        validate_new_screening(&i, &criteria(), d(TODAY)),
        Err(DomainError::DateInFuture {
            field: Field::ScreeningDate
        })
    );
    let mut i = input();
    i.consent_date = Some("2027-01-01".into());
    assert_eq!(
        validate_new_screening(&i, &criteria(), d(TODAY)),
        Err(DomainError::DateInFuture {
            field: Field::ConsentDate
        })
    );
}

#[test]
fn enrollment_before_screening_is_refused() {
    let s = subject(SubjectStatus::Screening);
    let r = plan_action(
        &s,
        &Action::Enroll {
            enrollment_date: d("2026-05-31"),
        },
        &criteria(),
        &reasons(),
        d(TODAY),
    );
    assert_eq!(
        r,
        Err(DomainError::DateOrder {
            earlier: Field::ScreeningDate,
            later: Field::EnrollmentDate
        })
    );
}

#[test]
fn screening_input_is_checked_field_by_field() {
    let today = d(TODAY);
    let check = |f: fn(&mut ScreeningInput), want: DomainError| {
        let mut i = input();
        f(&mut i);
        assert_eq!(validate_new_screening(&i, &criteria(), today), Err(want));
    };
    check(
        |i| i.screening_date = String::new(),
        DomainError::Required {
            field: Field::ScreeningDate,
        },
    );
    check(
        |i| i.screening_date = "2026-6-1".into(),
        DomainError::BadDate {
            field: Field::ScreeningDate,
        },
    );
    check(
        |i| i.screening_date = "2026-02-30".into(),
        DomainError::BadDate {
            field: Field::ScreeningDate,
        },
    );
    check(
        |i| i.label = " ".into(),
        DomainError::Required {
            field: Field::Label,
        },
    );
    check(
        |i| i.label = "John Smith".into(),
        DomainError::TooLong {
            field: Field::Label,
            max: LABEL_MAX_CHARS,
        },
    );
    check(|i| i.label = "J S".into(), DomainError::LabelNotInitials);
    check(|i| i.label = "张三".into(), DomainError::LabelNotInitials);
    check(
        |i| i.consent_version = None,
        DomainError::Required {
            field: Field::ConsentVersion,
        },
    );
    check(
        |i| i.consent_date = None,
        DomainError::Required {
            field: Field::ConsentDate,
        },
    );
    check(
        |i| i.consent_version = Some("v".repeat(41)),
        DomainError::TooLong {
            field: Field::ConsentVersion,
            max: VERSION_MAX_CHARS,
        },
    );
    check(
        |i| {
            i.eligibility.insert("X9".into(), Answer::Yes);
        },
        DomainError::UnknownCriterion { id: "X9".into() },
    );
    let ok = validate_new_screening(&input(), &criteria(), today).unwrap();
    assert_eq!(ok.label, "JD", "initials are stored in capitals");
}

#[test]
fn correcting_a_saved_value_needs_a_reason() {
    let s = subject(SubjectStatus::Screening);
    let mut i = input();
    i.consent_version = Some("v2.1".into());
    assert_eq!(
        plan_screening_edit(&s, &i, &criteria(), d(TODAY), None),
        Err(DomainError::ReasonForChangeRequired {
            field: Field::ConsentVersion
        })
    );
    let changes = plan_screening_edit(&s, &i, &criteria(), d(TODAY), Some("typo")).unwrap();
    assert_eq!(
        changes,
        vec![Change {
            field: "consent_version".into(),
            old: Some("v2.0".into()),
            new: Some("v2.1".into())
        }]
    );
    assert_eq!(
        plan_screening_edit(&s, &input(), &criteria(), d(TODAY), None),
        Err(DomainError::NothingChanged)
    );
}

#[test]
fn filling_an_empty_field_needs_no_reason() {
    let mut s = subject(SubjectStatus::Screening);
    s.screening.eligibility.clear();
    let changes = plan_screening_edit(&s, &input(), &criteria(), d(TODAY), None).unwrap();
    assert_eq!(changes.len(), 5);
    assert!(
        changes
            .iter()
            .all(|c| c.old.is_none() && c.field.starts_with("eligibility."))
    );
}

#[test]
fn an_enrolled_subject_keeps_satisfying_the_enrollment_checks() {
    let s = subject(SubjectStatus::Enrolled);
    let mut i = input();
    i.eligibility.insert("E2".into(), Answer::Yes);
    assert_eq!(
        plan_screening_edit(&s, &i, &criteria(), d(TODAY), Some("recheck")),
        Err(DomainError::EligibilityNotMet {
            unmet: vec!["E2".into()]
        })
    );
}

#[test]
fn desk_codes_and_subject_ids() {
    for _ in 0..100 {
        let code = DeskCode::random();
        assert_eq!(DeskCode::parse(code.as_str()), Some(code));
    }
    assert_eq!(DeskCode::parse("k7q").unwrap().as_str(), "K7Q");
    assert_eq!(
        DeskCode::parse("O0"),
        None,
        "misreadable characters are refused"
    );
    assert_eq!(DeskCode::parse(""), None);
    let id = SubjectId::new("S01", &DeskCode::parse("K7Q").unwrap(), 7);
    assert_eq!(id.as_str(), "S01-K7Q-0007");
}

#[test]
fn every_message_exists_in_both_languages() {
    let errors = [
        DomainError::Required {
            field: Field::Reason,
        },
        DomainError::BadDate {
            field: Field::ConsentDate,
        },
        DomainError::DateInFuture {
            field: Field::ScreeningDate,
        },
        DomainError::DateOrder {
            earlier: Field::ConsentDate,
            later: Field::EnrollmentDate,
        },
        DomainError::TooLong {
            field: Field::Label,
            max: 8,
        },
        DomainError::LabelNotInitials,
        DomainError::UnknownCriterion { id: "X".into() },
        DomainError::EligibilityNotMet {
            unmet: vec!["I1".into()],
        },
        DomainError::ReasonForChangeRequired {
            field: Field::ConsentDate,
        },
        DomainError::NothingChanged,
        DomainError::InvalidName {
            field: Field::Event,
        },
        DomainError::ValueReasonRequired {
            field: "weight_kg".into(),
        },
    ];
    for e in errors {
        let (en, zh) = (e.message(Lang::EN), e.message(zh()));
        assert!(en.is_ascii() && !en.is_empty(), "{en}");
        assert!(!zh.is_ascii(), "{zh}");
    }
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}
