use super::*;
use crate::i18n::Lang;

const HEADER: &str = "\"Variable / Field Name\",\"Form Name\",\"Section Header\",\"Field Type\",\"Field Label\",\"Choices, Calculations, OR Slider Labels\",\"Field Note\",\"Text Validation Type OR Show Slider Number\",\"Text Validation Min\",\"Text Validation Max\",Identifier?,\"Branching Logic (Show field only if...)\",\"Required Field?\",\"Custom Alignment\",\"Question Number (surveys only)\",\"Matrix Group Name\",\"Matrix Ranking?\",\"Field Annotation\"";

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push_str("\r\n");
        s.push_str(r);
    }
    s.into_bytes()
}

const GOOD: &[&str] = &[
    "record_id,enrollment,,text,\"Study ID\",,,,,,,,,,,,,",
    "dob,enrollment,\"<b>Demographics</b>\",text,\"Date of birth\",,YYYY-MM-DD,date_ymd,1900-01-01,today,y,,y,,,,,",
    "sex,enrollment,,radio,Sex,\"1, Female | 2, Male | 3, Other, or not said\",,,,,,,y,RH,,,,",
    "meds,enrollment,,checkbox,\"Medications\",\"1, Metformin|2, Insulin|a, Other\",,,,,,\"[sex] = '1'\",,,,,,@HIDDEN",
    "bmi,enrollment,,calc,BMI,\"round([weight]/([height]/100)^2, 1)\",,,,,,,,,,,,",
    "notes,followup,,notes,\"Notes,\nover two lines\",,,,,,,,,,,,,",
];

#[test]
fn a_dictionary_csv_is_read_with_every_column() {
    let d = parse_csv(&csv(GOOD)).unwrap();
    assert_eq!(d.fields.len(), 6);
    assert_eq!(d.record_id_field().name, "record_id");
    let dob = d.field("dob").unwrap();
    assert_eq!(
        (
            dob.validation.as_deref(),
            dob.min.as_deref(),
            dob.max.as_deref(),
            dob.identifier,
            dob.required
        ),
        (
            Some("date_ymd"),
            Some("1900-01-01"),
            Some("today"),
            true,
            true
        )
    );
    assert_eq!(dob.section_header.as_deref(), Some("<b>Demographics</b>"));
    let sex = d.field("sex").unwrap();
    assert_eq!(
        sex.choices,
        vec![
            Choice {
                code: "1".into(),
                label: "Female".into()
            },
            Choice {
                code: "2".into(),
                label: "Male".into()
            },
            Choice {
                code: "3".into(),
                label: "Other, or not said".into()
            },
        ]
    );
    assert_eq!(sex.custom_alignment.as_deref(), Some("RH"));
    let meds = d.field("meds").unwrap();
    assert_eq!(meds.choices.len(), 3);
    assert_eq!(meds.branching_logic.as_deref(), Some("[sex] = '1'"));
    assert_eq!(meds.annotation.as_deref(), Some("@HIDDEN"));
    let bmi = d.field("bmi").unwrap();
    assert_eq!(
        bmi.choices_text.as_deref(),
        Some("round([weight]/([height]/100)^2, 1)")
    );
    assert_eq!(d.field("notes").unwrap().label, "Notes,\nover two lines");
    let forms: Vec<_> = d.instruments().into_iter().map(|i| i.name).collect();
    assert_eq!(forms, vec!["enrollment", "followup"]);
}

#[test]
fn the_api_json_gives_the_same_dictionary_as_the_csv() {
    let from_csv = parse_csv(&csv(GOOD)).unwrap();
    let json: Vec<serde_json::Value> = from_csv
        .fields
        .iter()
        .map(|f| {
            serde_json::json!({
                "field_name": f.name, "form_name": f.form,
                "section_header": f.section_header.clone().unwrap_or_default(),
                "field_type": serde_json::to_value(f.field_type).unwrap(),
                "field_label": f.label,
                "select_choices_or_calculations": if f.choices.is_empty() {
                    f.choices_text.clone().unwrap_or_default()
                } else {
                    f.choices.iter().map(|c| format!("{}, {}", c.code, c.label)).collect::<Vec<_>>().join(" | ")
                },
                "field_note": f.note.clone().unwrap_or_default(),
                "text_validation_type_or_show_slider_number": f.validation.clone().unwrap_or_default(),
                "text_validation_min": f.min.clone().unwrap_or_default(),
                "text_validation_max": f.max.clone().unwrap_or_default(),
                "identifier": if f.identifier { "y" } else { "" },
                "branching_logic": f.branching_logic.clone().unwrap_or_default(),
                "required_field": if f.required { "y" } else { "" },
                "custom_alignment": f.custom_alignment.clone().unwrap_or_default(),
                "question_number": "", "matrix_group_name": "", "matrix_ranking": "",
                "field_annotation": f.annotation.clone().unwrap_or_default(),
            })
        })
        .collect();
    let from_json = parse_api_json(&serde_json::to_string(&json).unwrap()).unwrap();
    assert_eq!(from_json, from_csv);
    assert_eq!(from_json.version_hash(), from_csv.version_hash());
}

