use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::metadata::logic::check_dictionary;
use crate::metadata::screening::{Eligibility, SCREENING_SNIPPET, find_screening_instrument};

fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 6, 15)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

fn demographics() -> FormAt<'static> {
    FormAt {
        record_id: "S01-0001",
        event: "screening_arm_1",
        form: "demographics",
        instance: 1,
    }
}

fn typed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn saved(rows: &[(&str, u32, &str, &str)]) -> RecordValues {
    RecordValues::new(rows.iter().map(|(e, i, f, v)| SavedValue {
        event: e.to_string(),
        instance: *i,
        field: f.to_string(),
        value: v.to_string(),
    }))
}

fn state<'a>(e: &'a Evaluation, field: &str) -> &'a FieldState {
    e.fields.iter().find(|s| s.name == field).unwrap()
}

fn input(values: &[(&str, &str)]) -> FormInput {
    FormInput {
        values: typed(values),
        status: FormStatus::Incomplete,
        confirmed: Vec::new(),
        reason: None,
    }
}

#[test]
fn the_demo_forms_use_only_logic_the_desk_can_evaluate() {
    let (d, design) = demo_forms();
    assert_eq!(check_dictionary(&d), vec![]);
    assert!(design.is_longitudinal());
    assert!(design.repeats("baseline_arm_1", "adverse_events"));
}

/// The demo's criteria, by field: the only words of the screening log the
/// demo does not take from the snippet.
const DEMO_CRITERIA: [(&str, &str); 5] = [
    ("scr_incl_1", "Aged 18 to 75 years"),
    (
        "scr_incl_2",
        "Type 2 diabetes diagnosed at least 6 months ago",
    ),
    ("scr_incl_3", "HbA1c between 7.0% and 10.5%"),
    ("scr_excl_1", "Pregnant or breastfeeding"),
    (
        "scr_excl_2",
        "In another interventional trial within 30 days",
    ),
];

#[test]
fn the_demo_screening_log_is_the_snippet_with_the_demos_criteria() {
    let (d, _) = demo_forms();
    let snippet = crate::metadata::parse_csv(SCREENING_SNIPPET.as_bytes()).unwrap();
    let demo: Vec<&Field> = d
        .fields
        .iter()
        .filter(|f| f.form == "screening_log")
        .collect();
    assert_eq!(demo.len(), snippet.fields.len());
    for (demo, snippet) in demo.into_iter().zip(&snippet.fields) {
        let mut expected = snippet.clone();
        if let Some((_, label)) = DEMO_CRITERIA.iter().find(|(f, _)| *f == snippet.name) {
            expected.label = (*label).to_owned();
        }
        assert_eq!(demo, &expected);
    }
    let forms: Vec<String> = d.instruments().into_iter().map(|i| i.name).collect();
    assert_eq!(forms[..2], ["demographics", "screening_log"]);
    assert_eq!(d.record_id_field().name, "record_id");
}

#[test]
fn the_demo_has_its_screening_instrument_at_screening() {
    let (d, design) = demo_forms();
    let i = find_screening_instrument(&d, &design)
        .unwrap()
        .expect("the demo has a screening instrument");
    assert_eq!(
        (i.form.as_str(), i.event.as_str()),
        ("screening_log", "screening_arm_1")
    );
    let criteria: Vec<(&str, Eligibility, &str)> = i
        .criteria
        .iter()
        .map(|c| (c.field.as_str(), c.kind, c.label.as_str()))
        .collect();
    let kinds = [
        Eligibility::Inclusion,
        Eligibility::Inclusion,
        Eligibility::Inclusion,
        Eligibility::Exclusion,
        Eligibility::Exclusion,
    ];
    let expected: Vec<(&str, Eligibility, &str)> = DEMO_CRITERIA
        .iter()
        .zip(kinds)
        .map(|((field, label), kind)| (*field, kind, *label))
        .collect();
    assert_eq!(criteria, expected);
    assert_eq!(i.targets.study, Some(40));
    assert_eq!(i.other_codes, ["99"]);
    assert_eq!(design.form_label("screening_log"), "Screening log");
    assert_eq!(
        design.forms_for_event(&d, "screening_arm_1"),
        ["demographics", "screening_log"]
    );
}

