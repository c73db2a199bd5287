//! Property tests ("fuzzing") of the parsers that read what a study or a
//! server sends: branching logic and calculations, action tags, the
//! dictionary CSV and the ODM project file. Whatever the input, they
//! answer a value or an error, never a panic. Each property runs proptest's default number of
//! cases, a few seconds for the lot in `cargo test`; a long run sets
//! `PROPTEST_CASES` (e.g. `PROPTEST_CASES=100000 cargo test -p
//! sitedesk-core proptests`). A failure is saved under
//! `proptest-regressions/` and replayed first on the next run; keep the
//! file and add a named regression test for the fix.

use proptest::prelude::*;

use super::logic::{self, FieldRef};
use super::{parse_csv, parse_odm};

// ---- logic ----

/// Pieces of REDCap logic, so that generated text is mostly near-valid and
/// reaches the parser's and the evaluator's deeper paths.
fn logic_token() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "[a]",
        "[b]",
        "[e][f(1)]",
        "[meds(3)]",
        "[event-name]",
        "=",
        "<>",
        "!=",
        "<",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "^",
        "and",
        "or",
        "not",
        "(",
        ")",
        ",",
        "if(",
        "true",
        "datediff(",
        "round(",
        "rounddown(",
        "roundup(",
        "abs(",
        "min(",
        "max(",
        "mean(",
        "sum(",
        "sqrt(",
        "isnumber(",
        "isblankormissingcode(",
        "contains(",
        "stdev(",
        "'y'",
        "'today'",
        "'2024-02-29'",
        "'M'",
        "1e400",
        "99999999999999999999999999",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        4 => fixed,
        1 => "\\[[a-z_]{1,8}(\\([0-9a-z]{0,3}\\))?\\]",
        1 => "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
        1 => "'[a-zA-Z0-9 -]{0,6}'",
        1 => "\"[a-z]{0,4}\"",
    ]
}

fn near_valid_logic() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(logic_token(), 0..40),
        prop::sample::select(vec!["", " "]),
    )
        .prop_map(|(tokens, sep)| tokens.join(sep))
}

/// What a field lookup answers: numbers, dates, blanks, text.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "-?[0-9]{1,6}(\\.[0-9]{1,4})?",
        Just("0".to_owned()),
        Just("1".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("1e308".to_owned()),
        "(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]( [0-2][0-9]:[0-5][0-9](:[0-5][0-9])?)?",
        Just("+262143-12-31".to_owned()),
        "\\PC{0,12}",
    ]
}

/// Parses, then evaluates with `values` (a field's value picked by its
/// name), through every entry point the forms use.
fn parse_and_evaluate(text: &str, values: &[String]) {
    let Ok(expr) = logic::parse(text) else {
        return;
    };
    let lookup = |r: &FieldRef| {
        let key = r.field.len()
            + r.event.as_ref().map_or(0, String::len)
            + r.choice.as_ref().map_or(0, String::len);
        values
            .get(key % values.len().max(1))
            .cloned()
            .unwrap_or_default()
    };
    let _ = logic::eval(&expr, &lookup);
    let _ = logic::shows(&expr, &lookup);
    let _ = logic::calculate(&expr, &lookup);
    let _ = logic::references(&expr);
}

proptest! {
    #[test]
    fn logic_never_panics_on_any_text(text in "\\PC{0,200}") {
        parse_and_evaluate(&text, &["1".to_owned(), String::new()]);
    }

    #[test]
    fn logic_never_panics_on_near_valid_text(
        text in near_valid_logic(),
        values in prop::collection::vec(value_text(), 1..6),
    ) {
        parse_and_evaluate(&text, &values);
    }

    /// Valid shapes of every function with arbitrary arguments.
    #[test]
    fn functions_never_panic_on_any_arguments(
        f in prop::sample::select(vec![
            "if", "datediff", "round", "rounddown", "roundup", "abs", "min", "max",
            "mean", "sum", "sqrt", "isnumber", "isblankormissingcode", "contains",
        ]),
        args in prop::collection::vec(
            prop_oneof![Just("[a]".to_owned()), Just("[b]".to_owned()), value_text().prop_map(|v| format!("'{}'", v.replace('\'', "")))],
            0..6,
        ),
        values in prop::collection::vec(value_text(), 1..4),
    ) {
        parse_and_evaluate(&format!("{f}({})", args.join(", ")), &values);
    }
}