#[test]
fn malformed_dictionaries_are_refused_with_the_line_and_the_reason() {
    let cases: Vec<(Vec<u8>, usize, Problem)> = vec![
        (b"name,form\r\nx,y".to_vec(), 1, Problem::NotADictionary),
        (csv(&[]), 1, Problem::Empty),
        (
            csv(&["record_id,f,,text,ID,,,,,,,,,,,"]),
            2,
            Problem::ColumnCount {
                found: 16,
                expected: 18,
            },
        ),
        (
            csv(&["Record ID,f,,text,ID,,,,,,,,,,,,,"]),
            2,
            Problem::BadName {
                column: "field_name",
                name: "Record ID".into(),
            },
        ),
        (
            csv(&[
                "record_id,f,,text,ID,,,,,,,,,,,,,",
                "x,f,,matrix,X,,,,,,,,,,,,,",
            ]),
            3,
            Problem::UnknownType("matrix".into()),
        ),
        (
            csv(&[
                "record_id,f,,text,ID,,,,,,,,,,,,,",
                "record_id,f,,text,ID,,,,,,,,,,,,,",
            ]),
            3,
            Problem::DuplicateField,
        ),
        (
            csv(&[
                "record_id,f,,text,ID,,,,,,,,,,,,,",
                "x,f,,radio,X,\"1, A | B\",,,,,,,,,,,,",
            ]),
            3,
            Problem::BadChoice("B".into()),
        ),
        (
            csv(&[
                "record_id,f,,text,ID,,,,,,,,,,,,,",
                "x,f,,dropdown,X,\"1, A | 1, B\",,,,,,,,,,,,",
            ]),
            3,
            Problem::DuplicateChoice("1".into()),
        ),
        (
            csv(&[
                "record_id,f,,text,ID,,,,,,,,,,,,,",
                "x,f,,checkbox,X,,,,,,,,,,,,,",
            ]),
            3,
            Problem::NoChoices,
        ),
        (
            csv(&[
                "record_id,f,,text,ID,,,,,,,,,,,,,",
                "x,f,,calc,X,,,,,,,,,,,,,",
            ]),
            3,
            Problem::NoCalculation,
        ),
        (
            csv(&["record_id,f,,text,ID,,,,,,yes,,,,,,,"]),
            2,
            Problem::BadFlag {
                column: "identifier",
                value: "yes".into(),
            },
        ),
        (
            csv(&["record_id,,,text,ID,,,,,,,,,,,,,"]),
            2,
            Problem::MissingName {
                column: "form_name",
            },
        ),
    ];
    for (bytes, line, problem) in cases {
        let e = parse_csv(&bytes).unwrap_err();
        assert_eq!(
            (e.line, &e.problem),
            (line, &problem),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(!e.message(Lang::EN).is_empty());
        assert!(!e.message(zh()).is_empty());
    }
    for bad in ["", "{}", "[1]", "[{\"field_name\": []}]", "not json"] {
        let e = parse_api_json(bad).unwrap_err();
        assert!(matches!(e.problem, Problem::Unreadable(_)), "{bad}: {e:?}");
    }
}

#[test]
fn messages_name_the_line_and_field_in_both_languages() {
    let e = parse_csv(&csv(&[
        "record_id,f,,text,ID,,,,,,,,,,,,,",
        "x,f,,checkbox,X,,,,,,,,,,,,,",
    ]))
    .unwrap_err();
    assert_eq!(
        e.message(Lang::EN),
        "Data dictionary line 3 (field x): this field type needs choices."
    );
    assert_eq!(
        e.message(zh()),
        "数据字典第 3 行（字段 x）：该字段类型需要选项。"
    );
}

#[test]
fn a_changed_dictionary_is_detected_field_by_field() {
    let old = parse_csv(&csv(GOOD)).unwrap();
    let mut rows: Vec<&str> = GOOD
        .iter()
        .copied()
        .filter(|r| !r.starts_with("notes,"))
        .collect();
    rows[2] = "sex,enrollment,,radio,\"Sex at birth\",\"1, Female | 2, Male\",,,,,,,y,RH,,,,";
    rows.push("weight,vitals,,text,\"Weight (kg)\",,,number,20,300,,,,,,,,");
    let new = parse_csv(&csv(&rows)).unwrap();
    assert_ne!(old.version_hash(), new.version_hash());
    assert_eq!(
        old.version_hash(),
        parse_csv(&csv(GOOD)).unwrap().version_hash()
    );
    assert_eq!(
        old.diff(&new),
        vec![
            FieldChange::Changed {
                field: "sex".into(),
                aspects: vec![Aspect::Label, Aspect::Choices],
                removed_choices: vec!["3".into()],
            },
            FieldChange::Added {
                field: "weight".into()
            },
            FieldChange::Removed {
                field: "notes".into()
            },
        ]
    );
    assert!(old.diff(&old).is_empty());
}

/// Compatibility: every real REDCap export in `../shared/fixtures/redcap`
/// reads, with one field per data row. Runs where the shared fixtures are
/// present (CI and developer machines).
#[test]
fn real_redcap_dictionaries_are_read() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/redcap");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs with ../shared beside the clone: {} is missing",
            root.display()
        );
        return;
    };
    let mut read = 0;
    for dir in dirs {
        let path = dir.unwrap().path().join("dictionary.csv");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let d = parse_csv(&bytes)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message(Lang::EN)));
        let rows = csv::Reader::from_reader(bytes.as_slice()).records().count();
        assert_eq!(d.fields.len(), rows, "{}", path.display());
        read += 1;
    }
    assert!(read >= 7, "only {read} fixture dictionaries found");
}

// ---- validation ----

mod validation {
    use chrono::NaiveDate;

    use super::super::validate::{Invalid, Kind, Verdict, check_value, display};
    use super::super::*;
    use super::zh;
    use crate::i18n::Lang;

    fn field(kind: &str, validation: Option<&str>, min: Option<&str>, max: Option<&str>) -> Field {
        Field {
            name: "f".into(),
            form: "visit".into(),
            section_header: None,
            field_type: FieldType::parse(kind).unwrap(),
            label: "F".into(),
            choices: vec![
                Choice {
                    code: "1".into(),
                    label: "One".into(),
                },
                Choice {
                    code: "a".into(),
                    label: "A".into(),
                },
            ],
            choices_text: None,
            note: None,
            validation: validation.map(Into::into),
            min: min.map(Into::into),
            max: max.map(Into::into),
            identifier: false,
            branching_logic: None,
            required: false,
            custom_alignment: None,
            question_number: None,
            matrix_ranking: false,
            matrix_group: None,
            annotation: None,
        }
    }

