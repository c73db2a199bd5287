//! Action tags and missing-data codes in a form. The expected values are
//! what REDCap's action tag help and missing-data code help describe, not
//! what the code happens to do.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::metadata::design::{CLASSIC_EVENT, parse_missing_codes};
use crate::metadata::parse_csv;

fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 6, 15)
        .unwrap()
        .and_hms_opt(10, 5, 0)
        .unwrap()
}

/// One dictionary row: name, type, choices or calc, validation, required,
/// annotation.
fn row(
    name: &str,
    ty: &str,
    choices: &str,
    validation: &str,
    required: bool,
    tags: &str,
) -> String {
    format!(
        "{name},visit,,{ty},\"{name} label\",\"{choices}\",,{validation},,,,,{},,,,,\"{}\"",
        if required { "y" } else { "" },
        tags.replace('"', "\"\"")
    )
}

fn dictionary() -> Dictionary {
    let rows = [
        row("record_id", "text", "", "", false, ""),
        row("visit_date", "text", "", "date_dmy", false, "@TODAY"),
        row("visit_time", "text", "", "datetime_ymd", false, "@NOW"),
        row("site_note", "text", "", "", false, "@DEFAULT='none given'"),
        row(
            "kind",
            "radio",
            "1, Phone | 2, In person",
            "",
            false,
            "@DEFAULT='2'",
        ),
        row("age", "text", "", "integer", false, ""),
        row(
            "age_group",
            "text",
            "",
            "",
            false,
            "@CALCTEXT(if([age] >= 18, 'adult', 'minor'))",
        ),
        row(
            "next_visit",
            "text",
            "",
            "date_ymd",
            false,
            "@CALCDATE([visit_date], 7, 'd')",
        ),
        row("locked", "text", "", "", false, "@READONLY"),
        row("secret", "text", "", "", false, "@HIDDEN"),
        row("app_only", "text", "", "", false, "@HIDDEN-APP"),
        row(
            "symptoms",
            "checkbox",
            "1, Cough | 2, Fever | 99, None of the above",
            "",
            false,
            "@NONEOFTHEABOVE='99'",
        ),
        row("summary", "notes", "", "", false, "@CHARLIMIT=10"),
        row("words", "text", "", "", false, "@WORDLIMIT=3"),
        row("weight", "text", "", "number", true, ""),
        row(
            "weight_blank",
            "calc",
            "if(isblankormissingcode([weight]), 1, 0)",
            "",
            false,
            "",
        ),
    ];
    let header = "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation";
    let text = std::iter::once(header.to_owned())
        .chain(rows)
        .collect::<Vec<_>>()
        .join("\n");
    parse_csv(text.as_bytes()).unwrap()
}

fn design() -> Design {
    Design::default().with_missing_codes("UNK, Unknown | NASK, Not asked")
}

fn at() -> FormAt<'static> {
    FormAt {
        record_id: "1",
        event: CLASSIC_EVENT,
        form: "visit",
        instance: 1,
    }
}

fn typed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A saved instance (its status saved) with these values.
fn saved(pairs: &[(&str, &str)]) -> RecordValues {
    RecordValues::new(
        pairs
            .iter()
            .chain(&[("visit_complete", "0")])
            .map(|(f, v)| SavedValue {
                event: CLASSIC_EVENT.into(),
                instance: 1,
                field: f.to_string(),
                value: v.to_string(),
            }),
    )
}

fn input(pairs: &[(&str, &str)]) -> FormInput {
    FormInput {
        values: typed(pairs),
        status: FormStatus::Incomplete,
        confirmed: Vec::new(),
        reason: Some("correction".into()),
    }
}

fn state<'e>(e: &'e Evaluation, field: &str) -> &'e FieldState {
    e.fields.iter().find(|s| s.name == field).unwrap()
}

fn written<'e>(edit: &'e RecordEdit, field: &str) -> Option<Option<&'e str>> {
    edit.values.get(field).map(|v| v.as_deref())
}

#[test]
fn today_and_now_fill_a_new_instance_in_the_fields_format() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let view = study
        .form_view(&at(), &RecordValues::default(), now(), Lang::EN)
        .unwrap();
    // date_dmy shows day first; stored ISO.
    assert_eq!(view.values["visit_date"], "15-06-2026");
    assert_eq!(view.values["visit_time"], "2026-06-15 10:05");
    assert!(view.prefilled.contains(&"visit_date".to_owned()));
    let edit = study
        .plan_save(
            &at(),
            &RecordValues::default(),
            &input(&[]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&edit, "visit_date"), Some(Some("2026-06-15")));
    assert_eq!(written(&edit, "visit_time"), Some(Some("2026-06-15 10:05")));
    // A saved instance is not new: an empty field stays empty.
    let later = study
        .form_view(&at(), &saved(&[]), now(), Lang::EN)
        .unwrap();
    assert!(!later.values.contains_key("visit_date"));
}