// ---- dictionary CSV ----

const HEADER: &str = "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation";

fn csv_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z][a-z0-9_]{0,10}",
        prop::sample::select(vec![
            "text",
            "notes",
            "dropdown",
            "radio",
            "checkbox",
            "yesno",
            "truefalse",
            "calc",
            "slider",
            "descriptive",
            "file",
            "sql",
            "TEXT",
            "bogus",
            "y",
            "Y",
            "n",
        ])
        .prop_map(str::to_owned),
        Just("1, One | 2, Two".to_owned()),
        Just("1, One | 1, Again".to_owned()),
        Just("| , |".to_owned()),
        Just("round([a]/[b], 1)".to_owned()),
        "\"[^\"]{0,10}\"",
        "[a-z ,|\"\n\r]{0,12}",
        "\\PC{0,10}",
    ]
}

/// A cell as CSV writes it: quoted when it needs to be, or sometimes left
/// raw to make a malformed line.
fn csv_field() -> impl Strategy<Value = String> {
    (csv_cell(), any::<bool>()).prop_map(|(c, quote)| {
        if quote {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c
        }
    })
}

fn near_valid_csv() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::collection::vec(prop::collection::vec(csv_field(), 15..20), 0..6),
        prop::sample::select(vec!["\n", "\r\n"]),
    )
        .prop_map(|(bom, rows, newline)| {
            let mut out = String::new();
            if bom {
                out.push('\u{feff}');
            }
            out.push_str(HEADER);
            for row in rows {
                out.push_str(newline);
                out.push_str(&row.join(","));
            }
            out.into_bytes()
        })
}

proptest! {
    #[test]
    fn the_dictionary_csv_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_csv(&bytes);
    }

    #[test]
    fn the_dictionary_csv_never_panics_on_near_valid_files(bytes in near_valid_csv()) {
        if let Ok(d) = parse_csv(&bytes) {
            // What a read dictionary promises the rest of the code.
            prop_assert!(!d.fields.is_empty());
            let _ = d.record_id_field();
            let _ = d.version_hash();
            let _ = logic::check_dictionary(&d);
        }
    }
}

// ---- action tags ----

/// Pieces of annotations: tags, arguments, quotes and brackets left open.
fn annotation() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "@",
            "@CALCTEXT(",
            "@CALCDATE(",
            "@DEFAULT=",
            "@NONEOFTHEABOVE=",
            "@CHARLIMIT=",
            "@HIDDEN",
            "@READONLY",
            "'",
            "\"",
            "(",
            ")",
            "[d]",
            ",",
            "=",
            " ",
            "\n",
            "7",
            "x",
            "'d'",
            "if(",
            "é",
        ]),
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn action_tags_never_panic_on_any_annotation(
        text in prop_oneof![annotation(), "\\PC{0,120}"],
        ty in prop::sample::select(vec!["text", "notes", "checkbox", "radio"]),
        validation in prop::sample::select(vec!["", "date_ymd", "datetime_ymd", "integer"]),
    ) {
        let mut f = parse_csv(
            format!(
                "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation\nf,a,,{ty},F,\"1, A | 2, B\",,{validation},,,,,,,,,,"
            )
            .as_bytes(),
        )
        .unwrap()
        .fields
        .remove(0);
        f.annotation = Some(text.clone());
        let _ = super::tags::parse_tags(&text);
        let _ = super::tags::FieldTags::of(&f);
    }
}

// ---- ODM project file ----

