//! The ODM project file import: against every REDCap fixture that has a
//! `project.xml` (its `dictionary.csv`, `event.csv`, `arm.csv` and data say
//! what it must give), and on small hand-written files for each refusal.

use std::path::{Path, PathBuf};

use super::design::{Arm, Dag, Design, DesignError, Event, InstrumentLabel, Repeating};
use super::odm::unique_group_names;
use super::*;
use crate::i18n::Lang;

fn fixtures() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/redcap");
    if root.is_dir() {
        return Some(root);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs with ../shared beside the clone: {} is missing",
        root.display()
    );
    None
}

fn read_fixture(dir: &str) -> Option<(Dictionary, Design)> {
    let path = fixtures()?.join(dir).join("project.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    Some(parse_odm(&text).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message(Lang::EN))))
}

/// The rows of a fixture CSV file as maps from header to value.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// What REDCap's ODM export does not carry, cleared from a field read from
/// the CSV: an `sql` field's query (left out because its answers may hold
/// PHI), and min and max without a validation type (the export writes a
/// range check only for a validated field, so a slider's range is lost).
fn as_odm_carries_it(f: &Field) -> Field {
    let mut f = f.clone();
    if f.field_type == FieldType::Sql {
        f.choices_text = None;
    }
    if f.validation.is_none() {
        f.min = None;
        f.max = None;
    }
    f
}

/// Every fixture's project file gives the fields of its dictionary CSV:
/// names, forms, order, types, labels, choices, validation, ranges,
/// branching logic, calculations and the rest, field for field.
#[test]
fn every_fixture_project_file_gives_the_dictionary_of_its_csv() {
    let Some(root) = fixtures() else {
        return;
    };
    let mut compared = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let Ok(xml) = std::fs::read_to_string(dir.join("project.xml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let csv = parse_csv(&std::fs::read(dir.join("dictionary.csv")).unwrap()).unwrap();
        let (odm, _) =
            parse_odm(&xml).unwrap_or_else(|e| panic!("{name}: {}", e.message(Lang::EN)));
        // The simple project's file has a field its dictionary CSV (and its
        // data export) were made without; it is the only field either side
        // lacks.
        let extra: &[&str] = if name == "simple" {
            &["interpreter_needed"]
        } else {
            &[]
        };
        let odm_names: Vec<&str> = odm
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| !extra.contains(n))
            .collect();
        let csv_names: Vec<&str> = csv.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(odm_names, csv_names, "{name}: fields and their order");
        for f in &csv.fields {
            let from_odm = odm.field(&f.name).unwrap();
            assert_eq!(from_odm, &as_odm_carries_it(f), "{name}: field {}", f.name);
        }
        let forms = |d: &Dictionary| -> Vec<String> {
            d.instruments().into_iter().map(|i| i.name).collect()
        };
        assert_eq!(forms(&odm), forms(&csv), "{name}: forms");
        compared += 1;
    }
    assert!(compared >= 7, "only {compared} fixture project files found");
}

/// The fixtures show each thing REDCap's export leaves out at least once,
/// so `as_odm_carries_it` is not hiding a difference that never happens.
#[test]
fn what_the_odm_export_lacks_is_real() {
    let Some(root) = fixtures() else {
        return;
    };
    let csv =
        parse_csv(&std::fs::read(root.join("validation-types-1/dictionary.csv")).unwrap()).unwrap();
    let (odm, _) = read_fixture("validation-types-1").unwrap();
    let slider = |d: &Dictionary| d.field("f_slider").unwrap().clone();
    assert_eq!(slider(&csv).min.as_deref(), Some("-1"));
    assert_eq!(slider(&odm).min, None);
    assert_eq!(slider(&odm).choices_text.as_deref(), Some("-1 | 50 | 101"));
    let sql = |d: &Dictionary| d.field("f_sql").unwrap().choices_text.clone();
    assert_eq!(sql(&csv).as_deref(), Some("SELECT 1 as one;"));
    assert_eq!(sql(&odm), None);
}

#[test]
fn the_longitudinal_fixture_gives_its_arms_events_and_forms() {
    let Some((dictionary, design)) = read_fixture("longitudinal") else {
        return;
    };
    let root = fixtures().unwrap().join("longitudinal");
    let arms: Vec<Arm> = csv_rows(&root.join("arm.csv"))
        .into_iter()
        .map(|r| Arm {
            arm_num: r["arm_num"].parse().unwrap(),
            name: r["name"].clone(),
        })
        .collect();
    assert_eq!(design.arms, arms);
    let events: Vec<Event> = csv_rows(&root.join("event.csv"))
        .into_iter()
        .map(|r| Event {
            event_name: r["event_name"].clone(),
            arm_num: r["arm_num"].parse().unwrap(),
            unique_event_name: r["unique_event_name"].clone(),
            custom_event_label: Some(r["custom_event_label"].clone()).filter(|l| !l.is_empty()),
        })
        .collect();
    assert_eq!(design.events, events);
    assert!(design.repeating.is_empty() && design.dags.is_empty());
    assert_eq!(
        design.forms_for_event(&dictionary, "enrollment_arm_1"),
        ["demographics", "contact_info", "baseline_data"]
    );
    assert_eq!(design.form_label("contact_info"), "Contact Info");
    assert_eq!(
        design.forms_for_event(&dictionary, "deadline_to_opt_ou_arm_2"),
        ["contact_info"]
    );
    // Every value the data export has is in a form its event has (the
    // record id, which keys every row, aside).
    let record_id = &dictionary.record_id_field().name;
    for row in csv_rows(&root.join("data.csv")) {
        let event = &row["redcap_event_name"];
        let forms = design.forms_for_event(&dictionary, event);
        assert!(!forms.is_empty(), "{event} has no forms");
        for (column, value) in &row {
            let field = column.split("___").next().unwrap();
            if let Some(f) = dictionary.field(field)
                && &f.name != record_id
                && !value.is_empty()
                && f.field_type != FieldType::Checkbox
            {
                assert!(
                    forms.contains(&f.form),
                    "{event}: {column} is on {}",
                    f.form
                );
            }
        }
    }
}

#[test]
fn the_repeating_fixture_gives_its_repeating_form() {
    let Some((dictionary, design)) = read_fixture("repeating-instruments") else {
        return;
    };
    assert_eq!(
        design.repeating,
        [Repeating {
            // A classic project: the API and `Design` leave the event empty.
            event_name: String::new(),
            form_name: "bp".into(),
            custom_form_label: Some("[record_id]-[date_bp]".into()),
        }]
    );
    assert!(!design.is_longitudinal());
    assert!(design.repeats(design::CLASSIC_EVENT, "bp"));
    assert!(!design.repeats(design::CLASSIC_EVENT, "demographics"));
    let data = fixtures().unwrap().join("repeating-instruments/data.csv");
    let repeated: Vec<String> = csv_rows(&data)
        .into_iter()
        .map(|r| r["redcap_repeat_instrument"].clone())
        .filter(|f| !f.is_empty())
        .collect();
    assert!(!repeated.is_empty());
    assert!(
        repeated
            .iter()
            .all(|f| design.repeats(design::CLASSIC_EVENT, f))
    );
    assert!(dictionary.field("bp_systolic").is_some());
}

/// The file has only the groups' names; the unique names derived from them
/// are the ones the records carry.
#[test]
fn the_dag_fixture_gives_its_sites() {
    let Some((_, design)) = read_fixture("dag") else {
        return;
    };
    assert_eq!(
        design.dags,
        [
            Dag {
                data_access_group_name: "dag-a".into(),
                unique_group_name: "daga".into(),
            },
            Dag {
                data_access_group_name: "dag-b".into(),
                unique_group_name: "dagb".into(),
            },
        ]
    );
    let data = fixtures().unwrap().join("dag/data.csv");
    for row in csv_rows(&data) {
        let dag = &row["redcap_data_access_group"];
        assert!(
            dag.is_empty() || design.dags.iter().any(|d| &d.unique_group_name == dag),
            "{dag}"
        );
    }
    let (_, simple) = read_fixture("simple").unwrap();
    let names: Vec<&str> = simple
        .dags
        .iter()
        .map(|d| d.unique_group_name.as_str())
        .collect();
    assert_eq!(names, ["dag_1", "dag_2"]);
}

#[test]
fn unique_group_names_are_derived_as_redcap_derives_them() {
    let names: Vec<String> = [
        "Site A",
        "site a",
        "Site A",
        "dag-a",
        "  Beijing Union Medical College Hospital ",
        "abcdefghijklmnopq r",
        "O&#039;Brien Clinic",
        "北京协和医院",
        "北京协和医院 1",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        unique_group_names(&names),
        [
            "site_a",
            "site_ab",
            "site_ac",
            "daga",
            "beijing_union_medi",
            "abcdefghijklmnopq",
            "obrien_clinic",
            // No ASCII letter or digit: the first 10 hex digits of the
            // name's MD5, as REDCap does.
            "e8870a349e",
            // What is left of it, as REDCap keeps it.
            "_1",
        ]
    );
    let many: Vec<String> = (0..28).map(|_| "x".to_owned()).collect();
    let unique = unique_group_names(&many);
    assert_eq!(unique[1], "xb");
    assert_eq!(unique[25], "xz");
    assert_eq!(unique[26], "xaa");
    assert_eq!(unique[27], "xab");
}

// ---- small files ----

/// A project file with these definitions in its `MetaDataVersion` and
/// these `GlobalVariables`.
fn odm(metadata: &str, globals: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:redcap="https://projectredcap.org" ODMVersion="1.3.1">
<Study OID="Project.Test">
<GlobalVariables>
	<StudyName>Test</StudyName>
{globals}
</GlobalVariables>
<MetaDataVersion OID="Metadata.Test" Name="Test" redcap:RecordIdField="record_id">
{metadata}
</MetaDataVersion>
</Study>
</ODM>
"#
    )
}

