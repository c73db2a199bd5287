//! Reading action tags. The annotations are written as REDCap's action tag
//! help shows them, not from the parser.

use super::design::{MissingCode, format_missing_codes, parse_missing_codes};
use super::tags::{DateUnit, FieldTags, parse_tags, unapplied_tags};
use super::*;

fn field(field_type: FieldType, validation: Option<&str>, annotation: &str) -> Field {
    Field {
        name: "f".into(),
        form: "form".into(),
        section_header: None,
        field_type,
        label: "F".into(),
        choices: if field_type == FieldType::Checkbox {
            ["1", "2", "98", "99"]
                .iter()
                .map(|c| Choice {
                    code: (*c).into(),
                    label: format!("Choice {c}"),
                })
                .collect()
        } else {
            Vec::new()
        },
        choices_text: None,
        note: None,
        validation: validation.map(str::to_owned),
        min: None,
        max: None,
        identifier: false,
        branching_logic: None,
        required: false,
        custom_alignment: None,
        question_number: None,
        matrix_group: None,
        matrix_ranking: false,
        annotation: Some(annotation.to_owned()),
    }
}

fn text(annotation: &str) -> FieldTags {
    FieldTags::of(&field(FieldType::Text, None, annotation))
}

#[test]
fn tags_are_read_with_values_quotes_and_brackets_among_other_text() {
    let tags = parse_tags(
        "Ask the parent. @HIDDEN @DEFAULT='Not done yet' @CHARLIMIT=50\n@CALCTEXT(if([x] = '1', 'a (b)', 'c')) mail me@example.org @WORDLIMIT = \"10\"",
    );
    let read: Vec<(&str, Option<&str>)> = tags
        .iter()
        .map(|t| (t.name.as_str(), t.arg.as_deref()))
        .collect();
    assert_eq!(
        read,
        [
            ("HIDDEN", None),
            ("DEFAULT", Some("Not done yet")),
            ("CHARLIMIT", Some("50")),
            ("CALCTEXT", Some("if([x] = '1', 'a (b)', 'c')")),
            ("WORDLIMIT", Some("10")),
        ]
    );
    assert_eq!(tags[1].written, "@DEFAULT='Not done yet'");
}

#[test]
fn a_tag_without_its_closing_bracket_or_quote_takes_the_rest() {
    let tags = parse_tags("@CALCTEXT(if([x]='1','a'");
    assert_eq!(tags[0].arg.as_deref(), Some("if([x]='1','a'"));
    let tags = parse_tags("@DEFAULT='open");
    assert_eq!(tags[0].arg.as_deref(), Some("open"));
}

#[test]
fn readonly_and_its_form_and_app_variants_make_a_field_read_only() {
    for tag in ["@READONLY", "@READONLY-FORM", "@READONLY-APP"] {
        assert!(text(tag).readonly, "{tag}");
        assert!(text(tag).unapplied.is_empty(), "{tag}");
    }
    // Only surveys: nothing to apply in a form, nothing to report.
    let survey = text("@READONLY-SURVEY @HIDDEN-SURVEY");
    assert!(!survey.readonly && !survey.hidden && survey.unapplied.is_empty());
}

#[test]
fn hidden_and_its_form_and_app_variants_hide_a_field_at_the_desk() {
    for tag in ["@HIDDEN", "@HIDDEN-FORM", "@HIDDEN-APP"] {
        assert!(text(tag).hidden, "{tag}");
    }
}

#[test]
fn calctext_holds_its_logic_and_makes_the_field_read_only_and_computed() {
    let t = text("@CALCTEXT(if([age] >= 18, 'adult', 'minor'))");
    assert_eq!(
        t.calctext.as_deref(),
        Some("if([age] >= 18, 'adult', 'minor')")
    );
    assert!(t.readonly && t.computed());
    // On a field that is not a text box, REDCap ignores it: so does the desk, and says so.
    let radio = FieldTags::of(&field(FieldType::Radio, None, "@CALCTEXT('x')"));
    assert_eq!(radio.calctext, None);
    assert_eq!(radio.unapplied, ["@CALCTEXT('x')"]);
}