/// A compact project file with each construct the reader handles: events
/// and arms, a checkbox, a calculation, code lists, a repeating form and
/// data access groups.
const PROJECT: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:redcap="https://projectredcap.org" ODMVersion="1.3.1">
<Study OID="Project.P">
<GlobalVariables>
	<StudyName>P</StudyName>
	<redcap:RepeatingInstrumentsAndEvents>
		<redcap:RepeatingInstruments>
			<redcap:RepeatingInstrument redcap:UniqueEventName="v1_arm_1" redcap:RepeatInstrument="labs" redcap:CustomLabel="[d]"/>
		</redcap:RepeatingInstruments>
	</redcap:RepeatingInstrumentsAndEvents>
	<redcap:DataAccessGroupsGroup>
		<redcap:DataAccessGroups group_name="Site A"/>
		<redcap:DataAccessGroups group_name="北京"/>
	</redcap:DataAccessGroupsGroup>
</GlobalVariables>
<MetaDataVersion OID="Metadata.P" Name="P" redcap:RecordIdField="record_id">
	<Protocol>
		<StudyEventRef StudyEventOID="Event.v1_arm_1" OrderNumber="1" Mandatory="No"/>
	</Protocol>
	<StudyEventDef OID="Event.v1_arm_1" Name="V1" Type="Common" Repeating="No" redcap:EventName="V1" redcap:CustomEventLabel="" redcap:UniqueEventName="v1_arm_1" redcap:ArmNum="1" redcap:ArmName="A">
		<FormRef FormOID="Form.demo" OrderNumber="1" Mandatory="No" redcap:FormName="demo"/>
		<FormRef FormOID="Form.labs" OrderNumber="2" Mandatory="No" redcap:FormName="labs"/>
	</StudyEventDef>
	<FormDef OID="Form.demo" Name="Demo" Repeating="No" redcap:FormName="demo">
		<ItemGroupRef ItemGroupOID="demo.record_id" Mandatory="No"/>
		<ItemGroupRef ItemGroupOID="demo.demo_complete" Mandatory="No"/>
	</FormDef>
	<FormDef OID="Form.labs" Name="Labs" Repeating="No" redcap:FormName="labs">
		<ItemGroupRef ItemGroupOID="labs.d" Mandatory="No"/>
	</FormDef>
	<ItemGroupDef OID="demo.record_id" Name="Demo" Repeating="No">
		<ItemRef ItemOID="record_id" Mandatory="No" redcap:Variable="record_id"/>
		<ItemRef ItemOID="redcap_data_access_group" Mandatory="No" redcap:Variable="redcap_data_access_group"/>
		<ItemRef ItemOID="meds___1" Mandatory="No" redcap:Variable="meds"/>
		<ItemRef ItemOID="meds___2" Mandatory="No" redcap:Variable="meds"/>
		<ItemRef ItemOID="sex" Mandatory="Yes" redcap:Variable="sex"/>
	</ItemGroupDef>
	<ItemGroupDef OID="demo.demo_complete" Name="Form Status" Repeating="No">
		<ItemRef ItemOID="demo_complete" Mandatory="No" redcap:Variable="demo_complete"/>
	</ItemGroupDef>
	<ItemGroupDef OID="labs.d" Name="Labs" Repeating="No">
		<ItemRef ItemOID="d" Mandatory="No" redcap:Variable="d"/>
		<ItemRef ItemOID="bmi" Mandatory="No" redcap:Variable="bmi"/>
	</ItemGroupDef>
	<ItemDef OID="record_id" Name="record_id" DataType="text" Length="999" redcap:Variable="record_id" redcap:FieldType="text">
		<Question><TranslatedText>Record ID</TranslatedText></Question>
	</ItemDef>
	<ItemDef OID="redcap_data_access_group" Name="redcap_data_access_group" DataType="text" redcap:Variable="redcap_data_access_group">
		<Question><TranslatedText>Data Access Group</TranslatedText></Question>
	</ItemDef>
	<ItemDef OID="meds___1" Name="meds___1" DataType="boolean" redcap:Variable="meds" redcap:FieldType="checkbox" redcap:SectionHeader="Meds &amp; more">
		<Question><TranslatedText>Meds</TranslatedText><redcap:FormattedTranslatedText>&lt;b&gt;Meds&lt;/b&gt;</redcap:FormattedTranslatedText></Question>
		<CodeListRef CodeListOID="meds___1.choices"/>
	</ItemDef>
	<ItemDef OID="meds___2" Name="meds___2" DataType="boolean" redcap:Variable="meds" redcap:FieldType="checkbox">
		<Question><TranslatedText>Meds</TranslatedText></Question>
		<CodeListRef CodeListOID="meds___2.choices"/>
	</ItemDef>
	<ItemDef OID="sex" Name="sex" DataType="text" redcap:Variable="sex" redcap:FieldType="radio" redcap:BranchingLogic="[meds(1)] = '1'