#[test]
fn labels_lose_scripts_handlers_and_images_but_keep_formatting() {
    let cases = [
        ("<img src=x onerror=alert(1)>Weight", "Weight"),
        (
            "<b>Bold</b> and <i>italic</i>",
            "<b>Bold</b> and <i>italic</i>",
        ),
        ("a<script>alert(1)</script>b", "ab"),
        (
            "<span style=\"color:red\" onclick=\"x()\">red</span>",
            "<span>red</span>",
        ),
        ("<a href=\"javascript:alert(1)\">link</a>", "link"),
        ("<iframe src=\"https://example.org\"></iframe>x", "x"),
        ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
    ];
    for (html, want) in cases {
        assert_eq!(sanitize_html(html), want, "{html}");
    }
    assert_eq!(
        plain_text("<b>Height</b> (cm) &amp; more"),
        "Height (cm) & more"
    );
}

#[test]
fn the_form_view_sanitizes_every_label_and_describes_each_field() {
    let (mut d, design) = demo_forms();
    d.fields[2].label = "<img src=x onerror=alert(1)>Date of birth".into();
    let study = Study::new(&d, &design);
    let view = study
        .form_view(&demographics(), &RecordValues::default(), now(), Lang::EN)
        .unwrap();
    assert!(
        view.fields.iter().all(|f| f.name != "record_id"),
        "the record id is the subject's, not a field to fill"
    );
    let dob = view.fields.iter().find(|f| f.name == "dob").unwrap();
    assert_eq!(dob.label_html, "Date of birth");
    assert!(dob.required && dob.identifier);
    assert_eq!(dob.validation.as_deref(), Some("date_ymd"));
    let ae = study
        .form_view(
            &FormAt {
                record_id: "S01-0001",
                event: "baseline_arm_1",
                form: "adverse_events",
                instance: 3,
            },
            &RecordValues::default(),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert!(ae.repeating);
    let unavailable: Vec<_> = ae
        .fields
        .iter()
        .filter_map(|f| f.unavailable.map(|u| (f.name.as_str(), u)))
        .collect();
    assert_eq!(
        unavailable,
        vec![
            ("ae_photo", Unavailable::File),
            ("ae_signature", Unavailable::Signature)
        ]
    );
    let vitals = study
        .form_view(
            &FormAt {
                record_id: "S01-0001",
                event: "week_4_arm_1",
                form: "vitals",
                instance: 1,
            },
            &RecordValues::default(),
            now(),
            Lang::EN,
        )
        .unwrap();
    let slider = vitals
        .fields
        .iter()
        .find(|f| f.name == "wellbeing")
        .unwrap();
    let s = slider.slider.as_ref().unwrap();
    assert_eq!(
        (s.left.as_str(), s.right.as_str()),
        ("Very unwell", "Very well")
    );
    let matrix: Vec<_> = vitals
        .fields
        .iter()
        .filter(|f| f.matrix_group.as_deref() == Some("symptoms"))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(matrix, vec!["sym_thirst", "sym_fatigue", "sym_vision"]);
}

#[test]
fn a_form_must_belong_to_its_event_and_repeat_to_have_instances() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let at = |event: &'static str, form: &'static str, instance| FormAt {
        record_id: "S01-0001",
        event,
        form,
        instance,
    };
    let none = RecordValues::default();
    let err = |a: FormAt<'_>| study.form_view(&a, &none, now(), Lang::EN).unwrap_err();
    assert_eq!(
        err(at("screening_arm_1", "nope", 1)),
        FormError::UnknownForm("nope".into())
    );
    assert_eq!(
        err(at("nope_arm_1", "vitals", 1)),
        FormError::UnknownEvent("nope_arm_1".into())
    );
    assert!(matches!(
        err(at("screening_arm_1", "vitals", 1)),
        FormError::NotInEvent { .. }
    ));
    assert!(matches!(
        err(at("baseline_arm_1", "vitals", 2)),
        FormError::NotRepeating { .. }
    ));
    assert!(matches!(
        err(at("baseline_arm_1", "adverse_events", 0)),
        FormError::NotRepeating { .. }
    ));
}

