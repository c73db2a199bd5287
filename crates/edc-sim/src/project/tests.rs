use super::files::CsvFiles;
use super::layout::{DAG, FlatRow};
use super::*;

const DICTIONARY: &str = r#"field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
study_id,enrol,,text,Study ID,,,,,,,,,,,,,
consent,enrol,,yesno,Consented,,,,,,,,,,,,,
meds,enrol,,checkbox,Medication,"1, A|2, B",,,,,,,,,,,,
weight,visit,,text,Weight,,,number_1dp,,,,,,,,,,
bp,bp,,text,Systolic,,,integer,,,,,,,,,,
"#;

const EVENTS: &str = "\
event_name,arm_num,unique_event_name,custom_event_label,event_id
Enrolment,1,enrol_arm_1,,11
Visit,1,visit_arm_1,,12
Follow-up,1,follow_arm_1,,13
";

#[test]
fn the_demo_project_is_the_desks_demo_study_with_hillview_records() {
    let p = Project::demo();
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    assert_eq!(p.design().dags.len(), 2);
    let ids: std::collections::BTreeSet<&str> =
        p.records().iter().map(|r| r[0].1.as_str()).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.iter().all(|id| id.starts_with("S02-DEM-")));
    assert!(p.records().iter().all(|r| {
        r.iter()
            .any(|(c, v)| c == DAG && v == super::demo::HILLVIEW)
    }));
    let bmi = p
        .records()
        .iter()
        .find(|r| r[0].1 == "S02-DEM-0001" && r.iter().any(|(c, _)| c == "bmi"))
        .and_then(|r| r.iter().find(|(c, _)| c == "bmi"))
        .map(|(_, v)| v.as_str());
    // 71.4 kg / 1.62 m squared.
    assert_eq!(bmi, Some("27.2"));
    // Each subject's screening log: enrolled, with every criterion answered
    // (the warnings above would hold any value the instrument refuses).
    for id in &ids {
        let log = p
            .records()
            .iter()
            .find(|r| r[0].1 == *id && r.iter().any(|(c, _)| c == "scr_status"))
            .unwrap_or_else(|| panic!("{id} has a screening log"));
        let value = |field: &str| {
            log.iter()
                .find(|(c, _)| c == field)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("redcap_event_name"), Some("screening_arm_1"));
        assert_eq!(value("scr_status"), Some("3"), "{id}");
        assert_eq!(value("scr_enrollment_date"), value("scr_status_date"));
        assert!(value("scr_consent_date") <= value("scr_enrollment_date"));
        for (field, answer) in [
            ("scr_incl_1", "1"),
            ("scr_incl_3", "1"),
            ("scr_excl_2", "0"),
        ] {
            assert_eq!(value(field), Some(answer), "{id} {field}");
        }
    }
}

#[test]
fn events_without_designations_get_the_forms_their_rows_use() {
    let data = "\
study_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,redcap_data_access_group,consent,meds___1,meds___2,enrol_complete,weight,visit_complete,bp,bp_complete
1,enrol_arm_1,,,site_a,1,1,0,2,,,,
1,visit_arm_1,,,site_a,,,,,70.5,2,,
1,visit_arm_1,bp,1,site_a,,,,,,,120,2
";
    let p = Project::from_csv(CsvFiles {
        dictionary: DICTIONARY.as_bytes(),
        events: Some(EVENTS.as_bytes()),
        data: Some(data.as_bytes()),
        ..CsvFiles::default()
    })
    .unwrap();
    let design = p.design();
    let forms_of = |e: &str| -> Vec<&str> {
        design
            .mapping
            .iter()
            .filter(|m| m.unique_event_name == e)
            .map(|m| m.form.as_str())
            .collect()
    };
    assert_eq!(forms_of("enrol_arm_1"), ["enrol"]);
    assert_eq!(forms_of("visit_arm_1"), ["visit", "bp"]);
    // No row: every form.
    assert_eq!(forms_of("follow_arm_1"), ["enrol", "visit", "bp"]);
    assert_eq!(design.arms.len(), 1);
    assert_eq!(design.repeating.len(), 1);
    assert_eq!(design.repeating[0].form_name, "bp");
    assert_eq!(design.repeating[0].event_name, "visit_arm_1");
    assert_eq!(design.dags[0].unique_group_name, "site_a");
    assert_eq!(p.event_id(1), 12);
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    // The dictionary's cells are served as written.
    assert_eq!(p.metadata()[2][5], "1, A|2, B");
}