/// One form `f` with a record id, the given items, and its status item.
fn one_form(items: &str, defs: &str) -> String {
    odm(
        &format!(
            r#"<FormDef OID="Form.f" Name="F" Repeating="No" redcap:FormName="f">
		<ItemGroupRef ItemGroupOID="f.record_id" Mandatory="No"/>
		<ItemGroupRef ItemGroupOID="f.f_complete" Mandatory="No"/>
	</FormDef>
	<ItemGroupDef OID="f.record_id" Name="F" Repeating="No">
		<ItemRef ItemOID="record_id" Mandatory="No" redcap:Variable="record_id"/>
		{items}
	</ItemGroupDef>
	<ItemGroupDef OID="f.f_complete" Name="Form Status" Repeating="No">
		<ItemRef ItemOID="f_complete" Mandatory="No" redcap:Variable="f_complete"/>
	</ItemGroupDef>
	<ItemDef OID="record_id" Name="record_id" DataType="text" redcap:Variable="record_id" redcap:FieldType="text">
		<Question><TranslatedText>Record ID</TranslatedText></Question>
	</ItemDef>
	<ItemDef OID="f_complete" Name="f_complete" DataType="text" redcap:Variable="f_complete" redcap:FieldType="select">
		<Question><TranslatedText>Complete?</TranslatedText></Question>
	</ItemDef>
	{defs}"#
        ),
        "",
    )
}

