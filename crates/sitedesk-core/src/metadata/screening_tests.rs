//! The screening instrument's tags: the shipped snippet, each tag, and each
//! refusal, on the snippet changed one field at a time.

use std::collections::BTreeMap;

use super::design::{Arm, CLASSIC_EVENT, Dag, Design, Event, FormEvent, Repeating};
use super::screening::*;
use super::*;
use crate::i18n::Lang;

/// The snippet as a project holds it: after the record id field.
fn snippet_project() -> Dictionary {
    let mut csv = SCREENING_SNIPPET.to_owned();
    let header_end = csv.find('\n').unwrap() + 1;
    csv.insert_str(
        header_end,
        "record_id,screening_log,,text,\"Record ID\",,,,,,,,,,,,,\n",
    );
    parse_csv(csv.as_bytes()).expect("the snippet parses after a record id row")
}

fn field_mut<'a>(d: &'a mut Dictionary, name: &str) -> &'a mut Field {
    d.fields
        .iter_mut()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

fn annotate(d: &mut Dictionary, name: &str, annotation: &str) {
    field_mut(d, name).annotation = (!annotation.is_empty()).then(|| annotation.to_owned());
}

fn classic() -> Design {
    Design::default()
}

fn event(name: &str) -> Event {
    Event {
        event_name: name.into(),
        arm_num: 1,
        unique_event_name: name.into(),
        custom_event_label: None,
    }
}

/// Two events, `screening_arm_1` and `baseline_arm_1`, and the forms each
/// has, in mapping order.
fn longitudinal(mapping: &[(&str, &str)]) -> Design {
    Design {
        arms: vec![Arm {
            arm_num: 1,
            name: "Arm 1".into(),
        }],
        events: vec![event("screening_arm_1"), event("baseline_arm_1")],
        mapping: mapping
            .iter()
            .map(|(event, form)| FormEvent {
                arm_num: 1,
                unique_event_name: (*event).into(),
                form: (*form).into(),
            })
            .collect(),
        ..Design::default()
    }
}

fn find(d: &Dictionary) -> Result<Option<ScreeningInstrument>, ScreeningError> {
    find_screening_instrument(d, &classic())
}

fn found(d: &Dictionary) -> ScreeningInstrument {
    match find(d) {
        Ok(Some(i)) => i,
        Ok(None) => panic!("no screening instrument"),
        Err(e) => panic!("{}", e.message(Lang::EN)),
    }
}

fn error(d: &Dictionary) -> ScreeningError {
    find(d).expect_err("the instrument is refused")
}

// ---- The snippet and each tag ------------------------------------------------

#[test]
fn the_snippet_parses_after_a_record_id_and_is_a_screening_instrument() {
    let i = found(&snippet_project());
    assert_eq!(
        (i.form.as_str(), i.event.as_str()),
        ("screening_log", CLASSIC_EVENT)
    );
    let fields: Vec<(Role, Option<&str>)> =
        Role::ALL.into_iter().map(|r| (r, i.field(r))).collect();
    assert_eq!(
        fields,
        vec![
            (Role::ScreeningDate, Some("scr_date")),
            (Role::Initials, Some("scr_initials")),
            (Role::ConsentDate, Some("scr_consent_date")),
            (Role::ConsentVersion, Some("scr_consent_version")),
            (Role::EnrollmentDate, Some("scr_enrollment_date")),
            (Role::Status, Some("scr_status")),
            (Role::StatusDate, Some("scr_status_date")),
            (Role::StatusReason, Some("scr_status_reason")),
            (Role::StatusReasonOther, Some("scr_status_reason_other")),
        ]
    );
    let criteria: Vec<(&str, Eligibility)> = i
        .criteria
        .iter()
        .map(|c| (c.field.as_str(), c.kind))
        .collect();
    assert_eq!(
        criteria,
        vec![
            ("scr_incl_1", Eligibility::Inclusion),
            ("scr_incl_2", Eligibility::Inclusion),
            ("scr_incl_3", Eligibility::Inclusion),
            ("scr_excl_1", Eligibility::Exclusion),
            ("scr_excl_2", Eligibility::Exclusion),
        ]
    );
    assert_eq!(
        i.criteria[0].label,
        "Inclusion criterion 1 (replace with the protocol's wording)"
    );
    let reasons: Vec<&str> = i.reasons.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(reasons, ["1", "2", "3", "4", "5", "6", "99"]);
    assert_eq!(i.reasons[6].label, "Other");
    assert_eq!(i.other_codes, ["99"]);
    assert_eq!(
        i.targets,
        Targets {
            study: Some(40),
            sites: BTreeMap::new()
        }
    );
    let status = snippet_project().field("scr_status").unwrap().clone();
    let codes: Vec<&str> = status.choices.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, STATUS_CODES);
}

