//! Each API call's answer and each import rule, against the demo project
//! (longitudinal, repeating adverse events, two sites) and a small classic
//! project.

use chrono::NaiveDate;
use edc_sim::{
    Clock, DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, DEMO_TOKEN_RIVERSIDE, Database, METADATA_COLUMNS,
    NO_DESIGN_RIGHT, NO_PERMISSION, NOT_IN_DEVELOPMENT, Project, ProjectStatus, REDCAP_VERSION,
    SimConfig,
};
use serde_json::{Value, json};

use crate::common::{Client, classic_project, error_of, rows_of, start, start_with};

fn at(h: u32, m: u32, s: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 10, 1)
        .unwrap()
        .and_hms_opt(h, m, s)
        .unwrap()
}

#[tokio::test]
async fn the_metadata_calls_answer_in_redcaps_shapes() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let (status, version) = c.post(&[("content", "version")]).await;
    assert_eq!((status, version.as_str()), (200, REDCAP_VERSION));

    let p = c.json(&[("content", "project")]).await;
    assert_eq!(p["project_title"], "SiteDesk demo study");
    assert_eq!(p["is_longitudinal"], 1);
    assert_eq!(p["has_repeating_instruments_or_events"], 1);
    assert_eq!(p["record_autonumbering_enabled"], 0);
    // The demo defines two missing-data codes.
    assert_eq!(p["missing_data_codes"], "UNK, Unknown | NASK, Not asked");

    let (_, text) = c.post(&[("content", "metadata")]).await;
    assert!(
        text.starts_with(r#"[{"field_name":"record_id","form_name":"demographics","section_header":"","field_type":"text","field_label":"Subject ID","select_choices_or_calculations":"","field_note":"","text_validation_type_or_show_slider_number":"","text_validation_min":"","text_validation_max":"","identifier":"","branching_logic":"","required_field":"","custom_alignment":"","question_number":"","matrix_group_name":"","matrix_ranking":"","field_annotation":""}"#),
        "{text}"
    );
    let metadata: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(metadata.len(), 46);
    let sex = metadata.iter().find(|f| f["field_name"] == "sex").unwrap();
    assert_eq!(sex["select_choices_or_calculations"], "1, Male | 2, Female");
    assert_eq!(sex["required_field"], "y");
    // The desk reads this answer with the core's parser.
    let dictionary = sitedesk_core_parse(&text);
    assert_eq!(dictionary.fields.len(), 46);

    let some = c
        .json(&[
            ("content", "metadata"),
            ("fields[0]", "dob"),
            ("forms[0]", "medications"),
        ])
        .await;
    let names: Vec<&str> = some
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dob", "meds", "meds_other", "insulin_units"]);
    let (status, message) = c
        .error(&[("content", "metadata"), ("fields[0]", "height")])
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("height"), "{message}");

    let instruments = c.json(&[("content", "instrument")]).await;
    assert_eq!(
        instruments[4],
        json!({"instrument_name": "adverse_events", "instrument_label": "Adverse events (AE)"})
    );
    assert_eq!(
        c.json(&[("content", "arm")]).await,
        json!([{"arm_num": 1, "name": "Arm 1"}])
    );
    let events = c.json(&[("content", "event")]).await;
    assert_eq!(events.as_array().unwrap().len(), 4);
    assert_eq!(events[1]["unique_event_name"], "baseline_arm_1");
    assert_eq!(events[1]["arm_num"], 1);
    assert!(events[1]["event_id"].is_u64());
    let (status, _) = c.error(&[("content", "event"), ("arms[0]", "9")]).await;
    assert_eq!(status, 400);
    let mapping = c.json(&[("content", "formEventMapping")]).await;
    assert_eq!(mapping.as_array().unwrap().len(), 11);
    assert_eq!(
        mapping[0],
        json!({"arm_num": 1, "unique_event_name": "screening_arm_1", "form": "screening_log"})
    );
    let repeating = c.json(&[("content", "repeatingFormsEvents")]).await;
    assert_eq!(
        repeating[0],
        json!({"event_name": "baseline_arm_1", "form_name": "adverse_events", "custom_form_label": ""})
    );
    let dags = c.json(&[("content", "dag")]).await;
    assert_eq!(dags[1]["unique_group_name"], "hillview_hospital");
    assert_eq!(dags[1]["data_access_group_name"], "Hillview Hospital");
    assert!(dags[1]["data_access_group_id"].is_u64());

    let names = c
        .json(&[("content", "exportFieldNames"), ("field", "meds")])
        .await;
    assert_eq!(
        names,
        json!([
            {"original_field_name": "meds", "choice_value": "1", "export_field_name": "meds___1"},
            {"original_field_name": "meds", "choice_value": "2", "export_field_name": "meds___2"},
            {"original_field_name": "meds", "choice_value": "3", "export_field_name": "meds___3"},
            {"original_field_name": "meds", "choice_value": "4", "export_field_name": "meds___4"},
            {"original_field_name": "meds", "choice_value": "99", "export_field_name": "meds___99"},
            // A column per missing-data code, as the export has it.
            {"original_field_name": "meds", "choice_value": "UNK", "export_field_name": "meds___unk"},
            {"original_field_name": "meds", "choice_value": "NASK", "export_field_name": "meds___nask"},
        ])
    );
    let all = c.json(&[("content", "exportFieldNames")]).await;
    // No descriptive field, no form status.
    assert!(all.as_array().unwrap().iter().all(|f| {
        f["original_field_name"] != "demo_intro"
            && !f["export_field_name"]
                .as_str()
                .unwrap()
                .ends_with("_complete")
    }));
    sim.shutdown().await;
}

fn sitedesk_core_parse(text: &str) -> sitedesk_core::metadata::Dictionary {
    sitedesk_core::metadata::parse_api_json(text).expect("the metadata answer parses")
}