    fn now() -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(10, 30, 0)
            .unwrap()
    }

    fn text(validation: &str) -> Field {
        field("text", Some(validation), None, None)
    }

    fn stored(v: Verdict) -> String {
        match v {
            Verdict::Valid { stored } => stored,
            other => panic!("not valid: {other:?}"),
        }
    }

    fn refused(f: &Field, input: &str) -> bool {
        matches!(check_value(f, input, now()), Verdict::Invalid { .. })
    }

    #[test]
    fn dates_and_times_are_read_in_the_fields_order_and_stored_as_iso() {
        let mdy = text("date_mdy");
        assert_eq!(stored(check_value(&mdy, "05-31-2024", now())), "2024-05-31");
        assert_eq!(stored(check_value(&mdy, "5/31/2024", now())), "2024-05-31");
        assert_eq!(
            stored(check_value(&mdy, "2024-05-31", now())),
            "2024-05-31",
            "ISO is always accepted"
        );
        assert!(refused(&mdy, "31-05-2024"));
        assert!(refused(&text("date_ymd"), "2024-02-30"));
        assert!(refused(&text("date_ymd"), "24-02-03"));
        assert_eq!(
            stored(check_value(&text("date_dmy"), "31-05-2024", now())),
            "2024-05-31"
        );
        assert_eq!(
            stored(check_value(
                &text("datetime_seconds_dmy"),
                "31-05-2024 13:45:08",
                now()
            )),
            "2024-05-31 13:45:08"
        );
        assert!(refused(&text("datetime_seconds_ymd"), "2024-05-31 13:45"));
        assert_eq!(
            stored(check_value(
                &text("datetime_mdy"),
                "05-31-2024 13:45",
                now()
            )),
            "2024-05-31 13:45"
        );
        assert_eq!(stored(check_value(&text("time"), "23:59", now())), "23:59");
        assert!(refused(&text("time"), "24:00"));
        assert!(refused(&text("time"), "9:30"));
        assert_eq!(
            stored(check_value(&text("time_hh_mm_ss"), "09:30:15", now())),
            "09:30:15"
        );
        assert_eq!(
            stored(check_value(&text("time_mm_ss"), "04:30", now())),
            "04:30"
        );
        assert!(refused(&text("time_mm_ss"), "04:75"));
        assert_eq!(display(&mdy, "2024-05-31"), "05-31-2024");
        assert_eq!(
            display(&text("datetime_dmy"), "2024-05-31 13:45"),
            "31-05-2024 13:45"
        );
    }

    #[test]
    fn numbers_keep_their_decimal_places_and_separator() {
        assert_eq!(stored(check_value(&text("integer"), "-12", now())), "-12");
        assert!(refused(&text("integer"), "1.0"));
        assert!(refused(&text("integer"), "12a"));
        assert_eq!(
            stored(check_value(&text("number"), "3.14159", now())),
            "3.14159"
        );
        assert!(refused(&text("number"), "3,14"));
        // A bare fraction, as REDCap's own number check takes it.
        assert_eq!(stored(check_value(&text("number"), ".34", now())), ".34");
        assert_eq!(stored(check_value(&text("number"), "-.5", now())), "-.5");
        assert!(refused(&text("number"), "."));
        assert!(refused(&text("number"), "3."));
        assert!(refused(&text("number_2dp"), ".50"));
        assert_eq!(
            stored(check_value(&text("number_2dp"), "3.50", now())),
            "3.50"
        );
        assert!(refused(&text("number_2dp"), "3.5"));
        assert_eq!(
            stored(check_value(&text("number_1dp_comma_decimal"), "3,5", now())),
            "3,5"
        );
        assert!(refused(&text("number_1dp_comma_decimal"), "3.5"));
        assert_eq!(
            stored(check_value(&text("number_comma_decimal"), "-0,25", now())),
            "-0,25"
        );
    }

    #[test]
    fn out_of_range_is_soft_and_malformed_is_hard() {
        let weight = field("text", Some("number"), Some("20"), Some("300"));
        assert_eq!(stored(check_value(&weight, "70.5", now())), "70.5");
        assert!(matches!(
            check_value(&weight, "350", now()),
            Verdict::OutOfRange { ref stored, .. } if stored == "350"
        ));
        assert!(matches!(
            check_value(&weight, "19.9", now()),
            Verdict::OutOfRange { .. }
        ));
        assert!(refused(&weight, "seventy"));
        let visit = field("text", Some("date_ymd"), Some("2000-01-01"), Some("today"));
        assert_eq!(
            stored(check_value(&visit, "2026-11-23", now())),
            "2026-11-23"
        );
        assert!(matches!(
            check_value(&visit, "2026-11-24", now()),
            Verdict::OutOfRange { .. }
        ));
        assert!(matches!(
            check_value(&visit, "1999-12-31", now()),
            Verdict::OutOfRange { .. }
        ));
        let seen = field("text", Some("datetime_ymd"), None, Some("now"));
        assert_eq!(
            stored(check_value(&seen, "2026-11-23 10:29", now())),
            "2026-11-23 10:29"
        );
        assert!(matches!(
            check_value(&seen, "2026-11-23 10:31", now()),
            Verdict::OutOfRange { .. }
        ));
    }

    #[test]
    fn identifiers_codes_and_addresses_follow_their_patterns() {
        let ok = |v: &str, input: &str| {
            assert!(
                matches!(check_value(&text(v), input, now()), Verdict::Valid { .. }),
                "{v}: {input}"
            )
        };
        let bad = |v: &str, input: &str| assert!(refused(&text(v), input), "{v}: {input} accepted");
        ok("email", "crc@site.example.org");
        bad("email", "crc@site");
        bad("email", "crc at site.org");
        ok("phone", "(615) 555-0123");
        bad("phone", "(015) 555-0123");
        bad("phone", "555-0123");
        ok("phone_australia", "02 9876 5432");
        ok("zipcode", "37203-1234");
        bad("zipcode", "3720");
        ok("alpha_only", "Anna");
        bad("alpha_only", "Anna1");
        ok("mrn_10d", "0123456789");
        bad("mrn_10d", "012345678");
        ok("mrn_generic", "AB-1234");
        ok("ssn", "123-45-6789");
        bad("ssn", "123456789");
        ok("postalcode_canada", "k1a 0b1");
        bad("postalcode_canada", "K1A 0B");
        ok("postalcode_australia", "2000");
        ok("postalcode_germany", "10115");
        ok("postalcode_french", "75001");
    }

    #[test]
    fn choices_flags_and_fields_nobody_types_into() {
        let radio = field("radio", None, None, None);
        assert_eq!(stored(check_value(&radio, "a", now())), "a");
        assert_eq!(
            check_value(&radio, "2", now()),
            Verdict::Invalid {
                problem: Invalid::NotAChoice
            }
        );
        assert!(refused(&field("yesno", None, None, None), "2"));
        assert_eq!(
            stored(check_value(
                &field("truefalse", None, None, None),
                "0",
                now()
            )),
            "0"
        );
        assert_eq!(
            stored(check_value(&field("slider", None, None, None), "55", now())),
            "55"
        );
        assert!(refused(&field("slider", None, None, None), "101"));
        for kind in ["calc", "descriptive", "file", "sql"] {
            assert_eq!(
                check_value(&field(kind, None, None, None), "1", now()),
                Verdict::Invalid {
                    problem: Invalid::NotEnterable
                },
                "{kind}"
            );
        }
        let mut required = text("integer");
        required.required = true;
        assert_eq!(check_value(&required, "  ", now()), Verdict::Missing);
        assert_eq!(stored(check_value(&text("integer"), "", now())), "");
    }

    #[test]
    fn an_unknown_validation_type_is_flagged_not_guessed() {
        assert_eq!(
            check_value(&text("my_site_code"), "XY-1", now()),
            Verdict::Unsupported {
                stored: "XY-1".into(),
                validation: "my_site_code".into()
            }
        );
    }

    #[test]
    fn refusals_read_well_in_both_languages() {
        let Verdict::Invalid { problem } = check_value(&text("date_dmy"), "2024/31/05", now())
        else {
            panic!()
        };
        assert_eq!(
            problem.message(Lang::EN),
            "This is not a valid value; expected: 31-05-2024 (D-M-Y)"
        );
        assert_eq!(
            problem.message(zh()),
            "格式不正确，应为：31-05-2024 (D-M-Y)"
        );
        assert_ne!(
            Invalid::NotAChoice.message(Lang::EN),
            Invalid::NotAChoice.message(zh())
        );
    }

    /// Every validation type of REDCap's own test project is one SiteDesk
    /// knows.
    #[test]
    fn every_validation_type_of_the_redcap_fixture_is_known() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/redcap/validation-types-1/dictionary.csv");
        let Ok(bytes) = std::fs::read(&path) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing",
                path.display()
            );
            return;
        };
        let d = parse_csv(&bytes).unwrap();
        let mut seen = 0;
        for f in d.fields.iter().filter(|f| f.field_type == FieldType::Text) {
            if let Some(v) = &f.validation {
                assert!(Kind::parse(v).is_some(), "{}: {v}", f.name);
                seen += 1;
            }
        }
        assert!(seen >= 30, "{seen} validated fields");
    }
}