#[test]
fn calcdate_takes_a_date_field_an_offset_and_a_unit() {
    let f = field(
        FieldType::Text,
        Some("date_ymd"),
        "@CALCDATE([visit_date], 7, 'd')",
    );
    let t = FieldTags::of(&f);
    let c = t.calcdate.clone().unwrap();
    assert_eq!(
        (c.source.as_str(), c.offset, c.unit),
        ("[visit_date]", 7.0, DateUnit::Days)
    );
    assert!(t.readonly && t.computed());
    let back = FieldTags::of(&field(
        FieldType::Text,
        Some("datetime_ymd"),
        "@CALCDATE([baseline_arm_1][start], -1.5, 'h')",
    ));
    assert_eq!(back.calcdate.unwrap().offset, -1.5);
    // Without date validation, or with an unknown unit, it is not applied.
    assert_eq!(
        text("@CALCDATE([d], 1, 'd')").unapplied,
        ["@CALCDATE([d], 1, 'd')"]
    );
    let week = FieldTags::of(&field(
        FieldType::Text,
        Some("date_ymd"),
        "@CALCDATE([d], 1, 'w')",
    ));
    assert!(week.calcdate.is_none() && week.unapplied.len() == 1);
}

#[test]
fn default_now_and_today_are_read() {
    assert_eq!(text("@DEFAULT='N/A'").default.as_deref(), Some("N/A"));
    assert_eq!(text("@DEFAULT=3").default.as_deref(), Some("3"));
    assert!(text("@NOW").now);
    assert!(text("@TODAY").today);
    // Piping a value in is not applied offline.
    assert_eq!(text("@DEFAULT='[dob]'").default, None);
    assert_eq!(text("@DEFAULT='[dob]'").unapplied.len(), 1);
}

#[test]
fn none_of_the_above_takes_one_or_more_of_the_checkboxs_codes() {
    let cb = |a: &str| FieldTags::of(&field(FieldType::Checkbox, None, a));
    assert_eq!(cb("@NONEOFTHEABOVE='99'").none_of_the_above, ["99"]);
    assert_eq!(cb("@NONEOFTHEABOVE=99").none_of_the_above, ["99"]);
    assert_eq!(cb("@NONEOFTHEABOVE=99,98").none_of_the_above, ["99", "98"]);
    assert_eq!(
        cb("@NONEOFTHEABOVE='99, 98'").none_of_the_above,
        ["99", "98"]
    );
    // A code the field lacks, or a field that is no checkbox: not applied.
    assert!(cb("@NONEOFTHEABOVE='7'").none_of_the_above.is_empty());
    assert_eq!(text("@NONEOFTHEABOVE='99'").unapplied.len(), 1);
}

#[test]
fn char_and_word_limits_are_whole_numbers_on_text_and_notes() {
    assert_eq!(text("@CHARLIMIT=50").char_limit, Some(50));
    assert_eq!(text("@CHARLIMIT='50'").char_limit, Some(50));
    assert_eq!(text("@WORDLIMIT=10").word_limit, Some(10));
    let notes = FieldTags::of(&field(FieldType::Notes, None, "@WORDLIMIT=200"));
    assert_eq!(notes.word_limit, Some(200));
    assert_eq!(text("@CHARLIMIT=many").unapplied, ["@CHARLIMIT=many"]);
}

#[test]
fn every_other_tag_is_listed_as_not_applied_with_its_field_and_sitedesks_are_not() {
    let mut a = field(
        FieldType::Text,
        None,
        "@MAXCHECKED=2 @HIDDEN @PLACEHOLDER='e.g. 5'",
    );
    a.name = "a".into();
    let mut b = field(FieldType::Text, None, "@SITEDESK-INITIALS @READONLY");
    b.name = "b".into();
    let d = Dictionary { fields: vec![a, b] };
    let issues: Vec<(String, String)> = unapplied_tags(&d)
        .into_iter()
        .map(|i| (i.field, i.tag))
        .collect();
    assert_eq!(
        issues,
        [
            ("a".to_owned(), "@MAXCHECKED=2".to_owned()),
            ("a".to_owned(), "@PLACEHOLDER='e.g. 5'".to_owned()),
        ]
    );
}

#[test]
fn missing_data_codes_are_read_as_redcap_writes_them() {
    let codes = parse_missing_codes("UNK, Unknown | NASK, Not asked");
    assert_eq!(
        codes,
        [
            MissingCode {
                code: "UNK".into(),
                label: "Unknown".into()
            },
            MissingCode {
                code: "NASK".into(),
                label: "Not asked".into()
            },
        ]
    );
    assert_eq!(
        format_missing_codes(&codes),
        "UNK, Unknown | NASK, Not asked"
    );
    assert_eq!(
        parse_missing_codes("UNK, Unknown\nNA, Not applicable").len(),
        2
    );
    assert!(parse_missing_codes("").is_empty());
}