#[tokio::test]
async fn a_classic_project_answers_the_longitudinal_calls_with_errors() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let p = c.json(&[("content", "project")]).await;
    assert_eq!(p["is_longitudinal"], 0);
    assert_eq!(p["has_repeating_instruments_or_events"], 1);
    for content in ["formEventMapping", "event", "arm"] {
        let (status, message) = c.error(&[("content", content)]).await;
        assert_eq!(status, 400, "{content}");
        assert!(message.contains("classic"), "{message}");
    }
    let rows = c.export(&[]).await;
    assert_eq!(rows.len(), 2);
    assert!(rows[0].get("redcap_event_name").is_none());
    assert_eq!(rows[0]["redcap_repeat_instrument"], "");
    assert_eq!(rows[0]["redcap_repeat_instance"], "");
    assert_eq!(rows[0]["symptoms____99"], "0");
    assert_eq!(rows[0]["visits_complete"], "");
    assert_eq!(rows[1]["redcap_repeat_instrument"], "visits");
    assert_eq!(rows[1]["redcap_repeat_instance"], "1");
    assert_eq!(rows[1]["symptoms___1"], "");
    assert_eq!(rows[1]["enrolment_complete"], "");
    assert_eq!(rows[1]["sbp"], "120");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_token_is_refused_with_403() {
    let sim = start(Project::demo()).await;
    for token in [
        "",
        "not-a-token",
        "0123456789ABCDEF0123456789ABCDEF",
        "DE5C0DE000000000000000000000000",
    ] {
        let c = Client::new(&sim, token);
        let (status, message) = c.error(&[("content", "record")]).await;
        assert_eq!(
            (status, message.as_str()),
            (403, NO_PERMISSION),
            "token {token:?}"
        );
    }
    // Tokens are hexadecimal, whatever the case.
    let lower = Client::new(&sim, &DEMO_TOKEN.to_ascii_lowercase());
    assert_eq!(lower.post(&[("content", "version")]).await.0, 200);
    let xml = crate::common::http()
        .post(sim.api_url())
        .form(&[
            ("token", DEMO_TOKEN),
            ("content", "record"),
            ("format", "xml"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 400);
    let message: Value = xml.json().await.unwrap();
    assert!(
        message["error"].as_str().unwrap().contains("not simulated"),
        "{message}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_flat_export_has_redcaps_columns_and_blanks() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let rows = c.export(&[("exportDataAccessGroups", "true")]).await;
    let first = rows_of(&rows, "S02-DEM-0001");
    assert_eq!(first.len(), 3, "screening, baseline and one adverse event");
    let screening = first[0];
    assert_eq!(screening["redcap_event_name"], "screening_arm_1");
    assert_eq!(screening["redcap_data_access_group"], "hillview_hospital");
    assert_eq!(screening["bmi"], "27.2");
    // Medication is not designated at screening: its columns are blank.
    assert_eq!(screening["meds___1"], "");
    assert_eq!(screening["medications_complete"], "");
    let baseline = first[1];
    assert_eq!(baseline["meds___1"], "1");
    assert_eq!(baseline["meds___2"], "0", "a checkbox is never blank");
    // Adverse events repeat at baseline: not in the row that does not.
    assert_eq!(baseline["adverse_events_complete"], "");
    let ae = first[2];
    assert_eq!(ae["redcap_repeat_instrument"], "adverse_events");
    assert_eq!(ae["redcap_repeat_instance"], "1");
    assert_eq!(ae["ae_severity"], "1");
    assert_eq!(ae["vitals_complete"], "");
    for row in &rows {
        for (k, v) in row.as_object().unwrap() {
            assert!(v.is_string(), "{k} is {v}");
        }
    }
    let keys: Vec<&String> = screening.as_object().unwrap().keys().collect();
    assert!(keys.contains(&&"redcap_data_access_group".to_owned()));

    // A form with a value gets status 0; the event's other forms show 0s.
    c.import_ok(
        json!([{"record_id": "S02-DEM-0003", "redcap_event_name": "week_4_arm_1", "sbp": "128"}]),
        &[],
    )
    .await;
    let week4 = c
        .export(&[
            ("records[0]", "S02-DEM-0003"),
            ("events[0]", "week_4_arm_1"),
        ])
        .await;
    assert_eq!(week4.len(), 1);
    assert_eq!(week4[0]["vitals_complete"], "0");
    assert_eq!(week4[0]["medications_complete"], "0");
    assert_eq!(week4[0]["meds___4"], "0");
    let gray = c
        .export(&[
            ("records[0]", "S02-DEM-0003"),
            ("events[0]", "week_4_arm_1"),
            ("exportBlankForGrayFormStatus", "true"),
        ])
        .await;
    assert_eq!(gray[0]["medications_complete"], "");

    // Filters: fields (a checkbox by its name), forms, events, records.
    let some = c
        .export(&[("fields[0]", "meds"), ("forms[0]", "adverse_events")])
        .await;
    let columns: Vec<&String> = some[0].as_object().unwrap().keys().collect();
    // `meds` has a column per choice and per missing-data code.
    assert_eq!(columns.len(), 19, "{columns:?}");
    assert!(columns.iter().any(|c| *c == "meds___unk"), "{columns:?}");
    assert!(
        some.iter()
            .all(|r| r["redcap_event_name"] != "screening_arm_1")
    );
    // Asked in any order, repeated or unknown: each record once, in the
    // order the records were created.
    let ids = c
        .export(&[
            ("records[0]", "S02-DEM-0004"),
            ("records[1]", "S02-NOT-THERE"),
            ("records[2]", "S02-DEM-0002"),
            ("records[3]", "S02-DEM-0004"),
        ])
        .await;
    let order: Vec<&str> = ids
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["S02-DEM-0002", "S02-DEM-0002", "S02-DEM-0004"]);
    let (status, message) = c
        .error(&[("content", "record"), ("forms[0]", "labs")])
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("labs"), "{message}");
    let filtered = c
        .export(&[("filterLogic", "[sex] = '2' and [height_cm] < 160")])
        .await;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["record_id"], "S02-DEM-0003");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_bound_to_a_site_sees_and_writes_only_that_sites_records() {
    let sim = start(Project::demo()).await;
    let admin = Client::new(&sim, DEMO_TOKEN);
    let riverside = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    let hillview = Client::new(&sim, DEMO_TOKEN_HILLVIEW);
    assert!(riverside.export(&[]).await.is_empty());
    let theirs = hillview.export(&[("exportDataAccessGroups", "true")]).await;
    assert_eq!(theirs.len(), 7);
    // REDCap ignores exportDataAccessGroups for a user in a group.
    assert!(theirs[0].get("redcap_data_access_group").is_none());

    let answer = riverside
        .import_ok(
            json!([{"record_id": "S01-DEM-0001", "redcap_event_name": "screening_arm_1", "sex": "1"}]),
            &[],
        )
        .await;
    assert_eq!(answer, json!({"count": 1}));
    let all = admin.export(&[("exportDataAccessGroups", "true")]).await;
    assert_eq!(
        rows_of(&all, "S01-DEM-0001")[0]["redcap_data_access_group"],
        "riverside_clinic"
    );
    assert_eq!(riverside.export(&[]).await.len(), 1);
    assert_eq!(hillview.export(&[]).await.len(), 7);
    assert!(
        hillview
            .export(&[("records[0]", "S01-DEM-0001")])
            .await
            .is_empty(),
        "asking by id does not reach past the group"
    );

    let (status, message) = riverside
        .import(
            json!([{"record_id": "S02-DEM-0001", "redcap_event_name": "screening_arm_1", "sex": "1"}]),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        message.contains(r#"\"S02-DEM-0001\",\"record_id\",\"S02-DEM-0001\""#),
        "{message}"
    );
    let (status, message) = riverside
        .import(
            json!([{"record_id": "S01-DEM-0002", "redcap_event_name": "screening_arm_1",
                    "redcap_data_access_group": "hillview_hospital"}]),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("redcap_data_access_group"), "{message}");
    // The refused call wrote nothing.
    assert_eq!(
        admin.export(&[("records[0]", "S02-DEM-0001")]).await[0]["sex"],
        "2"
    );

    // A token in no group may move a record between groups.
    admin
        .import_ok(
            json!([{"record_id": "S01-DEM-0001", "redcap_event_name": "screening_arm_1",
                    "redcap_data_access_group": "hillview_hospital"}]),
            &[],
        )
        .await;
    assert!(riverside.export(&[]).await.is_empty());
    let (status, message) = riverside
        .error(&[
            ("content", "record"),
            ("action", "delete"),
            ("records[0]", "S02-DEM-0002"),
        ])
        .await;
    assert_eq!(status, 400);
    assert!(message.contains("S02-DEM-0002"), "{message}");
    let log = riverside.json(&[("content", "log")]).await;
    assert!(
        log.as_array().unwrap().is_empty(),
        "a group's log is that of the records now in the group: {log}"
    );
    let log = hillview
        .json(&[("content", "log"), ("record", "S01-DEM-0001")])
        .await;
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");
    assert_eq!(log[1]["username"], "riverside_crc");
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_values_come_back_as_csv_rows_and_nothing_is_written() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let (status, body) = c
        .import_text(
            r#"[
                {"record_id": "S01-0001", "redcap_event_name": "screening_arm_1",
                 "weight_kg": "22", "height_cm": "22x", "dob": "05-31-1980", "sex": "3",
                 "bmi": "20.1", "visit_date": "2025-01-01"},
                {"record_id": "S01-0002", "redcap_event_name": "week_9_arm_1", "sbp": "120"},
                {"record_id": "S01-0003", "redcap_event_name": "screening_arm_1",
                 "redcap_repeat_instrument": "demographics", "redcap_repeat_instance": "1"},
                {"record_id": "S01-0004", "redcap_event_name": "baseline_arm_1", "ae_term": "Rash"},
                {"record_id": "S01-0005", "redcap_event_name": "baseline_arm_1",
                 "redcap_repeat_instrument": "adverse_events", "redcap_repeat_instance": "0"}
            ]"#,
            &[],
        )
        .await;
    assert_eq!(status, 400);
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines: Vec<&str> = message.lines().collect();
    let format = "The value you provided could not be validated because it does not follow the expected format. Please try again.";
    assert_eq!(
        lines[0],
        format!(r#""S01-0001","weight_kg","22","{format}""#)
    );
    assert_eq!(
        lines[1],
        format!(r#""S01-0001","height_cm","22x","{format}""#)
    );
    assert!(
        lines[2].starts_with(r#""S01-0001","dob","05-31-1980","#),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        r#""S01-0001","sex","3","The value is not a valid category for sex""#
    );
    assert!(lines[4].starts_with(r#""S01-0001","bmi","20.1","This field is a calculated field"#));
    assert!(
        lines[5].starts_with(r#""S01-0001","visit_date","2025-01-01","This field is on form vitals, which is not designated for event screening_arm_1""#),
        "{}",
        lines[5]
    );
    assert!(lines[6].starts_with(r#""S01-0002","redcap_event_name","week_9_arm_1","#));
    assert!(lines[7].starts_with(r#""S01-0003","redcap_repeat_instrument","demographics","#));
    assert!(lines[8].starts_with(r#""S01-0004","ae_term","Rash","Form adverse_events repeats"#));
    assert!(lines[9].starts_with(r#""S01-0005","redcap_repeat_instance","0","#));
    assert_eq!(lines.len(), 10, "{message}");
    assert!(c.export(&[("records[0]", "S01-0001")]).await.is_empty());

    // Well-formed values pass, also outside min/max (a soft check).
    c.import_ok(
        json!([{"record_id": "S01-0001", "redcap_event_name": "screening_arm_1",
                "weight_kg": "22.0", "height_cm": "250", "dob": "1980-05-31", "sex": "2"}]),
        &[],
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_are_named_and_refuse_the_call() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let (status, body) = c
        .import_text(
            r#"[{"record_id": "S01-0001", "redcap_event_name": "screening_arm_1",
                 "height": "170", "meds": "1", "meds___7": "1", "sex": "1"}]"#,
            &[],
        )
        .await;
    assert_eq!(status, 400);
    let message = serde_json::from_str::<Value>(&body).unwrap()["error"].clone();
    assert_eq!(
        message,
        "The following fields were not found in the project as real data fields: height, meds, meds___7"
    );
    assert!(c.export(&[("records[0]", "S01-0001")]).await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn an_import_is_an_upsert_and_the_same_rows_twice_change_nothing() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    let rows = json!([
        {"record_id": "S01-DEM-0001", "redcap_event_name": "screening_arm_1", "sex": "2",
         "dob": "1970-01-02", "demographics_complete": "1"},
        {"record_id": "S01-DEM-0001", "redcap_event_name": "baseline_arm_1",
         "redcap_repeat_instrument": "adverse_events", "redcap_repeat_instance": "2",
         "ae_term": "Headache", "ae_start": "2025-09-01"},
    ]);
    assert_eq!(c.import_ok(rows.clone(), &[]).await, json!({"count": 1}));
    let once = c.export(&[]).await;
    let log_once = c.json(&[("content", "log")]).await;
    assert_eq!(
        c.import_ok(rows, &[("returnContent", "ids")]).await,
        json!(["S01-DEM-0001"])
    );
    assert_eq!(c.export(&[]).await, once);
    assert_eq!(
        c.json(&[("content", "log")]).await,
        log_once,
        "nothing changed, nothing logged"
    );
    assert_eq!(once.len(), 3, "screening, baseline's row and the instance");
    assert_eq!(once[2]["redcap_repeat_instance"], "2");
    assert_eq!(once[2]["adverse_events_complete"], "0");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_data_code_is_taken_in_any_field_whatever_its_validation() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    // `dob` is a date and `height_cm` a number: the project's codes pass,
    // other text does not; a checkbox takes a code in its own column.
    let rows = json!([
        {"record_id": "S01-DEM-0009", "redcap_event_name": "screening_arm_1",
         "dob": "UNK", "height_cm": "NASK"},
        {"record_id": "S01-DEM-0009", "redcap_event_name": "baseline_arm_1", "meds___unk": "1"},
    ]);
    assert_eq!(c.import_ok(rows, &[]).await, json!({"count": 1}));
    let saved = c.export(&[("records[0]", "S01-DEM-0009")]).await;
    assert_eq!(saved[0]["dob"], "UNK");
    assert_eq!(saved[1]["meds___unk"], "1");
    let (status, _) = c
        .import(
            json!([{"record_id": "S01-DEM-0009", "redcap_event_name": "screening_arm_1", "dob": "N/A"}]),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn ids_are_assigned_only_with_force_auto_number() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let rows = json!([
        {"record_id": "new-a", "name": "Bea"},
        {"record_id": "new-a", "redcap_repeat_instrument": "visits", "redcap_repeat_instance": "1", "sbp": "130"},
        {"record_id": "new-b", "name": "Cy"},
    ]);
    let auto = c
        .import_ok(
            rows.clone(),
            &[("forceAutoNumber", "true"), ("returnContent", "auto_ids")],
        )
        .await;
    assert_eq!(auto, json!(["2,new-a", "3,new-b"]));
    // A retry after an ambiguous failure creates the records again.
    let again = c
        .import_ok(
            rows.clone(),
            &[("forceAutoNumber", "true"), ("returnContent", "ids")],
        )
        .await;
    assert_eq!(again, json!(["4", "5"]));
    // Without it the ids are taken as sent.
    assert_eq!(
        c.import_ok(rows, &[("returnContent", "ids")]).await,
        json!(["new-a", "new-b"])
    );
    let ids: Vec<Value> = c
        .export(&[("fields[0]", "record_id")])
        .await
        .into_iter()
        .map(|r| r["record_id"].clone())
        .collect();
    assert_eq!(
        ids,
        json!([
            "1", "1", "2", "2", "3", "4", "4", "5", "new-a", "new-a", "new-b"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    sim.shutdown().await;

    // A token in a group numbers within the group, as REDCap does.
    let sim = start(Project::demo()).await;
    let riverside = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    let ids = riverside
        .import_ok(
            json!([{"record_id": "x", "redcap_event_name": "screening_arm_1", "sex": "1"}]),
            &[("forceAutoNumber", "true"), ("returnContent", "ids")],
        )
        .await;
    let group_id = Client::new(&sim, DEMO_TOKEN)
        .json(&[("content", "dag")])
        .await[0]["data_access_group_id"]
        .clone();
    assert_eq!(ids, json!([format!("{group_id}-1")]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_blank_leaves_a_value_unless_the_import_overwrites() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let blank =
        json!([{"record_id": "1", "name": "", "symptoms___1": "", "comment": "", "weight": ""}]);
    c.import_ok(blank.clone(), &[("overwriteBehavior", "normal")])
        .await;
    let row = &c.export(&[("records[0]", "1")]).await[0];
    assert_eq!(
        (row["name"].as_str(), row["symptoms___1"].as_str()),
        (Some("Ada"), Some("1"))
    );
    assert_eq!(row["weight"], "61.5");
    c.import_ok(blank, &[("overwriteBehavior", "overwrite")])
        .await;
    let row = &c.export(&[("records[0]", "1")]).await[0];
    assert_eq!(
        (row["name"].as_str(), row["symptoms___1"].as_str()),
        (Some(""), Some("0"))
    );
    assert_eq!(row["weight"], "");
    // Columns not sent are kept either way.
    assert_eq!(row["dob"], "1990-02-03");
    // A checkbox's 0 is a value, not a blank.
    c.import_ok(json!([{"record_id": "1", "symptoms___2": "1"}]), &[])
        .await;
    c.import_ok(json!([{"record_id": "1", "symptoms___2": "0"}]), &[])
        .await;
    assert_eq!(
        c.export(&[("records[0]", "1")]).await[0]["symptoms___2"],
        "0"
    );
    // A note keeps its line breaks; other values are trimmed.
    c.import_ok(
        json!([{"record_id": "1", "comment": "two\nlines\n", "name": " Ada "}]),
        &[],
    )
    .await;
    let row = &c.export(&[("records[0]", "1")]).await[0];
    assert_eq!(
        (row["comment"].as_str(), row["name"].as_str()),
        (Some("two\nlines\n"), Some("Ada"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn date_range_begin_selects_records_the_log_shows_changed() {
    let mut config = SimConfig::new(Project::demo());
    config.clock = Clock::Fixed(at(8, 0, 0));
    let sim = start_with(config).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let screening = |id: &str, sex: &str| json!([{"record_id": id, "redcap_event_name": "screening_arm_1", "sex": sex}]);
    sim.set_clock(Clock::Fixed(at(9, 0, 0)));
    c.import_ok(screening("S01-A", "1"), &[]).await;
    sim.set_clock(Clock::Fixed(at(10, 0, 0)));
    c.import_ok(screening("S01-B", "1"), &[]).await;
    sim.set_clock(Clock::Fixed(at(11, 0, 0)));
    c.import_ok(screening("S01-A", "2"), &[]).await;
    // Sending what is stored changes nothing, and is no change for the range.
    sim.set_clock(Clock::Fixed(at(12, 0, 0)));
    c.import_ok(screening("S01-B", "1"), &[]).await;

    let ids = |rows: Vec<Value>| -> Vec<String> {
        let mut ids: Vec<String> = rows
            .iter()
            .map(|r| r["record_id"].as_str().unwrap().to_owned())
            .collect();
        ids.dedup();
        ids
    };
    assert_eq!(
        ids(c.export(&[("dateRangeBegin", "2025-10-01 10:00:00")]).await),
        ["S01-A", "S01-B"]
    );
    assert_eq!(
        ids(c.export(&[("dateRangeBegin", "2025-10-01 10:00:01")]).await),
        ["S01-A"]
    );
    assert_eq!(
        ids(c
            .export(&[
                ("dateRangeBegin", "2025-10-01 09:30:00"),
                ("dateRangeEnd", "2025-10-01 10:30:00")
            ])
            .await),
        ["S01-B"]
    );
    assert_eq!(
        ids(c.export(&[("dateRangeBegin", "2025-10-01 07:00:00")]).await).len(),
        6
    );
    assert!(
        c.export(&[("dateRangeBegin", "2025-10-01 12:00:00")])
            .await
            .is_empty()
    );
    let (status, _) = c
        .error(&[("content", "record"), ("dateRangeBegin", "yesterday")])
        .await;
    assert_eq!(status, 400);

    let log = c
        .json(&[
            ("content", "log"),
            ("record", "S01-A"),
            ("beginTime", "2025-10-01 08:30"),
        ])
        .await;
    // REDCap's log export gives its times to the minute.
    assert_eq!(
        log,
        json!([
            {"timestamp": "2025-10-01 11:00", "username": "demo_data_manager",
             "action": "Update record S01-A (API)", "details": "[event: screening_arm_1] sex = '2'"},
            {"timestamp": "2025-10-01 09:00", "username": "demo_data_manager",
             "action": "Create record S01-A (API)",
             "details": "[event: screening_arm_1] record_id = 'S01-A', sex = '1', demographics_complete = '0'"},
        ])
    );
    let adds = c
        .json(&[
            ("content", "log"),
            ("logtype", "record_add"),
            ("endTime", "2025-10-01 08:00"),
        ])
        .await;
    assert_eq!(
        adds.as_array().unwrap().len(),
        4,
        "the demo's own records, loaded at start"
    );
    assert_eq!(adds[0]["username"], edc_sim::SEED_USER);
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_removes_records_or_one_forms_data() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let delete = |extra: &'static [(&'static str, &'static str)]| {
        let mut p = vec![("content", "record"), ("action", "delete")];
        p.extend_from_slice(extra);
        p
    };
    assert_eq!(
        c.json(&delete(&[
            ("records[0]", "S02-DEM-0004"),
            ("records[1]", "S02-DEM-0003")
        ]))
        .await,
        json!(2)
    );
    assert!(c.export(&[("records[0]", "S02-DEM-0004")]).await.is_empty());
    let (status, message) = c
        .error(&delete(&[
            ("records[0]", "S02-DEM-0001"),
            ("records[1]", "S02-DEM-0009"),
        ]))
        .await;
    assert_eq!(status, 400);
    assert!(message.ends_with("S02-DEM-0009"), "{message}");
    assert_eq!(c.export(&[("records[0]", "S02-DEM-0001")]).await.len(), 3);
    assert_eq!(
        c.json(&delete(&[
            ("records[0]", "S02-DEM-0001"),
            ("instrument", "adverse_events"),
            ("event", "baseline_arm_1"),
            ("repeat_instance", "1"),
        ]))
        .await,
        json!(1)
    );
    assert_eq!(c.export(&[("records[0]", "S02-DEM-0001")]).await.len(), 2);
    let log = c
        .json(&[("content", "log"), ("logtype", "record_delete")])
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "Delete record S02-DEM-0003 (API)",
            "Delete record S02-DEM-0004 (API)"
        ]
    );
    let (status, _) = c.error(&delete(&[])).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_database_file_keeps_the_records_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::new(Project::demo());
    config.database = Database::File(dir.path().join("sim.db"));
    let sim = start_with(config.clone()).await;
    Client::new(&sim, DEMO_TOKEN)
        .import_ok(
            json!([{"record_id": "S01-KEEP", "redcap_event_name": "screening_arm_1", "sex": "1"}]),
            &[],
        )
        .await;
    sim.shutdown().await;
    let sim = start_with(config).await;
    let rows = Client::new(&sim, DEMO_TOKEN).export(&[]).await;
    assert_eq!(rows_of(&rows, "S01-KEEP").len(), 1);
    assert_eq!(rows.len(), 8, "the project's own records were loaded once");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_encrypted_database_file_keeps_the_records_under_its_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let key = sitedesk_core::vault::DataKey::generate().unwrap();
    let mut config = SimConfig::new(Project::demo());
    config.database = Database::Encrypted {
        path: path.clone(),
        key: key.clone(),
    };
    let sim = start_with(config.clone()).await;
    Client::new(&sim, DEMO_TOKEN)
        .import_ok(
            json!([{"record_id": "S01-SECRET", "redcap_event_name": "screening_arm_1", "sex": "1"}]),
            &[],
        )
        .await;
    sim.shutdown().await;
    assert!(sitedesk_core::store::is_encrypted(&path).unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(10).any(|w| w == b"S01-SECRET"));

    let sim = start_with(config).await;
    let rows = Client::new(&sim, DEMO_TOKEN).export(&[]).await;
    assert_eq!(rows_of(&rows, "S01-SECRET").len(), 1);
    sim.shutdown().await;

    let mut plain = SimConfig::new(Project::demo());
    plain.database = Database::File(path);
    let refused = edc_sim::Simulator::start(plain)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("encrypted")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_admin_endpoints_are_served_only_when_enabled() {
    let sim = start(Project::demo()).await;
    let http = crate::common::http();
    let stats = http
        .get(format!("{}admin/stats", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 404);
    sim.shutdown().await;

    let mut config = SimConfig::new(Project::demo());
    config.admin = true;
    let sim = start_with(config).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    c.post(&[("content", "version")]).await;
    c.post(&[("content", "record")]).await;
    let stats: Value = http
        .get(format!("{}admin/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["by_call"]["record/export"], 1);
    assert_eq!(stats["by_status"]["200"], 2);
    let set: Value = http
        .post(format!("{}admin/faults", sim.base_url()))
        .json(&json!({"spec": "status=503@content=version:next=1; max-concurrent=3"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        set["spec"],
        "status=503@content=version:next=1; max-concurrent=3"
    );
    assert_eq!(set["max_concurrent"], 3);
    assert_eq!(c.post(&[("content", "version")]).await.0, 503);
    assert_eq!(c.post(&[("content", "version")]).await.0, 200);
    let json_form = http
        .post(format!("{}admin/faults", sim.base_url()))
        .json(&json!({"rules": [{"kind": "status", "code": 502, "next": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_form.status(), 200);
    assert_eq!(sim.faults().to_string(), "status=502@next=1");
    for bad in [
        json!({"spec": "explode"}),
        json!({"rules": [{"kind": "status", "code": 404}]}),
    ] {
        let r = http
            .post(format!("{}admin/faults", sim.base_url()))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    let reset = http
        .delete(format!("{}admin/stats", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(sim.stats().requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_are_checked_at_start() {
    use edc_sim::{ApiUser, SimError, Simulator, TokenError};
    let with = |tokens: Vec<ApiUser>| {
        let mut config = SimConfig::new(Project::demo());
        config.tokens = tokens;
        config
    };
    let err = |r: Result<edc_sim::RunningSim, SimError>| match r {
        Err(SimError::Token(e)) => e,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("started"),
    };
    let short = ApiUser::new("ABC", "u", None);
    assert!(matches!(
        err(Simulator::start(with(vec![short])).await),
        TokenError::Malformed(_)
    ));
    let nowhere = ApiUser::new(DEMO_TOKEN, "u", Some("nowhere"));
    assert!(matches!(
        err(Simulator::start(with(vec![nowhere])).await),
        TokenError::UnknownDag { .. }
    ));
    let twice = vec![
        ApiUser::new(DEMO_TOKEN, "a", None),
        ApiUser::new(&DEMO_TOKEN.to_ascii_lowercase(), "b", None),
    ];
    assert!(matches!(
        err(Simulator::start(with(twice)).await),
        TokenError::Duplicate(_)
    ));
    // A classic project without groups gets the unbound demo token only.
    let config = SimConfig::new(classic_project());
    assert_eq!(config.tokens.len(), 1);
    assert_eq!(config.tokens[0].token, DEMO_TOKEN);
}

/// The demo project in development, where the API may change its design.
fn demo_in_development() -> Project {
    Project::demo().with_status(ProjectStatus::Development)
}

/// The data dictionary as the `metadata` export answers it.
async fn metadata(c: &Client) -> Vec<Value> {
    match c.json(&[("content", "metadata")]).await {
        Value::Array(rows) => rows,
        other => panic!("metadata is an array: {other}"),
    }
}

/// Imports `rows` as the data dictionary; status and body.
async fn import_metadata(c: &Client, rows: &[Value]) -> (u16, String) {
    let data = Value::Array(rows.to_vec()).to_string();
    c.post(&[("content", "metadata"), ("data", &data)]).await
}

/// Imports `rows` as the instrument designations; status and body.
async fn import_mapping(c: &Client, rows: &Value) -> (u16, String) {
    let data = rows.to_string();
    c.post(&[("content", "formEventMapping"), ("data", &data)])
        .await
}

/// A copy of the dictionary row of `template` as field `name` of `form`.
fn field_like(rows: &[Value], template: &str, name: &str, form: &str, label: &str) -> Value {
    let mut f = rows
        .iter()
        .find(|r| r["field_name"] == template)
        .unwrap_or_else(|| panic!("no field {template}"))
        .clone();
    f["field_name"] = json!(name);
    f["form_name"] = json!(form);
    f["field_label"] = json!(label);
    f["section_header"] = json!("");
    f
}

/// Imports `data` in CSV, as clients in R send it (`format` and
/// `returnFormat` csv), with the data manager's token.
async fn post_csv(sim: &edc_sim::RunningSim, content: &str, data: &str) -> reqwest::Response {
    crate::common::http()
        .post(sim.api_url())
        .form(&[
            ("token", DEMO_TOKEN),
            ("content", content),
            ("format", "csv"),
            ("returnFormat", "csv"),
            ("data", data),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dictionary_import_in_development_replaces_the_dictionary_and_its_fields_take_data() {
    let sim = start(demo_in_development()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let baseline = |field: &str, value: &str| json!([{"record_id": "S02-DEM-0001", "redcap_event_name": "baseline_arm_1", field: value}]);
    let (status, body) = c.import(baseline("pulse", "72"), &[]).await;
    assert_eq!(status, 400);
    assert!(body.contains("pulse"), "{body}");

    let mut rows = metadata(&c).await;
    let after_dbp = rows.iter().position(|r| r["field_name"] == "dbp").unwrap() + 1;
    let pulse = field_like(&rows, "dbp", "pulse", "vitals", "Pulse (bpm)");
    rows.insert(after_dbp, pulse);
    let ldl = field_like(
        &rows,
        "glucose",
        "ldl",
        "lab_results",
        "LDL cholesterol (mmol/L)",
    );
    rows.push(ldl);
    let (status, body) = import_metadata(&c, &rows).await;
    // REDCap answers the number of fields imported, a bare number.
    assert_eq!((status, body), (200, rows.len().to_string()));
    assert_eq!(metadata(&c).await, rows, "the export answers the new rows");
    let dictionary = sitedesk_core_parse(&c.post(&[("content", "metadata")]).await.1);
    assert_eq!(dictionary.fields.len(), rows.len());

    // A field added to a designated form takes data at once.
    c.import_ok(baseline("pulse", "72"), &[]).await;
    let row = &c
        .export(&[
            ("records[0]", "S02-DEM-0001"),
            ("events[0]", "baseline_arm_1"),
        ])
        .await[0];
    assert_eq!(row["pulse"], "72");
    assert_eq!(row["sbp"], "132", "values of the fields kept stay");

    // A new form is named as REDCap names it, and designated nowhere yet.
    let instruments = c.json(&[("content", "instrument")]).await;
    let instruments = instruments.as_array().unwrap();
    assert_eq!(
        instruments.last().unwrap(),
        &json!({"instrument_name": "lab_results", "instrument_label": "Lab Results"})
    );
    let vitals = instruments
        .iter()
        .find(|i| i["instrument_name"] == "vitals")
        .unwrap();
    assert_eq!(
        vitals["instrument_label"], "Vital signs and laboratory",
        "a form kept keeps its name"
    );
    let (status, body) = c.import(baseline("ldl", "2.9"), &[]).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("form lab_results, which is not designated for event baseline_arm_1"),
        "{body}"
    );

    // Designating it lets it take data.
    let mut mapping = c.json(&[("content", "formEventMapping")]).await;
    mapping
        .as_array_mut()
        .unwrap()
        .push(json!({"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "lab_results"}));
    let (status, body) = import_mapping(&c, &mapping).await;
    let designations = mapping.as_array().unwrap().len();
    assert_eq!((status, body), (200, designations.to_string()));
    let now = c.json(&[("content", "formEventMapping")]).await;
    assert!(
        now.as_array().unwrap().contains(
            &json!({"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "lab_results"})
        ),
        "{now}"
    );
    c.import_ok(baseline("ldl", "2.9"), &[]).await;
    let row = &c
        .export(&[
            ("records[0]", "S02-DEM-0001"),
            ("events[0]", "baseline_arm_1"),
        ])
        .await[0];
    assert_eq!(row["ldl"], "2.9");
    assert_eq!(row["lab_results_complete"], "0");

    let p = c.json(&[("content", "project")]).await;
    assert_eq!(p["project_title"], "SiteDesk demo study");
    assert_eq!(p["in_production"], 0);
    assert_eq!(p["is_longitudinal"], 1);
    assert_eq!(p["has_repeating_instruments_or_events"], 1);
    assert_eq!(sim.stats().by_call["metadata/import"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_removed_fields_values_stay_stored_and_come_back_with_the_field() {
    let sim = start(demo_in_development()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let original = metadata(&c).await;
    let without: Vec<Value> = original
        .iter()
        .filter(|r| r["field_name"] != "visit_notes" && r["form_name"] != "adverse_events")
        .cloned()
        .collect();
    let (status, body) = import_metadata(&c, &without).await;
    assert_eq!((status, body), (200, without.len().to_string()));
    let rows = c.export(&[("records[0]", "S02-DEM-0001")]).await;
    assert_eq!(rows.len(), 2, "no adverse event instance: {rows:?}");
    assert!(rows[1].get("visit_notes").is_none());
    assert!(rows[1].get("ae_term").is_none());
    // The removed form's designations and repeating setup went with it.
    let designations = |m: &Value| m.as_array().unwrap().len();
    let before = Project::demo().design().mapping.len();
    let ae = Project::demo()
        .design()
        .mapping
        .iter()
        .filter(|m| m.form == "adverse_events")
        .count();
    let mapping = c.json(&[("content", "formEventMapping")]).await;
    assert_eq!(designations(&mapping), before - ae);
    assert_eq!(
        c.json(&[("content", "repeatingFormsEvents")]).await,
        json!([])
    );
    assert_eq!(
        c.json(&[("content", "project")]).await["has_repeating_instruments_or_events"],
        0
    );

    let (status, _) = import_metadata(&c, &original).await;
    assert_eq!(status, 200);
    let rows = c.export(&[("records[0]", "S02-DEM-0001")]).await;
    assert_eq!(
        rows[1]["visit_notes"],
        "Fasting since 22:00. Brought her glucose diary."
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_record_id_field_may_be_renamed_and_records_keep_their_ids() {
    let sim = start(classic_project().with_status(ProjectStatus::Development)).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let mut rows = metadata(&c).await;
    rows[0]["field_name"] = json!("study_id");
    // REDCap makes the record id a text field without a section header.
    rows[0]["field_type"] = json!("notes");
    rows[0]["section_header"] = json!("Enrolment");
    let (status, body) = import_metadata(&c, &rows).await;
    assert_eq!((status, body.as_str()), (200, "9"));
    let first = &metadata(&c).await[0];
    assert_eq!(
        (
            &first["field_name"],
            &first["field_type"],
            &first["section_header"]
        ),
        (&json!("study_id"), &json!("text"), &json!(""))
    );
    let exported = c.export(&[]).await;
    assert_eq!(exported[0]["study_id"], "1");
    assert!(exported[0].get("record_id").is_none());
    assert_eq!(exported[0]["name"], "Ada");
    c.import_ok(json!([{"study_id": "2", "name": "Bea"}]), &[])
        .await;
    assert_eq!(c.export(&[("records[0]", "2")]).await[0]["name"], "Bea");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_production_project_refuses_design_imports() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    assert_eq!(c.json(&[("content", "project")]).await["in_production"], 1);
    let rows = metadata(&c).await;
    let mapping = c.json(&[("content", "formEventMapping")]).await;
    let (status, body) = import_metadata(&c, &rows).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (400, NOT_IN_DEVELOPMENT)
    );
    let (status, body) = import_mapping(&c, &mapping).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (400, NOT_IN_DEVELOPMENT)
    );
    // REDCap checks the status before the user's rights.
    let crc = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    let (status, body) = import_metadata(&crc, &rows).await;
    assert_eq!(
        (status, error_of(&body).as_str()),
        (400, NOT_IN_DEVELOPMENT)
    );

    // Back in development the same call goes through, and once moved to
    // production again it is refused again.
    sim.set_status(ProjectStatus::Development);
    assert_eq!(c.json(&[("content", "project")]).await["in_production"], 0);
    assert_eq!(
        import_metadata(&c, &rows).await,
        (200, rows.len().to_string())
    );
    sim.set_status(ProjectStatus::Production);
    assert_eq!(import_metadata(&c, &rows).await.0, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_without_the_design_right_is_refused() {
    let sim = start(demo_in_development()).await;
    let c = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    let before = metadata(&c).await;
    let mut rows = before.clone();
    rows.pop();
    let (status, body) = import_metadata(&c, &rows).await;
    assert_eq!((status, error_of(&body).as_str()), (400, NO_DESIGN_RIGHT));
    let mapping = c.json(&[("content", "formEventMapping")]).await;
    let (status, body) = import_mapping(&c, &mapping).await;
    assert_eq!((status, error_of(&body).as_str()), (400, NO_DESIGN_RIGHT));
    assert_eq!(metadata(&c).await, before);

    // A token made with the right may.
    let mut config = SimConfig::new(demo_in_development());
    config.tokens.push(
        edc_sim::ApiUser::new("0123456789ABCDEF0123456789ABCDEF", "builder", None)
            .with_design(true),
    );
    let sim2 = start_with(config).await;
    let builder = Client::new(&sim2, "0123456789ABCDEF0123456789ABCDEF");
    assert_eq!(
        import_metadata(&builder, &rows).await,
        (200, rows.len().to_string())
    );
    sim2.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_malformed_dictionary_is_refused_naming_the_row_and_nothing_changes() {
    let sim = start(demo_in_development()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let before = metadata(&c).await;
    let refused = |rows: Vec<Value>| {
        let c = &c;
        async move {
            let (status, body) = import_metadata(c, &rows).await;
            assert_eq!(status, 400, "{body}");
            error_of(&body)
        }
    };
    let with = |field: &str, key: &str, value: &str| {
        let mut rows = before.clone();
        let r = rows.iter_mut().find(|r| r["field_name"] == field).unwrap();
        r[key] = json!(value);
        rows
    };

    // The core's row checks, as for every other source.
    let message = refused(with("weight_kg", "field_type", "numeric")).await;
    assert!(
        message.contains("weight_kg") && message.contains("numeric"),
        "{message}"
    );
    let message = refused(with(
        "sex",
        "select_choices_or_calculations",
        "1 Male | 2 Female",
    ))
    .await;
    assert!(message.contains("(field sex)"), "{message}");
    let message = refused(with("meds_other", "field_name", "dbp")).await;
    assert!(message.contains("dbp"), "{message}");

    // REDCap's further rules.
    let message = refused(with("glucose", "field_name", "vitals_complete")).await;
    assert!(message.starts_with("Field vitals_complete (A"), "{message}");
    let message = refused(with(
        "sex",
        "text_validation_type_or_show_slider_number",
        "integer",
    ))
    .await;
    assert!(message.contains("Field sex (H5)"), "{message}");
    let mut scattered = before.clone();
    let dob = scattered.remove(2);
    scattered.push(dob);
    let message = refused(scattered).await;
    assert!(message.contains("Form demographics"), "{message}");
    let message = refused(vec![]).await;
    assert!(message.contains("no fields"), "{message}");
    let (status, body) = c
        .post(&[("content", "metadata"), ("data", "{\"field_name\": 1}")])
        .await;
    assert_eq!(status, 400, "{body}");

    assert_eq!(metadata(&c).await, before, "nothing changed");
    let (status, _) = c
        .import(
            json!([{"record_id": "S02-DEM-0001", "redcap_event_name": "screening_arm_1", "weight_kg": "70.0"}]),
            &[],
        )
        .await;
    assert_eq!(status, 200, "the dictionary in force still takes its data");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_mapping_import_replaces_the_designations_and_refuses_what_does_not_exist() {
    let sim = start(demo_in_development()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let before = c.json(&[("content", "formEventMapping")]).await;
    let (status, body) = import_mapping(
        &c,
        &json!([
            {"arm_num": "1", "unique_event_name": "week_9_arm_1", "form": "vitals"},
            {"arm_num": 2, "unique_event_name": "baseline_arm_1", "form": "labs"},
        ]),
    )
    .await;
    assert_eq!(status, 400);
    let message = error_of(&body);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 3, "{message}");
    assert!(lines[0].contains("\"week_9_arm_1\""), "{message}");
    assert!(lines[1].contains("\"2\""), "{message}");
    assert!(lines[2].contains("\"labs\""), "{message}");
    let (status, body) = import_mapping(&c, &json!([{"event": "baseline_arm_1"}])).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("arm_num,unique_event_name,form"));
    assert_eq!(c.json(&[("content", "formEventMapping")]).await, before);

    // The import replaces every designation (the arm comes from the
    // event); in CSV too.
    let response = post_csv(
        &sim,
        "formEventMapping",
        "arm_num,unique_event_name,form\n1,screening_arm_1,demographics\n1,baseline_arm_1,vitals\n",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "2");
    assert_eq!(
        c.json(&[("content", "formEventMapping")]).await,
        json!([
            {"arm_num": 1, "unique_event_name": "screening_arm_1", "form": "demographics"},
            {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "vitals"},
        ])
    );
    // Adverse events no longer repeat where they are no longer designated.
    assert_eq!(
        c.json(&[("content", "repeatingFormsEvents")]).await,
        json!([])
    );
    let (status, body) = c
        .import(
            json!([{"record_id": "S02-DEM-0002", "redcap_event_name": "baseline_arm_1", "meds___1": "1"}]),
            &[],
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("not designated"), "{body}");
    sim.shutdown().await;

    // A classic project has no designations to import.
    let sim = start(classic_project().with_status(ProjectStatus::Development)).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let (status, body) = import_mapping(
        &c,
        &json!([{"arm_num": 1, "unique_event_name": "event_1_arm_1", "form": "visits"}]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("classic"), "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dictionary_import_may_come_in_csv() {
    let sim = start(classic_project().with_status(ProjectStatus::Development)).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let mut rows = metadata(&c).await;
    rows.insert(
        4,
        field_like(&rows, "weight", "height", "enrolment", "Height, in cm"),
    );
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(METADATA_COLUMNS).unwrap();
    for r in &rows {
        w.write_record(METADATA_COLUMNS.iter().map(|k| r[*k].as_str().unwrap()))
            .unwrap();
    }
    let data = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let response = post_csv(&sim, "metadata", &data).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "10");
    assert_eq!(metadata(&c).await, rows);
    c.import_ok(json!([{"record_id": "1", "height": "170.5"}]), &[])
        .await;
    sim.shutdown().await;
}