// ---- branching logic and calculations ----

mod logic {
    use std::collections::HashMap;

    use super::super::logic::{
        FieldRef, LogicError, MAX_DEPTH, MAX_NESTING, calculate, check_dictionary, parse,
        references, shows,
    };
    use super::super::*;

    fn values(pairs: &[(&str, &str)]) -> impl Fn(&FieldRef) -> String {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |r: &FieldRef| {
            let key = match (&r.event, &r.choice) {
                (Some(e), _) => format!("{e}.{}", r.field),
                (None, Some(c)) => format!("{}({c})", r.field),
                (None, None) => r.field.clone(),
            };
            map.get(&key).cloned().unwrap_or_default()
        }
    }

    fn show(logic: &str, pairs: &[(&str, &str)]) -> bool {
        shows(&parse(logic).unwrap(), &values(pairs)).unwrap()
    }

    fn calc(expr: &str, pairs: &[(&str, &str)]) -> String {
        calculate(&parse(expr).unwrap(), &values(pairs)).unwrap()
    }

    #[test]
    fn branching_logic_compares_as_redcap_does() {
        assert!(show("[sex] = '1'", &[("sex", "1")]));
        assert!(
            show("[sex] = 1", &[("sex", "1")]),
            "a number equals its text"
        );
        assert!(!show("[sex] = '1'", &[]));
        assert!(show("[sex] = ''", &[]), "a blank field is the empty string");
        assert!(show("[age] >= 18 and [age] < 65", &[("age", "40")]));
        assert!(
            !show("[age] >= 18", &[]),
            "an ordering with a blank is false"
        );
        assert!(show("[age] <> ''", &[("age", "7")]));
        assert!(show(
            "[a] = '1' or ([b] = '2' and not [c] = '3')",
            &[("b", "2")]
        ));
        assert!(show("[meds(3)] = '1'", &[("meds(3)", "1")]));
        assert!(show(
            "[baseline_arm_1][weight] > 70",
            &[("baseline_arm_1.weight", "80")]
        ));
        assert!(
            show("[age] > 9", &[("age", "10")]),
            "numeric, not text, order"
        );
        assert!(show(
            "contains([notes], 'ALLERGY')",
            &[("notes", "peanut allergy")]
        ));
        assert!(show("isblankormissingcode([x])", &[]));
        assert!(show("isnumber([x])", &[("x", "1.5")]));
    }