#[test]
fn branching_logic_shows_fields_as_values_are_typed() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    let eval = |t: &[(&str, &str)]| {
        study
            .evaluate(&demographics(), &none, &typed(t), now(), Lang::EN)
            .unwrap()
    };
    assert!(!state(&eval(&[]), "pregnant").visible);
    assert!(!state(&eval(&[("sex", "1")]), "pregnant").visible);
    assert!(state(&eval(&[("sex", "2")]), "pregnant").visible);
    assert!(state(&eval(&[("smoker", "1")]), "cigs_per_day").visible);
    // A saved value counts when nothing was typed over it.
    let e = study
        .evaluate(
            &demographics(),
            &saved(&[("screening_arm_1", 1, "sex", "2")]),
            &typed(&[]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert!(state(&e, "pregnant").visible);
    // Checkbox choices: meds(99) shows "other".
    let meds = FormAt {
        record_id: "S01-0001",
        event: "baseline_arm_1",
        form: "medications",
        instance: 1,
    };
    let e = study
        .evaluate(&meds, &none, &typed(&[("meds___99", "1")]), now(), Lang::EN)
        .unwrap();
    assert!(state(&e, "meds_other").visible);
    assert!(!state(&e, "insulin_units").visible);
}

#[test]
fn calculations_update_from_typed_values_and_blank_operands_give_blank() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    let e = study
        .evaluate(
            &demographics(),
            &none,
            &typed(&[("height_cm", "170"), ("weight_kg", "72.5")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "bmi").calc.as_deref(), Some("25.1"));
    let e = study
        .evaluate(
            &demographics(),
            &none,
            &typed(&[("height_cm", "170")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "bmi").calc.as_deref(), Some(""));
}

#[test]
fn validation_messages_are_errors_confirmations_or_missing() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    let e = study
        .evaluate(
            &demographics(),
            &none,
            &typed(&[
                ("height_cm", "tall"),
                ("weight_kg", "400.0"),
                ("dob", ""),
                ("sex", "3"),
            ]),
            now(),
            Lang::EN,
        )
        .unwrap();
    let severity = |f| state(&e, f).message.as_ref().map(|m| m.severity);
    assert_eq!(severity("height_cm"), Some(Severity::Error));
    assert_eq!(severity("weight_kg"), Some(Severity::Confirm));
    assert_eq!(severity("dob"), Some(Severity::Missing));
    assert_eq!(severity("sex"), Some(Severity::Error));
    assert_eq!(e.out_of_range, vec!["weight_kg".to_string()]);
    let zh = study
        .evaluate(
            &demographics(),
            &none,
            &typed(&[("height_cm", "tall")]),
            now(),
            zh(),
        )
        .unwrap();
    assert!(
        state(&zh, "height_cm")
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("格式不正确")
    );
}

#[test]
fn saving_writes_only_changed_values_with_the_calc_and_the_status() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let before = saved(&[
        ("screening_arm_1", 1, "height_cm", "170"),
        ("screening_arm_1", 1, "sex", "1"),
    ]);
    let mut i = input(&[
        ("height_cm", "170"),
        ("weight_kg", "72.5"),
        ("sex", "1"),
        ("dob", "1980-02-29"),
    ]);
    i.status = FormStatus::Complete;
    let edit = study
        .plan_save(&demographics(), &before, &i, now(), Lang::EN)
        .unwrap();
    let got: Vec<(&str, Option<&str>)> = edit
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("bmi", Some("25.1")),
            ("demographics_complete", Some("2")),
            ("dob", Some("1980-02-29")),
            ("weight_kg", Some("72.5")),
        ]
    );
    assert_eq!(edit.reason, None);
    assert_eq!((edit.event.as_str(), edit.instance), ("screening_arm_1", 1));
}