#[test]
fn the_snippet_has_no_record_id_row_and_the_header_of_a_dictionary() {
    let header = SCREENING_SNIPPET.lines().next().unwrap();
    let demo_header = include_str!("../forms/demo_dictionary.csv")
        .lines()
        .next()
        .unwrap();
    assert_eq!(header, demo_header);
    let alone = parse_csv(SCREENING_SNIPPET.as_bytes()).unwrap();
    assert_eq!(alone.fields[0].name, "scr_date");
    assert!(alone.fields.iter().all(|f| f.form == "screening_log"));
}

#[test]
fn role_of_and_stored_fields_name_what_each_field_is_for() {
    let i = found(&snippet_project());
    assert_eq!(i.role_of("scr_status"), Some(FieldRole::Role(Role::Status)));
    assert_eq!(
        i.role_of("scr_excl_2"),
        Some(FieldRole::Criterion(&i.criteria[4]))
    );
    assert_eq!(i.role_of("record_id"), None);
    assert_eq!(i.role_of("screening_log_complete"), None);
    assert_eq!(
        i.stored_fields(),
        [
            "scr_date",
            "scr_initials",
            "scr_consent_date",
            "scr_consent_version",
            "scr_enrollment_date",
            "scr_status",
            "scr_status_date",
            "scr_status_reason",
            "scr_status_reason_other",
            "scr_incl_1",
            "scr_incl_2",
            "scr_incl_3",
            "scr_excl_1",
            "scr_excl_2",
        ]
    );
}

#[test]
fn tags_are_read_in_any_case_among_other_action_tags() {
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_status",
        "@HIDDEN-SURVEY @sitedesk-status\n@DEFAULT='1'  @SiteDesk-Target-Hillview_Hospital=12",
    );
    annotate(&mut d, "scr_incl_2", "@READONLY @Sitedesk-Inclusion");
    let i = found(&d);
    assert_eq!(i.field(Role::Status), Some("scr_status"));
    assert_eq!(i.criteria.len(), 5);
    assert_eq!(i.targets.study, None);
    assert_eq!(
        i.targets.sites,
        BTreeMap::from([("hillview_hospital".to_owned(), 12)])
    );
}

#[test]
fn a_project_without_sitedesk_tags_has_no_screening_instrument() {
    let mut d = snippet_project();
    for f in &mut d.fields {
        f.annotation = Some("@HIDDEN @DEFAULT='SITEDESK'".into());
    }
    assert_eq!(find(&d), Ok(None));
    d.fields.iter_mut().for_each(|f| f.annotation = None);
    assert_eq!(find(&d), Ok(None));
}

#[test]
fn the_other_specify_field_is_optional() {
    let mut d = snippet_project();
    annotate(&mut d, "scr_status_reason_other", "");
    let i = found(&d);
    assert_eq!(i.field(Role::StatusReasonOther), None);
    assert_eq!(i.fields.status_reason_other, None);
    assert_eq!(i.other_codes, ["1", "2", "3", "4", "5", "6", "99"]);
    assert!(!i.stored_fields().contains(&"scr_status_reason_other"));
}

#[test]
fn no_criteria_is_an_empty_checklist() {
    let mut d = snippet_project();
    for name in [
        "scr_incl_1",
        "scr_incl_2",
        "scr_incl_3",
        "scr_excl_1",
        "scr_excl_2",
    ] {
        annotate(&mut d, name, "");
    }
    assert!(found(&d).criteria.is_empty());
}

// ---- Roles: missing, twice, wrong type ----------------------------------------

#[test]
fn every_missing_role_is_listed_at_once() {
    let mut d = snippet_project();
    annotate(&mut d, "scr_date", "");
    annotate(&mut d, "scr_status", "@SITEDESK-TARGET=40");
    annotate(&mut d, "scr_status_reason", "@HIDDEN");
    let e = error(&d);
    assert_eq!(
        e,
        ScreeningError::Missing {
            roles: vec![Role::ScreeningDate, Role::Status, Role::StatusReason]
        }
    );
    assert_eq!(
        e.message(Lang::EN),
        "Screening instrument: no field has these 3 tags: @SITEDESK-SCREENING-DATE, \
         @SITEDESK-STATUS, @SITEDESK-STATUS-REASON."
    );
}