    #[test]
    fn calculations_follow_precedence_and_functions() {
        assert_eq!(calc("3+4", &[]), "7");
        assert_eq!(calc("2 + 3 * 4 ^ 2", &[]), "50");
        assert_eq!(calc("-2^2", &[]), "-4");
        assert_eq!(
            calc(
                "round([weight]/(([height]/100)^2), 1)",
                &[("weight", "70"), ("height", "175")]
            ),
            "22.9"
        );
        assert_eq!(
            calc("[weight] * 2", &[]),
            "",
            "arithmetic with a blank is blank"
        );
        assert_eq!(
            calc("[a] / [b]", &[("a", "1"), ("b", "0")]),
            "",
            "division by zero is blank"
        );
        assert_eq!(
            calc("if([age] >= 18, 'adult', 'minor')", &[("age", "17")]),
            "minor"
        );
        assert_eq!(calc("rounddown(2.57, 1) + roundup(2.51, 1)", &[]), "5.1");
        assert_eq!(
            calc("abs(-3) + sqrt(16) + min(4, 2, 9) + max(1, 5)", &[]),
            "14"
        );
        assert_eq!(calc("mean(2, 4, [x]) + sum(1, 2)", &[]), "6");
        assert_eq!(
            calc(
                "round(datediff([dob], [visit], 'y'), 0)",
                &[("dob", "1990-06-15"), ("visit", "2026-06-15")]
            ),
            "36"
        );
        assert_eq!(
            calc("datediff('2026-01-02', '2026-01-01', 'd')", &[]),
            "1",
            "unsigned by default"
        );
        assert_eq!(
            calc(
                "datediff('2026-01-02', '2026-01-01', 'd', 'ymd', true)",
                &[]
            ),
            "-1"
        );
    }