or [meds(2)] = '1'">
		<Question><TranslatedText>Sex</TranslatedText></Question>
		<CodeListRef CodeListOID="sex.choices"/>
	</ItemDef>
	<ItemDef OID="demo_complete" Name="demo_complete" DataType="text" redcap:Variable="demo_complete" redcap:FieldType="select">
		<Question><TranslatedText>Complete?</TranslatedText></Question>
	</ItemDef>
	<ItemDef OID="d" Name="d" DataType="date" redcap:Variable="d" redcap:FieldType="text" redcap:TextValidationType="date_ymd">
		<Question><TranslatedText>Date</TranslatedText></Question>
		<RangeCheck Comparator="GE" SoftHard="Soft"><CheckValue>2000-01-01</CheckValue></RangeCheck>
		<RangeCheck Comparator="LE" SoftHard="Soft"><CheckValue>today</CheckValue></RangeCheck>
	</ItemDef>
	<ItemDef OID="bmi" Name="bmi" DataType="float" redcap:Variable="bmi" redcap:FieldType="calc" redcap:Calculation="round([w]/([h]/100)^2, 1)">
		<Question><TranslatedText>BMI</TranslatedText></Question>
	</ItemDef>
	<CodeList OID="meds___1.choices" Name="meds___1" DataType="boolean" redcap:Variable="meds" redcap:CheckboxChoices="1, Aspirin|2, Heparin"/>
	<CodeList OID="meds___2.choices" Name="meds___2" DataType="boolean" redcap:Variable="meds" redcap:CheckboxChoices="1, Aspirin|2, Heparin"/>
	<CodeList OID="sex.choices" Name="sex" DataType="text" redcap:Variable="sex">
		<CodeListItem CodedValue="0"><Decode><TranslatedText>Female</TranslatedText></Decode></CodeListItem>
		<CodeListItem CodedValue="1"><Decode><TranslatedText>Male</TranslatedText></Decode></CodeListItem>
	</CodeList>
</MetaDataVersion>
</Study>
</ODM>
"#;

#[test]
fn the_fuzzed_project_file_reads_unmutated() {
    let (d, design) = parse_odm(PROJECT).unwrap();
    let names: Vec<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["record_id", "meds", "sex", "d", "bmi"]);
    assert_eq!(design.events.len(), 1);
    assert_eq!(design.repeating.len(), 1);
    assert_eq!(design.dags.len(), 2);
}