#[test]
fn a_target_alone_is_an_instrument_without_its_roles() {
    let mut d = snippet_project();
    for f in &mut d.fields {
        f.annotation = None;
    }
    annotate(&mut d, "scr_status", "@SITEDESK-TARGET=40");
    let ScreeningError::Missing { roles } = error(&d) else {
        panic!("the roles are missing");
    };
    let required: Vec<Role> = Role::ALL.into_iter().filter(|r| r.required()).collect();
    assert_eq!(roles, required);
}

#[test]
fn a_role_on_two_fields_names_both() {
    let mut d = snippet_project();
    annotate(&mut d, "scr_enrollment_date", "@SITEDESK-STATUS-DATE");
    let e = error(&d);
    assert_eq!(
        e,
        ScreeningError::DuplicateRole {
            role: Role::StatusDate,
            first: "scr_enrollment_date".into(),
            second: "scr_status_date".into(),
        }
    );
    assert_eq!(
        e.message(Lang::EN),
        "Screening instrument: @SITEDESK-STATUS-DATE is on two fields, scr_enrollment_date \
         and scr_status_date; it belongs on one."
    );
}

#[test]
fn one_field_takes_one_role_though_it_may_repeat_its_tag() {
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_consent_date",
        "@SITEDESK-CONSENT-DATE @SITEDESK-ENROLLMENT-DATE",
    );
    assert_eq!(
        error(&d),
        ScreeningError::TwoRoles {
            field: "scr_consent_date".into(),
            first: "@SITEDESK-CONSENT-DATE",
            second: "@SITEDESK-ENROLLMENT-DATE",
        }
    );
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_incl_1",
        "@SITEDESK-INCLUSION @SITEDESK-EXCLUSION",
    );
    assert!(matches!(error(&d), ScreeningError::TwoRoles { .. }));
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_incl_1",
        "@SITEDESK-INCLUSION @sitedesk-inclusion",
    );
    annotate(
        &mut d,
        "scr_date",
        "@SITEDESK-SCREENING-DATE @SITEDESK-SCREENING-DATE",
    );
    let i = found(&d);
    assert_eq!(i.criteria.len(), 5, "a repeated tag counts once");
    assert_eq!(i.field(Role::ScreeningDate), Some("scr_date"));
}

#[test]
fn a_field_of_the_wrong_type_says_what_it_must_be() {
    let mut d = snippet_project();
    field_mut(&mut d, "scr_consent_date").validation = Some("date_dmy".into());
    let e = error(&d);
    assert_eq!(
        e,
        ScreeningError::WrongType {
            field: "scr_consent_date".into(),
            tag: "@SITEDESK-CONSENT-DATE",
            expected: Expected::Date,
        }
    );
    assert_eq!(
        e.message(Lang::EN),
        "Screening instrument: field scr_consent_date has @SITEDESK-CONSENT-DATE, so it must \
         be a text field validated as date_ymd."
    );

    let cases: [(&str, FieldType, &str, Expected); 5] = [
        (
            "scr_initials",
            FieldType::Notes,
            "@SITEDESK-INITIALS",
            Expected::Text,
        ),
        (
            "scr_status",
            FieldType::Checkbox,
            "@SITEDESK-STATUS",
            Expected::Choice,
        ),
        (
            "scr_status_reason_other",
            FieldType::Dropdown,
            "@SITEDESK-STATUS-REASON-OTHER",
            Expected::TextOrNotes,
        ),
        (
            "scr_excl_1",
            FieldType::Truefalse,
            "@SITEDESK-EXCLUSION",
            Expected::Yesno,
        ),
        (
            "scr_status_date",
            FieldType::Notes,
            "@SITEDESK-STATUS-DATE",
            Expected::Date,
        ),
    ];
    for (name, field_type, tag, expected) in cases {
        let mut d = snippet_project();
        field_mut(&mut d, name).field_type = field_type;
        assert_eq!(
            error(&d),
            ScreeningError::WrongType {
                field: name.into(),
                tag,
                expected,
            },
            "{name} as {field_type:?}"
        );
    }

    // What each role allows besides the snippet's choice.
    let mut d = snippet_project();
    field_mut(&mut d, "scr_status").field_type = FieldType::Dropdown;
    field_mut(&mut d, "scr_status_reason").field_type = FieldType::Radio;
    field_mut(&mut d, "scr_status_reason_other").field_type = FieldType::Notes;
    field_mut(&mut d, "scr_initials").validation = Some("alpha_only".into());
    found(&d);
}