#[test]
fn a_small_file_reads_with_what_the_csv_would_have() {
    let xml = one_form(
        r#"<ItemRef ItemOID="weight" Mandatory="Yes" redcap:Variable="weight"/>
		<ItemRef ItemOID="meds___1" Mandatory="No" redcap:Variable="meds"/>
		<ItemRef ItemOID="meds___2" Mandatory="No" redcap:Variable="meds"/>
		<ItemRef ItemOID="sex" Mandatory="No" redcap:Variable="sex"/>"#,
        "<ItemDef OID=\"weight\" Name=\"weight\" DataType=\"integer\" redcap:Variable=\"weight\" redcap:FieldType=\"text\" redcap:TextValidationType=\"int\" redcap:SectionHeader=\"Vitals\nmeasured at rest\" redcap:BranchingLogic=\"[sex] = '1'\r\nor [sex] = '0'\" redcap:FieldAnnotation=\"@HIDDEN&#10;@READONLY\">
		<Question><TranslatedText>Weight in kg</TranslatedText><redcap:FormattedTranslatedText>Weight &lt;b&gt;in kg&lt;/b&gt;</redcap:FormattedTranslatedText></Question>
		<RangeCheck Comparator=\"GE\" SoftHard=\"Soft\"><CheckValue>35</CheckValue></RangeCheck>
	</ItemDef>
	<ItemDef OID=\"meds___1\" Name=\"meds___1\" DataType=\"boolean\" redcap:Variable=\"meds\" redcap:FieldType=\"checkbox\">
		<Question><TranslatedText>Medications</TranslatedText></Question>
		<CodeListRef CodeListOID=\"meds___1.choices\"/>
	</ItemDef>
	<ItemDef OID=\"meds___2\" Name=\"meds___2\" DataType=\"boolean\" redcap:Variable=\"meds\" redcap:FieldType=\"checkbox\">
		<Question><TranslatedText>Medications</TranslatedText></Question>
		<CodeListRef CodeListOID=\"meds___2.choices\"/>
	</ItemDef>
	<ItemDef OID=\"sex\" Name=\"sex\" DataType=\"text\" redcap:Variable=\"sex\" redcap:FieldType=\"radio\" redcap:RequiredField=\"y\">
		<Question><TranslatedText>Sex</TranslatedText></Question>
		<CodeListRef CodeListOID=\"sex.choices\"/>
	</ItemDef>
	<CodeList OID=\"meds___1.choices\" Name=\"meds___1\" DataType=\"boolean\" redcap:Variable=\"meds\" redcap:CheckboxChoices=\"1, Aspirin|2, Heparin &amp; co\"/>
	<CodeList OID=\"meds___2.choices\" Name=\"meds___2\" DataType=\"boolean\" redcap:Variable=\"meds\" redcap:CheckboxChoices=\"1, Aspirin|2, Heparin &amp; co\"/>
	<CodeList OID=\"sex.choices\" Name=\"sex\" DataType=\"text\" redcap:Variable=\"sex\">
		<CodeListItem CodedValue=\"0\"><Decode><TranslatedText>Female</TranslatedText></Decode></CodeListItem>
		<CodeListItem CodedValue=\"1\"><Decode><TranslatedText>Male</TranslatedText></Decode></CodeListItem>
	</CodeList>",
    );
    let (d, design) = parse_odm(&xml).unwrap();
    assert_eq!(
        design,
        Design {
            instruments: vec![InstrumentLabel {
                instrument_name: "f".into(),
                instrument_label: "F".into(),
            }],
            ..Design::default()
        },
        "a classic project: only the form's display name"
    );
    let names: Vec<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["record_id", "weight", "meds", "sex"]);
    let csv = parse_csv(
        "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
record_id,f,,text,Record ID,,,,,,,,,,,,,
weight,f,\"Vitals\nmeasured at rest\",text,Weight <b>in kg</b>,,,integer,35,,,\"[sex] = '1'\nor [sex] = '0'\",y,,,,,\"@HIDDEN\n@READONLY\"
meds,f,,checkbox,Medications,\"1, Aspirin | 2, Heparin & co\",,,,,,,,,,,,
sex,f,,radio,Sex,\"0, Female | 1, Male\",,,,,,,y,,,,,
"
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(d, csv);
}

