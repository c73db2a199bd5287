use super::files::CsvFiles;
use super::layout::DAG;
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