#[test]
fn dates_typed_in_the_fields_order_are_stored_iso_and_shown_back() {
    let (mut d, design) = demo_forms();
    let dob = d.fields.iter_mut().find(|f| f.name == "dob").unwrap();
    dob.validation = Some("date_dmy".into());
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    let edit = study
        .plan_save(
            &demographics(),
            &none,
            &input(&[("dob", "29-02-1980")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(edit.values["dob"].as_deref(), Some("1980-02-29"));
    let after = saved(&[("screening_arm_1", 1, "dob", "1980-02-29")]);
    let view = study
        .form_view(&demographics(), &after, now(), Lang::EN)
        .unwrap();
    assert_eq!(view.values["dob"], "29-02-1980");
    // Shown unchanged, it is not a change.
    let e = study
        .evaluate(
            &demographics(),
            &after,
            &typed(&[("dob", "29-02-1980")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert!(!e.changed.contains(&"dob".to_string()));
}

#[test]
fn malformed_and_unconfirmed_values_are_refused_with_every_field_named() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    let err = study
        .plan_save(
            &demographics(),
            &none,
            &input(&[("height_cm", "tall"), ("weight_kg", "400.0")]),
            now(),
            Lang::EN,
        )
        .unwrap_err();
    let FormError::Values(problems) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, vec!["height_cm", "weight_kg"]);
    assert_eq!(problems[0].label, "Height (cm)");
    assert!(err.message(Lang::EN).contains("Height (cm)"));
    assert!(err.message(zh()).contains("个字段需要处理"));

    let mut confirmed = input(&[("weight_kg", "400.0")]);
    confirmed.confirmed = vec!["weight_kg".into()];
    assert_eq!(
        study
            .plan_save(&demographics(), &none, &confirmed, now(), Lang::EN)
            .unwrap_err(),
        FormError::ReasonRequired
    );
    confirmed.reason = Some("  Checked on the scale twice  ".into());
    let edit = study
        .plan_save(&demographics(), &none, &confirmed, now(), Lang::EN)
        .unwrap();
    assert_eq!(edit.values["weight_kg"].as_deref(), Some("400.0"));
    assert_eq!(edit.reason.as_deref(), Some("Checked on the scale twice"));
}

#[test]
fn unknown_fields_and_values_of_other_forms_are_refused() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    for key in ["sbp", "bmi", "record_id", "demo_intro", "meds", "nope"] {
        assert_eq!(
            study
                .plan_save(
                    &demographics(),
                    &none,
                    &input(&[(key, "1")]),
                    now(),
                    Lang::EN
                )
                .unwrap_err(),
            FormError::UnknownField(key.into()),
            "{key}"
        );
    }
}

#[test]
fn a_hidden_fields_malformed_value_neither_blocks_nor_overwrites() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let before = saved(&[("screening_arm_1", 1, "cigs_per_day", "10")]);
    let edit = study
        .plan_save(
            &demographics(),
            &before,
            &input(&[("smoker", "0"), ("cigs_per_day", "ten")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert!(!edit.values.contains_key("cigs_per_day"));
    assert_eq!(edit.values["smoker"].as_deref(), Some("0"));
}

#[test]
fn changing_or_clearing_a_saved_value_is_reported_as_needing_a_reason() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let before = saved(&[
        ("baseline_arm_1", 1, "meds___1", "1"),
        ("baseline_arm_1", 1, "meds___2", "1"),
    ]);
    let meds = FormAt {
        record_id: "S01-0001",
        event: "baseline_arm_1",
        form: "medications",
        instance: 1,
    };
    let e = study
        .evaluate(
            &meds,
            &before,
            &typed(&[("meds___2", ""), ("meds___3", "1")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(e.changes_saved, vec!["meds___2".to_string()]);
    assert_eq!(
        e.changed,
        vec!["meds___2".to_string(), "meds___3".to_string()]
    );
    let edit = study
        .plan_save(
            &meds,
            &before,
            &input(&[("meds___2", ""), ("meds___3", "1")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(edit.values["meds___2"], None);
    assert_eq!(edit.values["meds___3"].as_deref(), Some("1"));
}

#[test]
fn the_visit_grid_shows_each_events_forms_status_and_instances() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let values = saved(&[
        ("screening_arm_1", 1, "record_id", "S01-0001"),
        ("screening_arm_1", 1, "sex", "2"),
        ("screening_arm_1", 1, "demographics_complete", "2"),
        ("baseline_arm_1", 1, "sbp", "120"),
        ("baseline_arm_1", 1, "meds___1", "1"),
        ("baseline_arm_1", 1, "medications_complete", "1"),
        ("baseline_arm_1", 2, "ae_term", "Headache"),
        ("baseline_arm_1", 1, "ae_term", "Nausea"),
        ("baseline_arm_1", 1, "adverse_events_complete", "2"),
    ]);
    let grid = study.visit_grid(&values);
    let events: Vec<_> = grid.events.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(events, vec!["Screening", "Baseline", "Week 4", "Week 12"]);
    let forms: Vec<_> = grid.forms.iter().map(|f| f.label.as_str()).collect();
    assert_eq!(
        forms,
        vec![
            "Demographics",
            "Screening log",
            "Vital signs and laboratory",
            "Diabetes medication",
            "Adverse events (AE)"
        ]
    );
    let mut unlabelled = design.clone();
    unlabelled.instruments.clear();
    assert_eq!(unlabelled.form_label("adverse_events"), "Adverse events");
    let cell = |event: &str, form: &str| {
        grid.cells
            .iter()
            .find(|c| c.event == event && c.form == form)
            .map(|c| {
                c.instances
                    .iter()
                    .map(|i| (i.instance, i.status))
                    .collect::<Vec<_>>()
            })
    };
    use CellStatus::*;
    assert_eq!(
        cell("screening_arm_1", "demographics"),
        Some(vec![(1, Complete)])
    );
    assert_eq!(cell("screening_arm_1", "vitals"), None);
    assert_eq!(
        cell("screening_arm_1", "screening_log"),
        Some(vec![(1, Empty)])
    );
    assert_eq!(
        cell("baseline_arm_1", "vitals"),
        Some(vec![(1, Incomplete)])
    );
    assert_eq!(
        cell("baseline_arm_1", "medications"),
        Some(vec![(1, Unverified)])
    );
    assert_eq!(
        cell("baseline_arm_1", "adverse_events"),
        Some(vec![(1, Complete), (2, Incomplete)])
    );
    assert_eq!(cell("week_4_arm_1", "adverse_events"), Some(vec![]));
    assert_eq!(cell("week_4_arm_1", "vitals"), Some(vec![(1, Empty)]));
}

#[test]
fn checkbox_names_follow_redcaps_export_columns_and_an_exported_zero_is_unticked() {
    assert_eq!(choice_field("race", "-99"), "race____99");
    assert_eq!(choice_field("meds", "A"), "meds___a");
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let meds = FormAt {
        record_id: "S01-0001",
        event: "baseline_arm_1",
        form: "medications",
        instance: 1,
    };
    // As pulled from the EDC: every box has a value, unticked ones "0".
    let before = saved(&[
        ("baseline_arm_1", 1, "meds___1", "1"),
        ("baseline_arm_1", 1, "meds___2", "0"),
    ]);
    let e = study
        .evaluate(&meds, &before, &typed(&[("meds___2", "")]), now(), Lang::EN)
        .unwrap();
    assert!(e.changed.is_empty(), "{:?}", e.changed);
}

#[test]
fn required_fields_left_untouched_are_marked_missing() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let e = study
        .evaluate(
            &demographics(),
            &RecordValues::default(),
            &typed(&[]),
            now(),
            Lang::EN,
        )
        .unwrap();
    let missing = |f| state(&e, f).message.as_ref().map(|m| m.severity);
    assert_eq!(missing("dob"), Some(Severity::Missing));
    assert_eq!(missing("ethnicity"), None, "not required");
    assert_eq!(missing("cigs_per_day"), None, "hidden");
}

#[test]
fn calculations_and_the_status_change_without_a_reason_and_a_broken_calc_keeps_its_value() {
    let (mut d, design) = demo_forms();
    let before = saved(&[
        ("screening_arm_1", 1, "height_cm", "170"),
        ("screening_arm_1", 1, "weight_kg", "70.0"),
        ("screening_arm_1", 1, "bmi", "24.2"),
        ("screening_arm_1", 1, "demographics_complete", "0"),
    ]);
    {
        let study = Study::new(&d, &design);
        // Untouched, the form has nothing to save.
        let e = study
            .evaluate(&demographics(), &before, &typed(&[]), now(), Lang::EN)
            .unwrap();
        assert!(e.changed.is_empty() && e.changes_saved.is_empty());
        let mut i = input(&[]);
        i.status = FormStatus::Complete;
        let edit = study
            .plan_save(&demographics(), &before, &i, now(), Lang::EN)
            .unwrap();
        assert_eq!(
            edit.values.keys().collect::<Vec<_>>(),
            vec!["demographics_complete"]
        );
        assert!(edit.computed.contains(&"demographics_complete".to_string()));
        assert!(edit.computed.contains(&"bmi".to_string()));
        // A changed weight changes the BMI; only the weight needs the reason.
        let e = study
            .evaluate(
                &demographics(),
                &before,
                &typed(&[("weight_kg", "72.0")]),
                now(),
                Lang::EN,
            )
            .unwrap();
        assert_eq!(e.changes_saved, vec!["weight_kg".to_string()]);
    }
    let bmi = d.fields.iter_mut().find(|f| f.name == "bmi").unwrap();
    bmi.choices_text = Some("stdev([weight_kg])".into());
    let study = Study::new(&d, &design);
    let e = study
        .evaluate(&demographics(), &before, &typed(&[]), now(), Lang::EN)
        .unwrap();
    assert_eq!(state(&e, "bmi").calc.as_deref(), Some("24.2"));
}

#[test]
fn a_hidden_fields_typed_value_is_not_written_but_erasing_it_is() {
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let none = RecordValues::default();
    let edit = study
        .plan_save(
            &demographics(),
            &none,
            &input(&[("smoker", "0"), ("cigs_per_day", "90")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert!(
        !edit.values.contains_key("cigs_per_day"),
        "hidden, out of range, unconfirmed"
    );
    let before = saved(&[("screening_arm_1", 1, "cigs_per_day", "10")]);
    let mut erase = input(&[("smoker", "0"), ("cigs_per_day", "")]);
    erase.reason = Some("No longer smokes".into());
    let edit = study
        .plan_save(&demographics(), &before, &erase, now(), Lang::EN)
        .unwrap();
    assert_eq!(edit.values["cigs_per_day"], None);
}

#[test]
fn adding_to_a_repeating_event_opens_the_events_next_visit() {
    let (d, mut design) = demo_forms();
    design.repeating = vec![crate::metadata::design::Repeating {
        event_name: "week_4_arm_1".into(),
        form_name: String::new(),
        custom_form_label: None,
    }];
    let study = Study::new(&d, &design);
    let values = saved(&[
        ("week_4_arm_1", 1, "sbp", "120"),
        ("week_4_arm_1", 2, "sbp", "125"),
        ("week_4_arm_1", 1, "meds___1", "1"),
    ]);
    let grid = study.visit_grid(&values);
    let meds = grid
        .cells
        .iter()
        .find(|c| c.event == "week_4_arm_1" && c.form == "medications")
        .unwrap();
    assert!(meds.repeating);
    assert_eq!(meds.next_instance, 3, "visit 3, not the medications' 2");
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}

// ---- real projects' quirks (issue 14): taken as REDCap takes them ----

#[test]
fn a_comma_decimal_number_reads_as_a_number_in_calculations() {
    // REDCap stores `72,5` in a field validated `*_comma_decimal` and reads
    // it as 72.5 in a calculation (here the demo's BMI).
    let (mut d, design) = demo_forms();
    let weight = d.fields.iter_mut().find(|f| f.name == "weight_kg").unwrap();
    weight.validation = Some("number_1dp_comma_decimal".into());
    let weight = weight.clone();
    assert!(matches!(
        validate::check_value(&weight, "72,5", now()),
        Verdict::Valid { ref stored } if stored == "72,5"
    ));
    let study = Study::new(&d, &design);
    let typed_in = typed(&[("height_cm", "170"), ("weight_kg", "72,5")]);
    let e = study
        .evaluate(
            &demographics(),
            &RecordValues::default(),
            &typed_in,
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "weight_kg").message, None);
    assert_eq!(state(&e, "bmi").calc.as_deref(), Some("25.1"));

    // Saved (pulled from the EDC), not typed: the same.
    let before = saved(&[
        ("screening_arm_1", 1, "height_cm", "170"),
        ("screening_arm_1", 1, "weight_kg", "72,5"),
    ]);
    let edit = study
        .plan_save(
            &demographics(),
            &before,
            &input(&[("height_cm", "170"), ("weight_kg", "72,5"), ("sex", "1")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(edit.values["bmi"].as_deref(), Some("25.1"));
    assert!(
        !edit.values.contains_key("weight_kg"),
        "kept as stored, with its comma"
    );
}

#[test]
fn a_value_stored_before_its_validation_is_kept_shown_and_blocks_no_save() {
    // `height_cm` (validated `number`) holds `1m70`, pulled from an EDC
    // where it was typed before the field had its validation.
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let height = d.field("height_cm").unwrap();
    assert_eq!(validate::display(height, "1m70"), "1m70", "shown as stored");
    let before = saved(&[("screening_arm_1", 1, "height_cm", "1m70")]);
    // The form sends back what it shows, with another field typed.
    let sent = input(&[("height_cm", "1m70"), ("weight_kg", "72.5")]);
    let e = study
        .evaluate(&demographics(), &before, &sent.values, now(), Lang::EN)
        .unwrap();
    assert_eq!(state(&e, "height_cm").message, None);
    assert_eq!(state(&e, "bmi").calc.as_deref(), Some(""));
    let edit = study
        .plan_save(&demographics(), &before, &sent, now(), Lang::EN)
        .unwrap();
    assert_eq!(edit.values["weight_kg"].as_deref(), Some("72.5"));
    assert!(!edit.values.contains_key("height_cm"), "kept as it is");
    // Changing it is checked as any typed value.
    let err = study
        .plan_save(
            &demographics(),
            &before,
            &input(&[("height_cm", "1m71")]),
            now(),
            Lang::EN,
        )
        .unwrap_err();
    assert!(matches!(err, FormError::Values(ref p) if p[0].field == "height_cm"));
}