/// Snippets that make a project file wrong in the ways files go wrong:
/// cut, doubled, a broken entity, an element or reference where none
/// belongs.
fn xml_snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just("\"".to_owned()),
        Just("&".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#0;".to_owned()),
        Just("&#x10FFFF;".to_owned()),
        Just("]]>".to_owned()),
        Just("<![CDATA[x]]>".to_owned()),
        Just("<!-- c -->".to_owned()),
        Just("<!DOCTYPE x [<!ENTITY e \"ee\">]>".to_owned()),
        Just("\n".to_owned()),
        Just("</ItemDef>".to_owned()),
        Just("<ItemRef ItemOID=\"sex\"/>".to_owned()),
        Just("<ItemGroupRef ItemGroupOID=\"labs.d\"/>".to_owned()),
        Just("<FormRef FormOID=\"Form.nope\"/>".to_owned()),
        Just("<CodeListRef CodeListOID=\"sex.choices\"/>".to_owned()),
        Just("<RangeCheck Comparator=\"GE\"><CheckValue>x</CheckValue></RangeCheck>".to_owned()),
        Just(" redcap:FieldType=\"checkbox\"".to_owned()),
        Just(" redcap:ArmNum=\"99999999999\"".to_owned()),
        Just("<redcap:RepeatingEvent redcap:UniqueEventName=\"v1_arm_1\"/>".to_owned()),
        Just("<redcap:DataAccessGroups group_name=\"\"/>".to_owned()),
        "\\PC{0,8}",
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        text: String,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
    /// Replaces the text between one pair of quotes.
    Value {
        nth: usize,
        text: String,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..200usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), xml_snippet()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 1..400usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (
            any::<usize>(),
            prop_oneof![Just(String::new()), "[a-z_.]{1,10}", "\\PC{0,6}"]
        )
            .prop_map(|(nth, text)| Mutation::Value { nth, text }),
    ]
}

/// `i`, or the last character boundary before it, within `s`.
fn floor(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A character boundary of `s` picked by `at`.
fn boundary(s: &str, at: usize) -> usize {
    floor(s, at % (s.len() + 1))
}

fn mutate(mut s: String, mutations: &[Mutation]) -> String {
    for m in mutations {
        match m {
            Mutation::Delete { at, len } => {
                let start = boundary(&s, *at);
                let end = floor(&s, start + len);
                s.replace_range(start..end, "");
            }
            Mutation::Insert { at, text } => {
                let at = boundary(&s, *at);
                s.insert_str(at, text);
            }
            Mutation::Duplicate { at, len } => {
                let start = boundary(&s, *at);
                let end = floor(&s, start + len);
                let piece = s[start..end].to_owned();
                s.insert_str(end, &piece);
            }
            Mutation::Value { nth, text } => {
                let quotes: Vec<usize> = s.match_indices('"').map(|(i, _)| i).collect();
                if quotes.len() >= 2 {
                    let pair = (nth % (quotes.len() / 2)) * 2;
                    s.replace_range(quotes[pair] + 1..quotes[pair + 1], text);
                }
            }
        }
    }
    s
}

proptest! {
    #[test]
    fn the_project_file_reader_never_panics_on_any_text(text in "\\PC{0,300}") {
        let _ = parse_odm(&text);
    }

    #[test]
    fn the_project_file_reader_never_panics_on_xml_like_text(
        parts in prop::collection::vec(xml_snippet(), 0..30),
    ) {
        let _ = parse_odm(&format!("<ODM><Study><MetaDataVersion>{}</MetaDataVersion></Study></ODM>", parts.concat()));
    }

    #[test]
    fn the_project_file_reader_never_panics_on_mutated_files(
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let text = mutate(PROJECT.to_owned(), &mutations);
        if let Ok((d, design)) = parse_odm(&text) {
            // What a read project promises the rest of the code.
            prop_assert!(!d.fields.is_empty());
            let _ = d.record_id_field();
            for event in design.event_names() {
                let _ = design.forms_for_event(&d, &event);
            }
            let _ = logic::check_dictionary(&d);
        }
    }
}

/// The same on a real export, where the shared fixtures are present.
#[test]
fn the_project_file_reader_never_panics_on_a_mutated_real_export() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/redcap/repeating-instruments/project.xml");
    let Ok(real) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing",
            path.display()
        );
        return;
    };
    let config = ProptestConfig {
        // A 16 KB file per case: fewer cases keep the default run short.
        cases: ProptestConfig::default().cases / 4,
        ..ProptestConfig::default()
    };
    proptest!(config, |(mutations in prop::collection::vec(mutation(), 1..5))| {
        let _ = parse_odm(&mutate(real.clone(), &mutations));
    });
}