#[test]
fn a_project_files_settings_and_records_are_read_as_written() {
    let xml = one_form(
        r#"<ItemRef ItemOID="note" Mandatory="No" redcap:Variable="note"/>
		<ItemRef ItemOID="scan" Mandatory="No" redcap:Variable="scan"/>"#,
        r#"<ItemDef OID="note" Name="note" DataType="text" redcap:Variable="note" redcap:FieldType="textarea">
		<Question><TranslatedText>Note</TranslatedText></Question>
	</ItemDef>
	<ItemDef OID="scan" Name="scan" DataType="text" redcap:Variable="scan" redcap:FieldType="file">
		<Question><TranslatedText>Scan</TranslatedText></Question>
	</ItemDef>"#,
    )
    .replace(
        "</GlobalVariables>",
        "<redcap:RecordAutonumberingEnabled>1</redcap:RecordAutonumberingEnabled>
	<redcap:MissingDataCodes> UNK, Unknown </redcap:MissingDataCodes>
</GlobalVariables>",
    )
    .replace(
        "</ODM>",
        r#"<ClinicalData StudyOID="Project.Test" MetaDataVersionOID="Metadata.Test">
	<SubjectData SubjectKey="7" redcap:RecordIdField="record_id">
		<FormData FormOID="Form.f" FormRepeatKey="1">
			<ItemGroupData ItemGroupOID="f.record_id" ItemGroupRepeatKey="1">
				<ItemData ItemOID="record_id" Value="7"/>
				<ItemData ItemOID="note" Value="two
lines &amp; more"/>
				<ItemDataBase64Binary ItemOID="scan" redcap:DocName="scan.pdf">AAAA</ItemDataBase64Binary>
				<ItemData ItemOID="redcap_data_access_group"/>
			</ItemGroupData>
		</FormData>
		<FormData FormOID="Form.gone"/>
	</SubjectData>
	<SubjectData SubjectKey="8">
		<StudyEventData StudyEventOID="Event.visit_arm_1" StudyEventRepeatKey="x" redcap:UniqueEventName="visit_arm_1">
			<FormData FormOID="Form.f" FormRepeatKey="2"/>
		</StudyEventData>
		<StudyEventData StudyEventOID="Event.base_arm_1" StudyEventRepeatKey="2"/>
	</SubjectData>
</ClinicalData>
</ODM>"#,
    );
    let p = parse_odm_project(&xml).unwrap();
    assert_eq!(
        Ok((p.dictionary.clone(), p.design.clone())),
        parse_odm(&xml)
    );
    assert_eq!(p.title.as_deref(), Some("Test"));
    assert!(p.autonumbering);
    assert_eq!(p.missing_data_codes, "UNK, Unknown");
    let form = |name: Option<&str>, oid: &str, repeat_key, items| OdmForm {
        oid: oid.into(),
        name: name.map(str::to_owned),
        repeat_key,
        items,
    };
    let item = |oid: &str, value| OdmItem {
        oid: oid.into(),
        value,
    };
    assert_eq!(
        p.subjects,
        [
            OdmSubject {
                key: "7".into(),
                forms: vec![
                    form(
                        Some("f"),
                        "Form.f",
                        Some(1),
                        vec![
                            item("record_id", OdmValue::Text(Some("7".into()))),
                            item("note", OdmValue::Text(Some("two\nlines & more".into()))),
                            item("scan", OdmValue::File(Some("scan.pdf".into()))),
                            item("redcap_data_access_group", OdmValue::Text(None)),
                        ],
                    ),
                    form(None, "Form.gone", None, Vec::new()),
                ],
                events: Vec::new(),
            },
            OdmSubject {
                key: "8".into(),
                forms: Vec::new(),
                events: vec![
                    OdmEvent {
                        unique_event_name: "visit_arm_1".into(),
                        repeat_key: None,
                        forms: vec![form(Some("f"), "Form.f", Some(2), Vec::new())],
                    },
                    OdmEvent {
                        unique_event_name: "base_arm_1".into(),
                        repeat_key: Some(2),
                        forms: Vec::new(),
                    },
                ],
            },
        ]
    );
}