    #[test]
    fn malformed_and_unsupported_logic_is_reported_not_guessed() {
        for bad in [
            "[age] >",
            "([a] = 1",
            "[a = 1",
            "'open",
            "[a] = 1 1",
            "",
            "@#",
        ] {
            assert!(
                matches!(parse(bad), Err(LogicError::Syntax(..))),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        assert_eq!(
            parse("[event-name] = 'baseline_arm_1'"),
            Err(LogicError::Unsupported(
                "smart variable [event-name]".into()
            ))
        );
        assert_eq!(
            parse("stdev([a], [b]) > 1"),
            Err(LogicError::Unsupported("function stdev()".into()))
        );
        assert!(matches!(
            calculate(&parse("if([a], 1)").unwrap(), &|_| String::new()),
            Err(LogicError::Eval(_))
        ));
    }

    /// The tree logic parses to, fully bracketed: `(+ 1 (* 2 3))`.
    fn tree(text: &str) -> String {
        use super::super::logic::{Expr, Op};
        fn show(e: &Expr) -> String {
            match e {
                Expr::Field(r) => r.field.clone(),
                Expr::Number(n) => n.to_string(),
                Expr::Text(t) => format!("'{t}'"),
                Expr::Not(x) => format!("(not {})", show(x)),
                Expr::Neg(x) => format!("(neg {})", show(x)),
                Expr::Binary(op, a, b) => {
                    let op = match op {
                        Op::Or => "or",
                        Op::And => "and",
                        Op::Eq => "=",
                        Op::Ne => "<>",
                        Op::Lt => "<",
                        Op::Le => "<=",
                        Op::Gt => ">",
                        Op::Ge => ">=",
                        Op::Add => "+",
                        Op::Sub => "-",
                        Op::Mul => "*",
                        Op::Div => "/",
                        Op::Pow => "^",
                    };
                    format!("({op} {} {})", show(a), show(b))
                }
                Expr::Call(f, args) => {
                    let args: Vec<String> = args.iter().map(show).collect();
                    format!("({f:?} {})", args.join(" "))
                }
            }
        }
        show(&parse(text).unwrap())
    }

    /// Precedence, associativity and where `not` and signs may stand, as
    /// the recursive-descent grammar this parser replaced had them.
    #[test]
    fn the_grammar_binds_as_redcap_does() {
        for (text, expected) in [
            ("1 + 2 * 3", "(+ 1 (* 2 3))"),
            ("1 - 2 - 3", "(- (- 1 2) 3)"),
            ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
            ("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"),
            ("-2 ^ 2", "(neg (^ 2 2))"),
            ("2 ^ -1", "(^ 2 (neg 1))"),
            ("-[a] * [b]", "(* (neg a) b)"),
            ("- - 1", "(neg (neg 1))"),
            ("+[a] ^ 2", "(^ a 2)"),
            ("not [a] = 1 and [b]", "(and (not (= a 1)) b)"),
            ("not not [a]", "(not (not a))"),
            ("not [a] + 1", "(not (+ a 1))"),
            ("[a] or [b] and [c]", "(or a (and b c))"),
            ("[a] and [b] or [c]", "(or (and a b) c)"),
            ("[a] = [b] + 1", "(= a (+ b 1))"),
            ("[a] + 1 >= [b] * 2", "(>= (+ a 1) (* b 2))"),
            ("(1 = 1) = 1", "(= (= 1 1) 1)"),
            ("[a] < 1 or [a] > 2", "(or (< a 1) (> a 2))"),
            ("if([a] = 1, 2, 3) * 2", "(* (If (= a 1) 2 3) 2)"),
            (
                "[x] <> 'y' and not ([z] != 2)",
                "(and (<> x 'y') (not (<> z 2)))",
            ),
        ] {
            assert_eq!(tree(text), expected, "{text}");
        }
        for bad in [
            "[a] = 1 = 2",
            "[a] and [b] = 1 = 2",
            "not [a] = 1 = 2",
            "(1 = 2 = 3)",
            "1 + not 1",
            "[a] = not 1",
            "-not 1",
            "2 ^ not 1",
            "and 1",
            "1 not 2",
        ] {
            assert!(
                matches!(parse(bad), Err(LogicError::Syntax(..))),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        assert_eq!(
            parse("1 + not(1)"),
            Err(LogicError::Unsupported("function not()".into()))
        );
    }

    /// Regression: 10,000 nested brackets overflowed the parser's stack,
    /// which aborts the whole app, from one line of a dictionary. Past
    /// `MAX_NESTING` or `MAX_DEPTH` logic is refused; at them, it parses
    /// and evaluates on a test thread's 2 MiB stack in a debug build.
    #[test]
    fn deeply_nested_logic_is_refused_not_a_stack_overflow() {
        let deep = 10_000;
        for text in [
            "(".repeat(deep) + "1" + &")".repeat(deep),
            "(".repeat(deep),
            "not ".repeat(deep) + "1",
            "-".repeat(deep) + "1",
            "+".repeat(deep) + "1",
            "1".to_owned() + &"+1".repeat(deep),
            "2".to_owned() + &"^2".repeat(deep),
            "[a]".to_owned() + &" and [a]".repeat(deep),
            "if(".repeat(deep),
            "round(".repeat(deep) + "1" + &")".repeat(deep),
            "1".to_owned() + &" + (1".repeat(deep),
        ] {
            assert!(
                matches!(parse(&text), Err(LogicError::TooDeep(_))),
                "{}...",
                &text[..12]
            );
        }
        // The outermost expression is one level of nesting.
        let n = MAX_NESTING - 1;
        let parens = |k: usize| "(".repeat(k) + "[a]" + &")".repeat(k);
        assert_eq!(calc(&parens(n), &[("a", "2")]), "2");
        assert!(matches!(parse(&parens(n + 1)), Err(LogicError::TooDeep(_))));
        let calls = "abs(".repeat(n) + "3" + &")".repeat(n);
        assert_eq!(calc(&calls, &[]), "3");
        // Each condition holds a comparison: one more level at the deepest.
        let ifs = "if([a] = '1', ".repeat(n - 1) + "5" + &", 0)".repeat(n - 1);
        assert_eq!(calc(&ifs, &[("a", "1")]), "5");
        assert!(show(&("not ".repeat(n) + "[a]"), &[("a", "0")]));
        let negated = if n.is_multiple_of(2) { "4" } else { "-4" };
        assert_eq!(calc(&("-".repeat(n) + "[a]"), &[("a", "4")]), negated);
        assert_eq!(calc(&("2".to_owned() + &"^1".repeat(n)), &[]), "2");
        // A tree as deep as allowed: a long sum.
        let sum = |k: usize| "[a]".to_owned() + &" + [a]".repeat(k - 1);
        assert_eq!(
            calc(&sum(MAX_DEPTH), &[("a", "2")]),
            (2 * MAX_DEPTH).to_string()
        );
        assert!(matches!(
            parse(&sum(MAX_DEPTH + 1)),
            Err(LogicError::TooDeep(_))
        ));
        // The evaluator's deepest stack: a right-nested chain (one frame
        // more per level) at the bottom of a left-nested one.
        let right = n - 1;
        let mixed = "1".to_owned() + &"^1".repeat(right) + &" + 1".repeat(MAX_DEPTH - right - 1);
        assert_eq!(calc(&mixed, &[]), (MAX_DEPTH - right).to_string());
        let message = parse(&parens(n + 1)).unwrap_err().to_string();
        assert!(
            message.contains(&format!("more than {MAX_NESTING} levels")),
            "{message}"
        );
    }

    #[test]
    fn references_list_every_field_read() {
        let e = parse("if([a] > 1, [b], [ev][c] + [d(2)])").unwrap();
        let names: Vec<String> = references(&e).into_iter().map(|r| r.field).collect();
        assert_eq!(names, vec!["a", "b", "c", "d"]);
    }

    /// All the branching logic and calculations of the real REDCap
    /// projects parse, or are listed as unsupported.
    #[test]
    fn the_logic_of_real_redcap_projects_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/redcap");
        let Ok(dirs) = std::fs::read_dir(&root) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing",
                root.display()
            );
            return;
        };
        let mut with_logic = 0;
        for dir in dirs {
            let path = dir.unwrap().path().join("dictionary.csv");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let d = parse_csv(&bytes).unwrap();
            for issue in check_dictionary(&d) {
                assert!(
                    matches!(issue.error, LogicError::Unsupported(_)),
                    "{}: {} {}: {}",
                    path.display(),
                    issue.field,
                    issue.column,
                    issue.error
                );
            }
            with_logic += d
                .fields
                .iter()
                .filter(|f| f.branching_logic.is_some() || f.field_type == FieldType::Calc)
                .count();
        }
        assert!(with_logic >= 5, "{with_logic} fields with logic");
    }
}

// ---- arms, events, mapping, repeating forms, sites ----

mod design {
    use super::super::design::{CLASSIC_EVENT, Design, DesignError};
    use super::super::*;

    fn dictionary() -> Dictionary {
        parse_csv(
            b"field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
record_id,enrollment,,text,ID,,,,,,,,,,,,,
sbp,vitals,,text,SBP,,,integer,,,,,,,,,,
ae_term,adverse_event,,text,AE,,,,,,,,,,,,,",
        )
        .unwrap()
    }