#[test]
fn tagged_fields_in_two_forms_are_refused_with_the_forms() {
    let mut d = snippet_project();
    field_mut(&mut d, "scr_status_reason_other").form = "status_changes".into();
    let e = error(&d);
    assert_eq!(
        e,
        ScreeningError::SeveralForms {
            forms: vec!["screening_log".into(), "status_changes".into()]
        }
    );
    assert!(
        e.message(Lang::EN)
            .contains("they are in screening_log, status_changes"),
        "{}",
        e.message(Lang::EN)
    );
}

#[test]
fn a_target_on_a_field_of_another_form_counts_as_a_tagged_field() {
    let mut d = snippet_project();
    field_mut(&mut d, "record_id").form = "enrollment".into();
    annotate(&mut d, "record_id", "@SITEDESK-TARGET-riverside_clinic=8");
    assert!(matches!(error(&d), ScreeningError::SeveralForms { .. }));
}

// ---- Status codes ---------------------------------------------------------------

#[test]
fn the_status_field_needs_exactly_the_five_codes() {
    let mut d = snippet_project();
    field_mut(&mut d, "scr_status")
        .choices
        .retain(|c| c.code != "2" && c.code != "5");
    let e = error(&d);
    assert_eq!(
        e,
        ScreeningError::StatusCodesMissing {
            field: "scr_status".into(),
            codes: vec!["2".into(), "5".into()],
        }
    );
    assert!(e.message(Lang::EN).contains("lacks the choice codes 2, 5"));

    let mut d = snippet_project();
    let status = field_mut(&mut d, "scr_status");
    for code in ["0", "6"] {
        status.choices.push(Choice {
            code: code.into(),
            label: "Lost".into(),
        });
    }
    assert_eq!(
        error(&d),
        ScreeningError::StatusCodesExtra {
            field: "scr_status".into(),
            codes: vec!["0".into(), "6".into()],
        }
    );

    // Labels and order are the site's own.
    let mut d = snippet_project();
    let status = field_mut(&mut d, "scr_status");
    status.choices.reverse();
    status.choices[0].label = "Retiré".into();
    found(&d);
}

// ---- Targets ------------------------------------------------------------------------

fn with_dags() -> Design {
    Design {
        dags: ["riverside_clinic", "hillview_hospital"]
            .into_iter()
            .map(|g| Dag {
                data_access_group_name: g.into(),
                unique_group_name: g.into(),
            })
            .collect(),
        ..Design::default()
    }
}

#[test]
fn targets_of_the_study_and_of_each_site() {
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_status",
        "@SITEDESK-STATUS @SITEDESK-TARGET=120 @SITEDESK-TARGET-riverside_clinic='70'",
    );
    annotate(
        &mut d,
        "scr_date",
        "@SITEDESK-SCREENING-DATE @SITEDESK-TARGET-HILLVIEW_HOSPITAL=0",
    );
    let i = find_screening_instrument(&d, &with_dags())
        .unwrap()
        .unwrap();
    assert_eq!(
        i.targets,
        Targets {
            study: Some(120),
            sites: BTreeMap::from([
                ("hillview_hospital".to_owned(), 0),
                ("riverside_clinic".to_owned(), 70),
            ]),
        }
    );
    // Without the design's sites, a site's target is taken as written.
    annotate(
        &mut d,
        "scr_date",
        "@SITEDESK-SCREENING-DATE @SITEDESK-TARGET-elsewhere=5",
    );
    assert_eq!(found(&d).targets.sites.get("elsewhere"), Some(&5));
}

#[test]
fn a_target_that_is_not_a_whole_number_is_refused() {
    for (tag, value) in [
        ("@SITEDESK-TARGET", "-1"),
        ("@SITEDESK-TARGET", "4.5"),
        ("@SITEDESK-TARGET", "forty"),
        ("@SITEDESK-TARGET", "+40"),
        ("@SITEDESK-TARGET", ""),
        ("@SITEDESK-TARGET", "99999999999"),
        ("@SITEDESK-TARGET-riverside_clinic", ""),
    ] {
        let mut d = snippet_project();
        let written = if value.is_empty() {
            tag.to_owned()
        } else {
            format!("{tag}={value}")
        };
        annotate(&mut d, "scr_status", &format!("@SITEDESK-STATUS {written}"));
        assert_eq!(
            error(&d),
            ScreeningError::BadTarget {
                field: "scr_status".into(),
                tag: tag.into(),
                value: value.into(),
            },
            "{written}"
        );
    }
    let mut d = snippet_project();
    annotate(&mut d, "scr_status", "@SITEDESK-STATUS @SITEDESK-TARGET=-3");
    assert_eq!(
        error(&d).message(Lang::EN),
        "Screening instrument: field scr_status: @SITEDESK-TARGET must be a whole number, \
         0 or more, not \"-3\"."
    );
}