#[test]
fn values_an_import_would_refuse_are_warnings() {
    let data = "study_id,consent,meds___1,weight,bp\n1,TRUE,1,70,abc\n";
    let p = Project::from_csv(CsvFiles {
        dictionary: DICTIONARY.as_bytes(),
        data: Some(data.as_bytes()),
        ..CsvFiles::default()
    })
    .unwrap();
    assert_eq!(p.warnings().len(), 3, "{:?}", p.warnings());
    assert!(p.warnings()[0].starts_with(r#""1","consent","TRUE","#));
    assert!(p.warnings()[1].contains("weight"));
}

#[test]
fn columns_the_project_lacks_and_rows_it_cannot_place_are_errors() {
    let load = |data: &str, events: Option<&str>| {
        Project::from_csv(CsvFiles {
            dictionary: DICTIONARY.as_bytes(),
            events: events.map(str::as_bytes),
            data: Some(data.as_bytes()),
            ..CsvFiles::default()
        })
    };
    let err = load("study_id,height,meds\n1,2,3\n", None).unwrap_err();
    assert!(
        matches!(&err, ProjectError::UnknownColumns { columns, .. } if columns == &["height", "meds"]),
        "{err}"
    );
    let err = load(
        "study_id,redcap_event_name,consent\n1,nowhere_arm_1,1\n",
        Some(EVENTS),
    )
    .unwrap_err();
    assert!(matches!(err, ProjectError::Rows { .. }), "{err}");
    let err = load("study_id,consent\n,1\n", None).unwrap_err();
    assert!(matches!(err, ProjectError::Rows { .. }), "{err}");
}

#[test]
fn an_odm_files_records_keep_their_line_breaks() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8" ?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:redcap="https://projectredcap.org">
<Study OID="Project.T">
<GlobalVariables><StudyName>Tiny</StudyName><redcap:RecordAutonumberingEnabled>1</redcap:RecordAutonumberingEnabled></GlobalVariables>
<MetaDataVersion OID="M" Name="T" redcap:RecordIdField="record_id">
  <FormDef OID="Form.f" Name="F" Repeating="No" redcap:FormName="f">
    <ItemGroupRef ItemGroupOID="f.g" Mandatory="No"/>
  </FormDef>
  <ItemGroupDef OID="f.g" Name="F" Repeating="No">
    <ItemRef ItemOID="record_id" Mandatory="No" redcap:Variable="record_id"/>
    <ItemRef ItemOID="note" Mandatory="No" redcap:Variable="note"/>
    <ItemRef ItemOID="f_complete" Mandatory="No" redcap:Variable="f_complete"/>
  </ItemGroupDef>
  <ItemDef OID="record_id" Name="record_id" DataType="text" Length="999" redcap:Variable="record_id" redcap:FieldType="text"><Question><TranslatedText>ID</TranslatedText></Question></ItemDef>
  <ItemDef OID="note" Name="note" DataType="text" Length="999" redcap:Variable="note" redcap:FieldType="textarea"><Question><TranslatedText>Note</TranslatedText></Question></ItemDef>
  <ItemDef OID="f_complete" Name="f_complete" DataType="text" Length="1" redcap:Variable="f_complete"><Question><TranslatedText>Complete?</TranslatedText></Question></ItemDef>
</MetaDataVersion>
</Study>
<ClinicalData StudyOID="Project.T" MetaDataVersionOID="M">
  <SubjectData SubjectKey="7" redcap:RecordIdField="record_id">
    <FormData FormOID="Form.f" FormRepeatKey="1">
      <ItemGroupData ItemGroupOID="f.g" ItemGroupRepeatKey="1">
        <ItemData ItemOID="record_id" Value="7"/>
        <ItemData ItemOID="note" Value="two
lines &amp; more"/>
        <ItemData ItemOID="f_complete" Value="2"/>
      </ItemGroupData>
    </FormData>
  </SubjectData>
</ClinicalData>
</ODM>"#;
    let p = Project::from_odm(xml).unwrap();
    assert_eq!(p.title(), "Tiny");
    assert!(p.autonumbering());
    assert_eq!(
        p.records(),
        [vec![
            ("record_id".to_owned(), "7".to_owned()),
            ("note".to_owned(), "two\nlines & more".to_owned()),
            ("f_complete".to_owned(), "2".to_owned()),
        ]]
    );
}

#[test]
fn every_source_is_in_production_unless_told_otherwise() {
    assert_eq!(Project::demo().status(), ProjectStatus::Production);
    let csv = Project::from_csv(CsvFiles {
        dictionary: DICTIONARY.as_bytes(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(csv.status(), ProjectStatus::Production);
    let dev = csv.with_status(ProjectStatus::Development);
    assert_eq!(dev.status(), ProjectStatus::Development);
    assert_eq!(
        "Dev".parse::<ProjectStatus>(),
        Ok(ProjectStatus::Development)
    );
    assert_eq!(
        "production".parse::<ProjectStatus>(),
        Ok(ProjectStatus::Production)
    );
    assert!("draft".parse::<ProjectStatus>().is_err());
}

/// The dictionary of `DICTIONARY` with `f` applied to its rows, as the
/// `metadata` import sends it.
fn dictionary_json(f: impl FnOnce(&mut Vec<serde_json::Value>)) -> String {
    let project = Project::from_csv(CsvFiles {
        dictionary: DICTIONARY.as_bytes(),
        ..Default::default()
    })
    .unwrap();
    let mut rows: Vec<serde_json::Value> = project
        .metadata()
        .iter()
        .map(|r| {
            METADATA_COLUMNS
                .iter()
                .zip(r)
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        })
        .collect();
    f(&mut rows);
    serde_json::Value::from(rows).to_string()
}

#[test]
fn a_new_dictionary_is_held_to_redcaps_own_rules() {
    let project = Project::from_csv(CsvFiles {
        dictionary: DICTIONARY.as_bytes(),
        ..Default::default()
    })
    .unwrap();
    let refused = |f: fn(&mut Vec<serde_json::Value>)| {
        project
            .with_dictionary_json(&dictionary_json(f))
            .unwrap_err()
            .message()
    };
    let m = refused(|rows| rows[1]["field_name"] = "consent___1".into());
    assert!(m.starts_with("Field consent___1 (A3)"), "{m}");
    let m = refused(|rows| rows[1]["field_name"] = "consent_".into());
    assert!(m.contains("end with an underscore"), "{m}");
    let m = refused(|rows| rows[1]["field_name"] = "redcap_event_name".into());
    assert!(m.contains("reserved"), "{m}");
    let m = refused(|rows| rows[1]["field_name"] = "enrol_timestamp".into());
    assert!(m.contains("reserved"), "{m}");
    let m = refused(|rows| {
        rows[3]["text_validation_type_or_show_slider_number"] = "".into();
        rows[3]["text_validation_max"] = "250".into();
    });
    assert!(m.starts_with("Field weight (I5)"), "{m}");
    let m = refused(|rows| {
        rows[3]["text_validation_type_or_show_slider_number"] = "".into();
        rows[3]["text_validation_min"] = "1".into();
        rows[1]["field_name"] = "bp_complete".into();
    });
    assert_eq!(m.lines().count(), 2, "every problem is a line: {m}");
    let m = refused(|rows| {
        let bp = rows.remove(4);
        rows.insert(2, bp);
    });
    assert!(m.contains("Form enrol (B5)"), "{m}");
    let m = refused(|rows| rows[2]["field_type"] = "checkboxes".into());
    assert!(m.contains("(field meds)"), "{m}");

    // What REDCap repairs it repairs: the record id becomes plain text.
    let changed = project
        .with_dictionary_json(&dictionary_json(|rows| {
            rows[0]["field_type"] = "dropdown".into();
            rows[0]["select_choices_or_calculations"] = "1, One".into();
        }))
        .unwrap();
    assert_eq!(changed.dictionary().fields[0].field_type, FieldType::Text);
    assert_eq!(changed.metadata()[0][3], "text");
}

#[test]
fn designations_follow_the_dictionary_and_the_mapping_import() {
    let project = Project::from_csv(CsvFiles {
        dictionary: DICTIONARY.as_bytes(),
        events: Some(EVENTS.as_bytes()),
        ..Default::default()
    })
    .unwrap();
    assert!(project.layout().designated("visit_arm_1", "bp"));
    // A removed form's designations go; a new one has none.
    let changed = project
        .with_dictionary_json(&dictionary_json(|rows| {
            rows[4]["form_name"] = "blood_pressure".into();
        }))
        .unwrap();
    assert!(!changed.design().mapping.iter().any(|m| m.form == "bp"));
    assert!(
        !changed
            .design()
            .mapping
            .iter()
            .any(|m| m.form == "blood_pressure")
    );
    assert_eq!(
        changed.design().form_label("blood_pressure"),
        "Blood Pressure"
    );
    let row = |event: &str, form: &str| -> FlatRow {
        vec![
            ("arm_num".into(), "1".into()),
            ("unique_event_name".into(), event.into()),
            ("form".into(), form.into()),
        ]
    };
    let (mapped, count) = changed
        .with_mapping(&[
            row("visit_arm_1", "blood_pressure"),
            row("enrol_arm_1", "enrol"),
            row("visit_arm_1", "blood_pressure"),
        ])
        .unwrap();
    assert_eq!(count, 2, "a designation sent twice is one");
    assert!(mapped.layout().designated("visit_arm_1", "blood_pressure"));
    assert!(!mapped.layout().designated("visit_arm_1", "visit"));
    assert_eq!(mapped.design().mapping[0].unique_event_name, "enrol_arm_1");
}