    const ARMS: &str = r#"[{"arm_num":"1","name":"Drug A"},{"arm_num":2,"name":"Drug B"}]"#;
    const EVENTS: &str = r#"[
        {"event_name":"Enrollment","arm_num":"1","unique_event_name":"enrollment_arm_1","custom_event_label":"","event_id":"41"},
        {"event_name":"Visit 1","arm_num":"1","unique_event_name":"visit_1_arm_1","custom_event_label":null,"event_id":42},
        {"event_name":"Enrollment","arm_num":"2","unique_event_name":"enrollment_arm_2","custom_event_label":"Day 0","event_id":43}]"#;
    const MAPPING: &str = r#"[
        {"arm_num":1,"unique_event_name":"enrollment_arm_1","form":"enrollment"},
        {"arm_num":1,"unique_event_name":"visit_1_arm_1","form":"vitals"},
        {"arm_num":1,"unique_event_name":"visit_1_arm_1","form":"adverse_event"},
        {"arm_num":2,"unique_event_name":"enrollment_arm_2","form":"enrollment"}]"#;
    const REPEATING: &str = r#"[{"event_name":"visit_1_arm_1","form_name":"adverse_event","custom_form_label":"[ae_term]"}]"#;
    const DAGS: &str = r#"[{"data_access_group_name":"Riverside Clinic","unique_group_name":"riverside_clinic","data_access_group_id":"7"}]"#;

    #[test]
    fn a_longitudinal_design_is_read_and_answers_the_visit_grid() {
        let d = dictionary();
        let design = Design::from_api(
            &d,
            Some(ARMS),
            Some(EVENTS),
            Some(MAPPING),
            Some(REPEATING),
            Some(DAGS),
        )
        .unwrap();
        assert!(design.is_longitudinal());
        assert_eq!(
            design.event_names(),
            vec!["enrollment_arm_1", "visit_1_arm_1", "enrollment_arm_2"]
        );
        assert_eq!(
            design.forms_for_event(&d, "visit_1_arm_1"),
            vec!["vitals", "adverse_event"]
        );
        assert_eq!(
            design.forms_for_event(&d, "enrollment_arm_2"),
            vec!["enrollment"]
        );
        assert!(design.repeats("visit_1_arm_1", "adverse_event"));
        assert!(!design.repeats("visit_1_arm_1", "vitals"));
        assert_eq!(
            design.events[2].custom_event_label.as_deref(),
            Some("Day 0")
        );
        assert_eq!(design.events[0].custom_event_label, None);
        assert_eq!(design.dags[0].unique_group_name, "riverside_clinic");
    }

    #[test]
    fn a_classic_design_has_one_event_with_every_form() {
        let d = dictionary();
        let design = Design::from_api(
            &d,
            None,
            None,
            None,
            Some(r#"[{"event_name":"","form_name":"adverse_event","custom_form_label":""}]"#),
            None,
        )
        .unwrap();
        assert_eq!(design.event_names(), vec![CLASSIC_EVENT]);
        assert_eq!(design.forms_for_event(&d, CLASSIC_EVENT).len(), 3);
        assert!(design.repeats(CLASSIC_EVENT, "adverse_event"));
    }

    #[test]
    fn a_design_that_does_not_hold_together_is_refused() {
        let d = dictionary();
        let unknown_form =
            r#"[{"arm_num":1,"unique_event_name":"enrollment_arm_1","form":"labs"}]"#;
        assert_eq!(
            Design::from_api(&d, Some(ARMS), Some(EVENTS), Some(unknown_form), None, None),
            Err(DesignError::UnknownForm("labs".into()))
        );
        let unknown_event =
            r#"[{"arm_num":1,"unique_event_name":"visit_9_arm_1","form":"vitals"}]"#;
        assert_eq!(
            Design::from_api(
                &d,
                Some(ARMS),
                Some(EVENTS),
                Some(unknown_event),
                None,
                None
            ),
            Err(DesignError::UnknownEvent("visit_9_arm_1".into()))
        );
        assert!(matches!(
            Design::from_api(
                &d,
                Some(r#"[{"arm_num":1,"name":"A"}]"#),
                Some(EVENTS),
                None,
                None,
                None
            ),
            Err(DesignError::UnknownArm { arm_num: 2, .. })
        ));
        assert!(matches!(
            Design::from_api(
                &d,
                Some("{\"error\":\"not longitudinal\"}"),
                None,
                None,
                None,
                None
            ),
            Err(DesignError::Unreadable { what: "arm", .. })
        ));
    }

    /// The arms and events of REDCap's longitudinal test project, as its
    /// CSV exports hold them, read as the API's JSON.
    #[test]
    fn the_longitudinal_fixture_reads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/redcap/longitudinal");
        let Ok(dictionary_csv) = std::fs::read(root.join("dictionary.csv")) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing",
                root.display()
            );
            return;
        };
        let to_json = |file: &str| {
            let mut r = csv::Reader::from_path(root.join(file)).unwrap();
            let headers = r.headers().unwrap().clone();
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = r
                .records()
                .map(|rec| {
                    let rec = rec.unwrap();
                    headers
                        .iter()
                        .zip(rec.iter())
                        .map(|(h, v)| (h.to_owned(), serde_json::Value::from(v)))
                        .collect()
                })
                .collect();
            serde_json::to_string(&rows).unwrap()
        };
        let d = parse_csv(&dictionary_csv).unwrap();
        let design = Design::from_api(
            &d,
            Some(&to_json("arm.csv")),
            Some(&to_json("event.csv")),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(design.arms.len(), 2);
        assert!(design.events.len() >= 4, "{} events", design.events.len());
        assert!(design.events.iter().all(|e| {
            e.unique_event_name
                .ends_with(&format!("_arm_{}", e.arm_num))
        }));
    }
}