#[test]
fn a_target_given_twice_is_refused() {
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_date",
        "@SITEDESK-SCREENING-DATE @SITEDESK-TARGET=40",
    );
    assert_eq!(
        error(&d),
        ScreeningError::DuplicateTarget {
            tag: "@SITEDESK-TARGET".into(),
            first: "scr_date".into(),
            second: "scr_status".into(),
        }
    );
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_status",
        "@SITEDESK-STATUS @SITEDESK-TARGET-riverside_clinic=3 @SITEDESK-TARGET-Riverside_Clinic=3",
    );
    assert_eq!(
        error(&d),
        ScreeningError::DuplicateTarget {
            tag: "@SITEDESK-TARGET-riverside_clinic".into(),
            first: "scr_status".into(),
            second: "scr_status".into(),
        }
    );
}

#[test]
fn a_target_for_a_site_the_design_lacks_is_refused() {
    let mut d = snippet_project();
    annotate(
        &mut d,
        "scr_status",
        "@SITEDESK-STATUS @SITEDESK-TARGET-riverside=3",
    );
    assert_eq!(
        find_screening_instrument(&d, &with_dags()),
        Err(ScreeningError::UnknownSite {
            field: "scr_status".into(),
            tag: "@SITEDESK-TARGET-riverside".into(),
            site: "riverside".into(),
        })
    );
}

// ---- Unknown tags -----------------------------------------------------------------

#[test]
fn an_unknown_sitedesk_tag_is_refused_as_written() {
    for written in [
        "@SITEDESK-SCREENINGDATE",
        "@sitedesk-consent",
        "@SITEDESK-TARGETS=40",
        "@SITEDESK-TARGET-=40",
        "@SITEDESK-",
        "@SITEDESK-INCLUSION=1",
    ] {
        let mut d = snippet_project();
        annotate(
            &mut d,
            "scr_initials",
            &format!("@SITEDESK-INITIALS {written}"),
        );
        let e = error(&d);
        assert_eq!(
            e,
            ScreeningError::UnknownTag {
                field: "scr_initials".into(),
                tag: written.into(),
            }
        );
        assert!(e.message(Lang::EN).contains("not a SiteDesk tag"), "{e}");
    }
    // On a field of another form too: a typo is never passed over.
    let mut d = snippet_project();
    field_mut(&mut d, "record_id").form = "enrollment".into();
    annotate(&mut d, "record_id", "@SITEDESK-STATUSES");
    assert!(matches!(error(&d), ScreeningError::UnknownTag { .. }));
}

// ---- "Other, specify" ------------------------------------------------------------------

#[test]
fn other_codes_come_from_the_other_fields_branching_logic() {
    let cases: [(Option<&str>, &[&str]); 5] = [
        (
            Some("[scr_status_reason] = '99' or [scr_status_reason] = '5'"),
            &["5", "99"],
        ),
        (
            Some("[scr_status_reason] <> '' and [scr_status_reason] <> '3'"),
            &["1", "2", "4", "5", "6", "99"],
        ),
        (Some("[screening_arm_1][scr_status_reason] = '6'"), &["6"]),
        (
            Some("[scr_status_reason] = '99' and [scr_status] = '5'"),
            &[],
        ),
        (None, &["1", "2", "3", "4", "5", "6", "99"]),
    ];
    for (logic, codes) in cases {
        let mut d = snippet_project();
        field_mut(&mut d, "scr_status_reason_other").branching_logic = logic.map(str::to_owned);
        let design = longitudinal(&[("screening_arm_1", "screening_log")]);
        let i = find_screening_instrument(&d, &design).unwrap().unwrap();
        assert_eq!(i.other_codes, codes, "{logic:?}");
    }
    // The reason at another event is blank here.
    let mut d = snippet_project();
    field_mut(&mut d, "scr_status_reason_other").branching_logic =
        Some("[baseline_arm_1][scr_status_reason] = '99'".into());
    let design = longitudinal(&[("screening_arm_1", "screening_log")]);
    let i = find_screening_instrument(&d, &design).unwrap().unwrap();
    assert!(i.other_codes.is_empty());
}