#[test]
fn default_fills_only_a_new_empty_instance_and_the_crc_may_change_it() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let fresh = RecordValues::default();
    let view = study.form_view(&at(), &fresh, now(), Lang::EN).unwrap();
    assert_eq!(view.values["site_note"], "none given");
    assert_eq!(view.values["kind"], "2");
    let edit = study
        .plan_save(&at(), &fresh, &input(&[("kind", "1")]), now(), Lang::EN)
        .unwrap();
    assert_eq!(written(&edit, "site_note"), Some(Some("none given")));
    assert_eq!(written(&edit, "kind"), Some(Some("1")));
    // Cleared by the CRC: nothing is written.
    let edit = study
        .plan_save(&at(), &fresh, &input(&[("site_note", "")]), now(), Lang::EN)
        .unwrap();
    assert_eq!(written(&edit, "site_note"), None);
    // Once the instance has data, the default never comes back.
    let edit = study
        .plan_save(
            &at(),
            &saved(&[("age", "40")]),
            &input(&[]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&edit, "site_note"), None);
    assert_eq!(written(&edit, "kind"), None);
}

#[test]
fn calctext_computes_text_from_logic_read_only_without_a_reason() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let e = study
        .evaluate(
            &at(),
            &saved(&[]),
            &typed(&[("age", "20")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "age_group").calc.as_deref(), Some("adult"));
    let view = study
        .form_view(&at(), &saved(&[]), now(), Lang::EN)
        .unwrap();
    let f = view.fields.iter().find(|f| f.name == "age_group").unwrap();
    assert!(f.readonly && f.inputs.is_empty());
    // The core computes it on save; it changes without a reason (the
    // writer asks one only for fields not listed as computed).
    let before = saved(&[("age", "20"), ("age_group", "adult")]);
    let edit = study
        .plan_save(&at(), &before, &input(&[("age", "12")]), now(), Lang::EN)
        .unwrap();
    assert_eq!(written(&edit, "age_group"), Some(Some("minor")));
    assert!(edit.computed.contains(&"age_group".to_owned()));
    // A value sent for it is never taken: it is computed all the same.
    let edit = study
        .plan_save(
            &at(),
            &before,
            &input(&[("age", "12"), ("age_group", "senior")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&edit, "age_group"), Some(Some("minor")));
}

#[test]
fn calcdate_adds_its_offset_to_the_date_and_is_blank_without_one() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let e = study
        .evaluate(
            &at(),
            &saved(&[]),
            &typed(&[("visit_date", "28-06-2026")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "next_visit").calc.as_deref(), Some("2026-07-05"));
    let e = study
        .evaluate(&at(), &saved(&[]), &typed(&[]), now(), Lang::EN)
        .unwrap();
    assert_eq!(state(&e, "next_visit").calc.as_deref(), Some(""));
    let edit = study
        .plan_save(
            &at(),
            &saved(&[]),
            &input(&[("visit_date", "28-06-2026")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&edit, "next_visit"), Some(Some("2026-07-05")));
    assert!(edit.computed.contains(&"next_visit".to_owned()));
}

#[test]
fn readonly_and_hidden_fields_keep_their_saved_values_whatever_is_sent() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let before = saved(&[("locked", "L"), ("secret", "S"), ("app_only", "A")]);
    let view = study.form_view(&at(), &before, now(), Lang::EN).unwrap();
    let field = |n: &str| view.fields.iter().find(|f| f.name == n).unwrap().clone();
    assert!(field("locked").readonly && !field("locked").hidden);
    assert!(field("secret").hidden && field("app_only").hidden);
    assert!(field("locked").inputs.is_empty() && field("secret").inputs.is_empty());
    let e = study
        .evaluate(&at(), &before, &typed(&[]), now(), Lang::EN)
        .unwrap();
    assert_eq!(state(&e, "locked").calc.as_deref(), Some("L"));
    let edit = study
        .plan_save(
            &at(),
            &before,
            &input(&[("locked", ""), ("secret", "changed"), ("app_only", "")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    for f in ["locked", "secret", "app_only"] {
        assert_eq!(written(&edit, f), None, "{f}");
    }
}

#[test]
fn none_of_the_above_stands_alone() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let both = typed(&[("symptoms___1", "1"), ("symptoms___99", "1")]);
    let e = study
        .evaluate(&at(), &saved(&[]), &both, now(), Lang::EN)
        .unwrap();
    let m = state(&e, "symptoms").message.clone().unwrap();
    assert_eq!(m.severity, Severity::Error);
    assert!(m.text.contains("None of the above"), "{}", m.text);
    let refused = study.plan_save(
        &at(),
        &saved(&[]),
        &input(&[("symptoms___1", "1"), ("symptoms___99", "1")]),
        now(),
        Lang::EN,
    );
    assert!(matches!(refused, Err(FormError::Values(_))));
    let alone = study
        .plan_save(
            &at(),
            &saved(&[]),
            &input(&[("symptoms___99", "1")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&alone, "symptoms___99"), Some(Some("1")));
    let view = study
        .form_view(&at(), &saved(&[]), now(), Lang::EN)
        .unwrap();
    let f = view.fields.iter().find(|f| f.name == "symptoms").unwrap();
    assert_eq!(f.exclusive, ["99"]);
}

#[test]
fn char_and_word_limits_refuse_a_save_over_the_limit() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let e = study
        .evaluate(
            &at(),
            &saved(&[]),
            &typed(&[("summary", "eleven char"), ("words", "one two three four")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    for f in ["summary", "words"] {
        assert_eq!(
            state(&e, f).message.as_ref().map(|m| m.severity),
            Some(Severity::Error),
            "{f}"
        );
    }
    assert!(
        state(&e, "summary")
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("10")
    );
    let refused = study.plan_save(
        &at(),
        &saved(&[]),
        &input(&[("summary", "eleven char")]),
        now(),
        Lang::EN,
    );
    assert!(matches!(refused, Err(FormError::Values(p)) if p[0].field == "summary"));
    let ok = study
        .plan_save(
            &at(),
            &saved(&[]),
            &input(&[("summary", "ten chars!"), ("words", "one two three")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&ok, "summary"), Some(Some("ten chars!")));
}

#[test]
fn a_missing_data_code_is_taken_in_any_field_and_answers_a_required_one() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    // `weight` is a required number: a code is accepted all the same.
    let e = study
        .evaluate(
            &at(),
            &saved(&[]),
            &typed(&[("weight", "UNK")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "weight").message, None);
    // isblankormissingcode() is true for a code.
    assert_eq!(state(&e, "weight_blank").calc.as_deref(), Some("1"));
    let e = study
        .evaluate(
            &at(),
            &saved(&[]),
            &typed(&[("weight", "70")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(state(&e, "weight_blank").calc.as_deref(), Some("0"));
    // A code that is not the project's is still checked as a number.
    let e = study
        .evaluate(
            &at(),
            &saved(&[]),
            &typed(&[("weight", "N/A")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(
        state(&e, "weight").message.as_ref().map(|m| m.severity),
        Some(Severity::Error)
    );
    let edit = study
        .plan_save(
            &at(),
            &saved(&[]),
            &input(&[("weight", "UNK")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&edit, "weight"), Some(Some("UNK")));
    // The form lists the codes with their labels for the menu.
    let view = study
        .form_view(&at(), &saved(&[("weight", "NASK")]), now(), Lang::EN)
        .unwrap();
    assert_eq!(
        view.missing_codes,
        parse_missing_codes("UNK, Unknown | NASK, Not asked")
    );
    assert_eq!(view.values["weight"], "NASK");
}

#[test]
fn a_checkbox_takes_a_missing_data_code_as_its_own_column_alone() {
    let (d, design) = (dictionary(), design());
    let study = Study::new(&d, &design);
    let view = study
        .form_view(&at(), &saved(&[]), now(), Lang::EN)
        .unwrap();
    let f = view.fields.iter().find(|f| f.name == "symptoms").unwrap();
    assert!(f.inputs.contains(&"symptoms___unk".to_owned()));
    let edit = study
        .plan_save(
            &at(),
            &saved(&[]),
            &input(&[("symptoms___unk", "1")]),
            now(),
            Lang::EN,
        )
        .unwrap();
    assert_eq!(written(&edit, "symptoms___unk"), Some(Some("1")));
    let refused = study.plan_save(
        &at(),
        &saved(&[]),
        &input(&[("symptoms___unk", "1"), ("symptoms___2", "1")]),
        now(),
        Lang::EN,
    );
    assert!(matches!(refused, Err(FormError::Values(_))));
}