fn refused(xml: &str) -> OdmError {
    parse_odm(xml).expect_err("refused")
}

#[test]
fn malformed_files_are_refused_naming_what_is_wrong() {
    assert!(matches!(
        refused("record_id,form_name\n1,a\n"),
        OdmError::Xml(_)
    ));
    assert!(matches!(refused("<ODM><Study>"), OdmError::Xml(_)));
    assert!(matches!(refused(""), OdmError::Xml(_)));
    assert_eq!(refused("<html/>"), OdmError::NotOdm("html".into()));
    assert_eq!(refused("<ODM/>"), OdmError::MissingElement("Study"));
    assert_eq!(
        refused("<ODM><Study/></ODM>"),
        OdmError::MissingElement("MetaDataVersion")
    );

    // No ItemDef at all.
    let no_items = odm(
        r#"<FormDef OID="Form.f" Name="F" redcap:FormName="f">
		<ItemGroupRef ItemGroupOID="f.a" Mandatory="No"/>
	</FormDef>
	<ItemGroupDef OID="f.a" Name="F"/>"#,
        "",
    );
    assert_eq!(refused(&no_items), OdmError::MissingElement("ItemDef"));

    // A FormDef naming an item group the file lacks: the FormDef's line.
    let missing_group = one_form("", "").replace(
        r#"<ItemGroupRef ItemGroupOID="f.f_complete""#,
        r#"<ItemGroupRef ItemGroupOID="f.gone""#,
    );
    let e = refused(&missing_group);
    let line = missing_group
        .lines()
        .position(|l| l.contains("f.gone"))
        .unwrap() as u32
        + 1;
    assert_eq!(
        e,
        OdmError::UnknownReference {
            line,
            element: "ItemGroupRef in FormDef \"Form.f\"".into(),
            kind: "ItemGroupDef",
            target: "f.gone".into(),
        }
    );
    assert!(
        e.message(Lang::EN).contains("f.gone"),
        "{}",
        e.message(Lang::EN)
    );

    let missing_item = one_form(
        r#"<ItemRef ItemOID="ghost" Mandatory="No" redcap:Variable="ghost"/>"#,
        "",
    );
    assert!(matches!(
        refused(&missing_item),
        OdmError::UnknownReference { kind: "ItemDef", target, .. } if target == "ghost"
    ));

    let missing_list = one_form(
        r#"<ItemRef ItemOID="sex" Mandatory="No" redcap:Variable="sex"/>"#,
        r#"<ItemDef OID="sex" Name="sex" redcap:Variable="sex" redcap:FieldType="radio">
		<CodeListRef CodeListOID="sex.choices"/>
	</ItemDef>"#,
    );
    assert!(matches!(
        refused(&missing_list),
        OdmError::UnknownReference { kind: "CodeList", target, .. } if target == "sex.choices"
    ));

    let duplicate = one_form(
        "",
        r#"<ItemDef OID="record_id" Name="again" redcap:Variable="record_id" redcap:FieldType="text"/>"#,
    );
    assert!(matches!(
        refused(&duplicate),
        OdmError::DuplicateOid { element, .. } if element == "ItemDef \"record_id\""
    ));

    // Neither a REDCap field nor one of its pseudo-fields.
    let untyped = one_form(
        r#"<ItemRef ItemOID="plain" Mandatory="No"/>"#,
        r#"<ItemDef OID="plain" Name="plain" DataType="text"/>"#,
    );
    assert!(matches!(
        refused(&untyped),
        OdmError::MissingAttribute { attribute: "redcap:FieldType", element, .. } if element == "ItemDef \"plain\""
    ));

    // Only the status item: no field.
    let empty = one_form("", "").replace(
        r#"<ItemRef ItemOID="record_id" Mandatory="No" redcap:Variable="record_id"/>"#,
        "",
    );
    assert_eq!(refused(&empty), OdmError::NoFields);

    // A field the dictionary checks refuse, at its ItemDef's line.
    let bad_name = one_form(
        r#"<ItemRef ItemOID="Bad Name" Mandatory="No"/>"#,
        r#"<ItemDef OID="Bad Name" Name="Bad Name" redcap:Variable="Bad Name" redcap:FieldType="text"/>"#,
    );
    let line = bad_name
        .lines()
        .position(|l| l.contains(r#"<ItemDef OID="Bad Name""#))
        .unwrap()
        + 1;
    assert_eq!(
        refused(&bad_name),
        OdmError::Field(MetadataError {
            line,
            field: Some("Bad Name".into()),
            problem: Problem::BadName {
                column: "field_name",
                name: "Bad Name".into(),
            },
        })
    );

    let wrong_record_id = one_form("", "").replace(
        r#"redcap:RecordIdField="record_id""#,
        r#"redcap:RecordIdField="study_id""#,
    );
    assert!(matches!(
        refused(&wrong_record_id),
        OdmError::UnknownReference { kind: "field", target, .. } if target == "study_id"
    ));
}

/// One event in arm 1 with form `f`, and whatever else `extra` defines.
fn longitudinal(event_attrs: &str, form_oid: &str, globals: &str) -> String {
    let classic = one_form("", "");
    let metadata = classic
        .split_once("<MetaDataVersion")
        .and_then(|(_, rest)| rest.split_once(">\n"))
        .and_then(|(_, rest)| rest.split_once("</MetaDataVersion>"))
        .unwrap()
        .0;
    odm(
        &format!(
            r#"<Protocol><StudyEventRef StudyEventOID="Event.visit_1_arm_1" OrderNumber="1" Mandatory="No"/></Protocol>
	<StudyEventDef OID="Event.visit_1_arm_1" Name="Visit 1" Type="Common" Repeating="No" {event_attrs}>
		<FormRef FormOID="{form_oid}" OrderNumber="1" Mandatory="No" redcap:FormName="f"/>
	</StudyEventDef>
	{metadata}"#
        ),
        globals,
    )
}

#[test]
fn a_design_that_does_not_hold_together_is_refused() {
    let good_event = r#"redcap:EventName="Visit 1" redcap:CustomEventLabel="" redcap:UniqueEventName="visit_1_arm_1" redcap:ArmNum="1" redcap:ArmName="Drug A""#;
    let (_, design) = parse_odm(&longitudinal(good_event, "Form.f", "")).unwrap();
    assert_eq!(
        design.arms,
        [Arm {
            arm_num: 1,
            name: "Drug A".into()
        }]
    );
    assert_eq!(design.event_names(), ["visit_1_arm_1"]);
    assert_eq!(design.mapping.len(), 1);

    assert!(matches!(
        refused(&longitudinal(good_event, "Form.gone", "")),
        OdmError::UnknownReference { kind: "FormDef", target, .. } if target == "Form.gone"
    ));
    let bad_arm = good_event.replace(r#"redcap:ArmNum="1""#, r#"redcap:ArmNum="one""#);
    assert!(matches!(
        refused(&longitudinal(&bad_arm, "Form.f", "")),
        OdmError::NotANumber { attribute: "redcap:ArmNum", value, .. } if value == "one"
    ));
    let dangling_ref = longitudinal(good_event, "Form.f", "").replace(
        r#"StudyEventOID="Event.visit_1_arm_1""#,
        r#"StudyEventOID="Event.gone""#,
    );
    assert!(matches!(
        refused(&dangling_ref),
        OdmError::UnknownReference {
            kind: "StudyEventDef",
            ..
        }
    ));
    let repeating_unknown_form = longitudinal(
        good_event,
        "Form.f",
        r#"<redcap:RepeatingInstrumentsAndEvents><redcap:RepeatingInstruments>
		<redcap:RepeatingInstrument redcap:UniqueEventName="visit_1_arm_1" redcap:RepeatInstrument="nope" redcap:CustomLabel=""/>
	</redcap:RepeatingInstruments></redcap:RepeatingInstrumentsAndEvents>"#,
    );
    assert_eq!(
        refused(&repeating_unknown_form),
        OdmError::Design(DesignError::UnknownForm("nope".into()))
    );
    let repeating_event = longitudinal(
        good_event,
        "Form.f",
        r#"<redcap:RepeatingInstrumentsAndEvents>
		<redcap:RepeatingEvent redcap:UniqueEventName="visit_1_arm_1"/>
	</redcap:RepeatingInstrumentsAndEvents>
	<redcap:DataAccessGroupsGroup>
		<redcap:DataAccessGroups group_name="Site A"/>
	</redcap:DataAccessGroupsGroup>"#,
    );
    let (_, design) = parse_odm(&repeating_event).unwrap();
    assert!(design.repeats("visit_1_arm_1", "f"));
    assert_eq!(design.dags[0].unique_group_name, "site_a");
}

#[test]
fn messages_name_the_line_and_element_in_both_languages() {
    let e = OdmError::UnknownReference {
        line: 12,
        element: "ItemGroupRef".into(),
        kind: "ItemGroupDef",
        target: "f.gone".into(),
    };
    assert_eq!(
        e.message(Lang::EN),
        "Project file (ODM): line 12: ItemGroupRef refers to ItemGroupDef f.gone, which the file does not define."
    );
    assert_eq!(
        e.message(zh()),
        "项目文件（ODM）：第 12 行：ItemGroupRef 引用的 ItemGroupDef f.gone 在文件中没有定义。"
    );
    let field = OdmError::Field(MetadataError {
        line: 40,
        field: Some("x".into()),
        problem: Problem::NoChoices,
    });
    assert!(field.message(zh()).contains("第 40 行"));
    let design = OdmError::Design(DesignError::UnknownForm("nope".into()));
    assert_eq!(
        design.message(Lang::EN),
        "Study design: nope is not a form of the data dictionary."
    );
    assert!(design.message(zh()).contains("nope"));
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}

/// A project file with surveys, in the shape REDCap writes it (none of the
/// fixtures has surveys; the file says what it carries).
pub(crate) const SURVEY_PROJECT: &str = include_str!("survey_project.xml");

#[test]
fn a_project_file_with_surveys_reads_as_redcap_takes_it() {
    let (d, design) = parse_odm(SURVEY_PROJECT).unwrap();
    let names: Vec<(&str, &str)> = d
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.form.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("record_id", "enrollment"),
            ("email", "enrollment"),
            ("enrolled_on", "enrollment"),
            ("qol_mobility", "quality_of_life"),
            ("qol_score", "quality_of_life"),
            ("qol_interviewer", "quality_of_life"),
        ],
        "the survey's pseudo-fields are no fields"
    );
    let score = d.field("qol_score").unwrap();
    assert_eq!(score.validation.as_deref(), Some("integer"));
    assert_eq!(
        (score.min.as_deref(), score.max.as_deref()),
        (Some("0"), Some("100"))
    );
    assert_eq!(score.question_number.as_deref(), Some("2"));
    let names: Vec<&str> = design
        .instruments
        .iter()
        .map(|i| i.instrument_name.as_str())
        .collect();
    assert_eq!(names, ["enrollment", "quality_of_life"]);
    assert!(
        tags::unapplied_tags(&d).is_empty(),
        "a survey-only tag is not the forms' to apply"
    );
    let p = parse_odm_project(SURVEY_PROJECT).unwrap();
    assert_eq!(p.subjects.len(), 2);
    let survey = &p.subjects[0].forms[1];
    let items: Vec<&str> = survey.items.iter().map(|i| i.oid.as_str()).collect();
    assert_eq!(
        items,
        [
            "quality_of_life_timestamp",
            "qol_mobility",
            "qol_score",
            "quality_of_life_complete"
        ],
        "the records as written, the survey's time stamp too"
    );
}