#[test]
fn other_logic_that_cannot_be_evaluated_names_the_field() {
    for logic in [
        "[scr_status_reason] = ",
        "[scr_status_reason] = '99' and [user-role-name] = 'x'",
        "if([scr_status_reason] = '99', 1)",
    ] {
        let mut d = snippet_project();
        field_mut(&mut d, "scr_status_reason_other").branching_logic = Some(logic.into());
        let e = error(&d);
        let ScreeningError::OtherLogic { field, .. } = &e else {
            panic!("{logic}: {e:?}");
        };
        assert_eq!(field, "scr_status_reason_other");
        assert!(
            e.message(Lang::EN)
                .contains("the branching logic of scr_status_reason_other"),
            "{}",
            e.message(Lang::EN)
        );
    }
}

// ---- Placement ------------------------------------------------------------------------

#[test]
fn a_longitudinal_instrument_is_at_the_first_event_it_is_designated_for() {
    let d = snippet_project();
    let at = |design: &Design| find_screening_instrument(&d, design).map(|i| i.unwrap().event);
    assert_eq!(
        at(&longitudinal(&[("baseline_arm_1", "screening_log")])),
        Ok("baseline_arm_1".into())
    );
    assert_eq!(
        at(&longitudinal(&[
            ("baseline_arm_1", "screening_log"),
            ("screening_arm_1", "screening_log"),
        ])),
        Ok("screening_arm_1".into()),
        "the events' order, not the mapping's"
    );
    assert_eq!(
        at(&longitudinal(&[("screening_arm_1", "demographics")])),
        Err(ScreeningError::NotDesignated {
            form: "screening_log".into()
        })
    );
}

#[test]
fn a_repeating_instrument_is_refused() {
    let d = snippet_project();
    let repeating = |event: &str, form: &str| Repeating {
        event_name: event.into(),
        form_name: form.into(),
        custom_form_label: None,
    };
    let mut design = longitudinal(&[("screening_arm_1", "screening_log")]);
    design.repeating = vec![repeating("screening_arm_1", "screening_log")];
    let e = find_screening_instrument(&d, &design).unwrap_err();
    assert_eq!(
        e,
        ScreeningError::Repeating {
            form: "screening_log".into(),
            event: "screening_arm_1".into(),
        }
    );
    design.repeating = vec![repeating("screening_arm_1", "")];
    assert!(matches!(
        find_screening_instrument(&d, &design),
        Err(ScreeningError::Repeating { .. })
    ));
    // Repeating at a later event leaves the first one's instance alone.
    let mut design = longitudinal(&[
        ("screening_arm_1", "screening_log"),
        ("baseline_arm_1", "screening_log"),
    ]);
    design.repeating = vec![repeating("baseline_arm_1", "screening_log")];
    assert!(find_screening_instrument(&d, &design).is_ok());
    // A classic project's repeating form.
    let mut design = classic();
    design.repeating = vec![repeating("", "screening_log")];
    assert_eq!(
        find_screening_instrument(&d, &design),
        Err(ScreeningError::Repeating {
            form: "screening_log".into(),
            event: CLASSIC_EVENT.into(),
        })
    );
}

#[test]
fn a_classic_project_keeps_the_instrument_at_its_one_event() {
    let i = found(&snippet_project());
    assert_eq!(i.event, CLASSIC_EVENT);
    assert_eq!(classic().event_names(), [CLASSIC_EVENT]);
}

// ---- The snippet instrument -------------------------------------------------------

#[test]
fn the_snippet_instrument_is_at_the_designs_first_event() {
    let design = longitudinal(&[("baseline_arm_1", "vitals")]);
    let i = snippet_instrument(&design);
    assert_eq!(i.event, "screening_arm_1");
    let mut expected = found(&snippet_project());
    expected.event = "screening_arm_1".into();
    assert_eq!(i, expected);
    assert_eq!(snippet_instrument(&classic()).event, CLASSIC_EVENT);
}

#[test]
fn an_instrument_travels_as_json() {
    let i = found(&snippet_project());
    let json = serde_json::to_value(&i).unwrap();
    assert_eq!(json["fields"]["status"], "scr_status");
    assert_eq!(
        json["fields"]["status_reason_other"],
        "scr_status_reason_other"
    );
    assert_eq!(json["criteria"][3]["kind"], "exclusion");
    assert_eq!(json["targets"]["study"], 40);
    let back: ScreeningInstrument = serde_json::from_value(json).unwrap();
    assert_eq!(back, i);
}