/// Compatibility: every value of every real REDCap data export in
/// `../shared/fixtures/redcap` is accepted by the desk's validation against
/// its dictionary (REDCap accepted it, so must SiteDesk), and every field
/// of every dictionary is accounted for: a type the forms render, and logic
/// that parses or is listed as unsupported with a reason.
#[test]
fn real_redcap_data_validates_against_its_dictionary() {
    use super::logic::check_dictionary;
    use super::validate::{Verdict, check_value, display};
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/redcap");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs with ../shared beside the clone: {} is missing",
            root.display()
        );
        return;
    };
    let now = chrono::Local::now().naive_local();
    let (mut projects, mut values) = (0, 0);
    let mut failures: Vec<String> = Vec::new();
    for dir in dirs {
        let dir = dir.unwrap().path();
        let (Ok(dict), Ok(data)) = (
            std::fs::read(dir.join("dictionary.csv")),
            std::fs::read(dir.join("data.csv")),
        ) else {
            continue;
        };
        let d = parse_csv(&dict).unwrap();
        let issues = check_dictionary(&d);
        for i in &issues {
            assert!(
                d.field(&i.field).is_some() && !i.error.to_string().is_empty(),
                "{}: {i:?}",
                dir.display()
            );
        }
        let forms: Vec<String> = d.instruments().into_iter().map(|i| i.name).collect();
        let mut r = csv::Reader::from_reader(data.as_slice());
        let headers = r.headers().unwrap().clone();
        for (line, record) in r.records().enumerate() {
            let record = record.unwrap();
            for (column, value) in headers.iter().zip(record.iter()) {
                let at = || format!("{} row {} {column}={value:?}", dir.display(), line + 2);
                if value.is_empty() || column.starts_with("redcap_") {
                    continue;
                }
                // The `simple` export was written by R, which turned the
                // radio codes 0/1 of `sex` into FALSE/TRUE; its project.xml
                // has the codes REDCap exported.
                if dir.ends_with("simple") && column == "sex" {
                    continue;
                }
                if let Some(form) = column.strip_suffix("_complete")
                    && forms.iter().any(|f| f == form)
                {
                    assert!(["0", "1", "2"].contains(&value), "{}", at());
                    continue;
                }
                if column.ends_with("_timestamp") && d.field(column).is_none() {
                    continue; // survey completion time, not a field
                }
                let (name, code) = match column.split_once("___") {
                    Some((n, c)) => (n, Some(c)),
                    None => (column, None),
                };
                let field = d
                    .field(name)
                    .unwrap_or_else(|| panic!("{}: not in the dictionary", at()));
                values += 1;
                if let Some(code) = code {
                    assert!(
                        field.choices.iter().any(|c| c.code == code) && ["0", "1"].contains(&value),
                        "{}",
                        at()
                    );
                    continue;
                }
                if matches!(
                    field.field_type,
                    FieldType::Calc | FieldType::File | FieldType::Sql | FieldType::Descriptive
                ) {
                    continue; // computed or kept by the server, not typed
                }
                // The export holds stored values (ISO dates); the form shows
                // them in the field's order and checks what it shows.
                match check_value(field, &display(field, value), now) {
                    Verdict::Valid { stored }
                    | Verdict::OutOfRange { stored, .. }
                    | Verdict::Unsupported { stored, .. } => {
                        assert_eq!(stored, value.trim(), "{}: stored differently", at())
                    }
                    other => failures.push(format!("{}: {other:?}", at())),
                }
            }
        }
        projects += 1;
    }
    assert!(
        failures.is_empty(),
        "{} refused:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(projects >= 7, "only {projects} fixture projects with data");
    assert!(values > 500, "only {values} values checked");
}

/// Compatibility: the desk's calculations give the values REDCap stored in
/// the real exports, from the same row's values. `today`-relative calcs
/// (an age) changed since the export and are left out.
#[test]
fn real_redcap_calculations_match_the_exported_values() {
    use super::logic::{FieldRef, calculate, parse};
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/redcap");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return;
    };
    let mut compared = 0;
    for dir in dirs {
        let dir = dir.unwrap().path();
        let (Ok(dict), Ok(data)) = (
            std::fs::read(dir.join("dictionary.csv")),
            std::fs::read(dir.join("data.csv")),
        ) else {
            continue;
        };
        let d = parse_csv(&dict).unwrap();
        let mut r = csv::Reader::from_reader(data.as_slice());
        let headers = r.headers().unwrap().clone();
        for record in r.records() {
            let record = record.unwrap();
            let row: std::collections::HashMap<&str, &str> =
                headers.iter().zip(record.iter()).collect();
            for f in d.fields.iter().filter(|f| f.field_type == FieldType::Calc) {
                let text = f.choices_text.as_deref().unwrap_or("");
                let Some(exported) = row.get(f.name.as_str()).filter(|v| !v.is_empty()) else {
                    continue;
                };
                if text.contains("today") {
                    continue;
                }
                let lookup = |r: &FieldRef| {
                    let name = match &r.choice {
                        Some(c) => format!("{}___{c}", r.field),
                        None => r.field.clone(),
                    };
                    row.get(name.as_str()).copied().unwrap_or("").to_owned()
                };
                let ours = calculate(&parse(text).unwrap(), &lookup).unwrap();
                let (a, b): (f64, f64) = (ours.parse().unwrap(), exported.parse().unwrap());
                assert!(
                    (a - b).abs() < 1e-9,
                    "{} {}: ours {ours}, REDCap {exported}",
                    dir.display(),
                    f.name
                );
                compared += 1;
            }
        }
    }
    if root.exists() {
        assert!(compared >= 10, "only {compared} calculations compared");
    }
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}
