//! The formats REDCap's clients use besides JSON: CSV for records (export
//! and import) and the data dictionary, `rawOrLabel=label` and
//! `rawOrLabelHeaders=label`, `exportFieldNames`, and the refusal of what
//! the simulator does not simulate.

use edc_sim::{DEMO_TOKEN, DEMO_TOKEN_RIVERSIDE, METADATA_COLUMNS, Project};
use serde_json::{Value, json};

use crate::common::{Client, classic_project, start};

/// POSTs `params` with the token as written (no `format` added); status,
/// content type and body.
async fn post(c: &Client, params: &[(&str, &str)]) -> (u16, String, String) {
    let mut form = vec![("token", c.token.as_str())];
    form.extend_from_slice(params);
    let r = c.http.post(&c.url).form(&form).send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn records_exported_in_csv_import_back_unchanged() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let export = [
        ("content", "record"),
        ("type", "flat"),
        ("format", "csv"),
        ("exportDataAccessGroups", "true"),
    ];
    let (status, kind, before) = post(&c, &export).await;
    assert_eq!(status, 200, "{before}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let json_rows = c.export(&[("exportDataAccessGroups", "true")]).await;
    let table = csv_rows(&before);
    // A header line, then the JSON export's rows, cell for cell.
    let header: Vec<String> = json_rows[0]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap();
    let mut csv_header = table[0].clone();
    csv_header.sort();
    let mut json_header = header.clone();
    json_header.sort();
    assert_eq!(csv_header, json_header);
    assert_eq!(table.len(), json_rows.len() + 1);
    for (line, row) in table[1..].iter().zip(&json_rows) {
        for (name, cell) in table[0].iter().zip(line) {
            assert_eq!(row[name], json!(cell), "{name}");
        }
    }
    assert!(
        before.starts_with("record_id,redcap_event_name,"),
        "{before}"
    );

    // Import the CSV, less the calculated fields (REDCap refuses them, so
    // clients leave them out), and export it again.
    let metadata = c.json(&[("content", "metadata")]).await;
    let calcs: Vec<&str> = metadata
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["field_type"] == "calc")
        .map(|f| f["field_name"].as_str().unwrap())
        .collect();
    assert!(!calcs.is_empty(), "the demo has calculated fields");
    let keep: Vec<usize> = (0..table[0].len())
        .filter(|&i| !calcs.contains(&table[0][i].as_str()))
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    for line in &table {
        writer
            .write_record(keep.iter().map(|&i| line[i].as_str()))
            .unwrap();
    }
    let data = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    let (status, _, answer) = post(
        &c,
        &[
            ("content", "record"),
            ("format", "csv"),
            ("returnFormat", "csv"),
            ("type", "flat"),
            ("overwriteBehavior", "overwrite"),
            ("data", &data),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let records: std::collections::BTreeSet<&str> = json_rows
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(answer, records.len().to_string(), "the count, as text");
    let (_, _, after) = post(&c, &export).await;
    assert_eq!(after, before, "a CSV round trip changes nothing");
    let log = c
        .json(&[("content", "log"), ("logtype", "record_edit")])
        .await;
    assert_eq!(log, json!([]), "nothing was edited");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_csv_import_is_checked_and_its_errors_come_as_text() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let data = "record_id,name,weight,comment\n2,\"Lovelace, Ada\",61.5,\"two\nlines\"\n";
    let (status, _, answer) = post(
        &c,
        &[
            ("content", "record"),
            ("format", "csv"),
            ("returnFormat", "json"),
            ("data", data),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, r#"{"count":1}"#);
    let rows = c.export(&[("records[0]", "2")]).await;
    assert_eq!(rows[0]["name"], "Lovelace, Ada");
    assert_eq!(rows[0]["comment"], "two\nlines");
    // Exported, a cell with a comma, a space or a line break is quoted,
    // as PHP's fputcsv quotes it; others are not.
    let (_, _, text) = post(
        &c,
        &[
            ("content", "record"),
            ("format", "csv"),
            ("records[0]", "2"),
            ("fields[0]", "name"),
            ("fields[1]", "weight"),
            ("fields[2]", "comment"),
        ],
    )
    .await;
    assert_eq!(
        text,
        "record_id,redcap_repeat_instrument,redcap_repeat_instance,name,weight,comment\n2,,,\"Lovelace, Ada\",61.5,\"two\nlines\"\n"
    );
    let (status, kind, answer) = post(
        &c,
        &[
            ("content", "record"),
            ("format", "csv"),
            ("returnFormat", "csv"),
            ("data", "record_id,weight\n3,61\n"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(kind.starts_with("text/plain"), "{kind}");
    assert!(
        answer.starts_with(r#""3","weight","61","The value you provided"#),
        "{answer}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_data_dictionary_exports_in_csv() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let json_rows = c.json(&[("content", "metadata")]).await;
    let (status, kind, text) = post(&c, &[("content", "metadata"), ("format", "csv")]).await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let table = csv_rows(&text);
    assert_eq!(table[0], METADATA_COLUMNS.map(str::to_owned).to_vec());
    let json_rows = json_rows.as_array().unwrap();
    assert_eq!(table.len(), json_rows.len() + 1);
    for (line, row) in table[1..].iter().zip(json_rows) {
        for (name, cell) in METADATA_COLUMNS.iter().zip(line) {
            assert_eq!(row[name], json!(cell), "{name}");
        }
    }
    // The calculation's quotes and the choices' commas are quoted.
    assert!(
        text.contains(r#"age,enrolment,,calc,Age,"rounddown(datediff([dob],'today','y'))""#),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_label_export_gives_choice_labels_and_label_headers() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN_RIVERSIDE);
    c.import_ok(
        json!([
            {"record_id": "S01-DEM-0100", "redcap_event_name": "screening_arm_1",
             "sex": "2", "demographics_complete": "2"},
            {"record_id": "S01-DEM-0100", "redcap_event_name": "baseline_arm_1",
             "meds___1": "1"},
        ]),
        &[],
    )
    .await;
    let metadata = c.json(&[("content", "metadata")]).await;
    let field = |name: &str| {
        metadata
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field_name"] == name)
            .unwrap()
            .clone()
    };
    let choice = |f: &Value, code: &str| {
        f["select_choices_or_calculations"]
            .as_str()
            .unwrap()
            .split('|')
            .map(str::trim)
            .find_map(|c| c.strip_prefix(&format!("{code}, ")))
            .unwrap()
            .to_owned()
    };
    let (sex, meds) = (field("sex"), field("meds"));
    let rows = c
        .export(&[("rawOrLabel", "label"), ("records[0]", "S01-DEM-0100")])
        .await;
    assert_eq!(rows[0]["sex"], json!(choice(&sex, "2")));
    assert_eq!(rows[0]["demographics_complete"], "Complete");
    assert_ne!(rows[0]["redcap_event_name"], "screening_arm_1");
    assert_eq!(rows[1]["meds___1"], json!(choice(&meds, "1")));
    assert_eq!(rows[1]["meds___2"], "Unchecked");
    // Raw stays raw.
    let raw = c.export(&[("records[0]", "S01-DEM-0100")]).await;
    assert_eq!(raw[0]["sex"], "2");
    assert_eq!(raw[1]["meds___2"], "0");

    // Headers as labels, in CSV (REDCap's JSON keys stay the names).
    let (status, _, text) = post(
        &c,
        &[
            ("content", "record"),
            ("format", "csv"),
            ("rawOrLabel", "label"),
            ("rawOrLabelHeaders", "label"),
            ("records[0]", "S01-DEM-0100"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let header = &csv_rows(&text)[0];
    assert_eq!(header[1], "Event Name");
    assert!(header.contains(&sex["field_label"].as_str().unwrap().to_owned()));
    let meds_header = format!(
        "{} (choice={})",
        meds["field_label"].as_str().unwrap(),
        choice(&meds, "1")
    );
    assert!(header.contains(&meds_header), "{header:?}");
    assert!(header.contains(&"Complete?".to_owned()));
    sim.shutdown().await;
}

#[tokio::test]
async fn export_field_names_expand_a_checkbox_into_its_columns() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let names = c
        .json(&[("content", "exportFieldNames"), ("field", "symptoms")])
        .await;
    assert_eq!(
        names,
        json!([
            {"original_field_name": "symptoms", "choice_value": "1", "export_field_name": "symptoms___1"},
            {"original_field_name": "symptoms", "choice_value": "2", "export_field_name": "symptoms___2"},
            {"original_field_name": "symptoms", "choice_value": "-99", "export_field_name": "symptoms____99"},
        ])
    );
    // Every export column of the project is named, the form statuses not.
    let all = c.json(&[("content", "exportFieldNames")]).await;
    let exported: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["export_field_name"].as_str().unwrap().to_owned())
        .collect();
    let row = &c.export(&[]).await[0];
    let columns: Vec<String> = row
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.ends_with("_complete") && !k.starts_with("redcap_"))
        .cloned()
        .collect();
    let mut exported_sorted = exported.clone();
    exported_sorted.sort();
    let mut columns_sorted = columns;
    columns_sorted.sort();
    assert_eq!(exported_sorted, columns_sorted);
    let (status, _, text) = post(
        &c,
        &[
            ("content", "exportFieldNames"),
            ("format", "csv"),
            ("field", "symptoms"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        text,
        "original_field_name,choice_value,export_field_name\nsymptoms,1,symptoms___1\nsymptoms,2,symptoms___2\nsymptoms,-99,symptoms____99\n"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn what_the_simulator_does_not_simulate_is_refused_as_such() {
    let sim = start(Project::demo()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    for content in ["file", "surveyLink", "user", "report", "xyz"] {
        let (status, message) = c.error(&[("content", content)]).await;
        assert_eq!(status, 400);
        assert_eq!(
            message,
            format!("The content '{content}' is not simulated by edc-sim")
        );
    }
    let (status, message) = c.error(&[("content", "dag"), ("action", "import")]).await;
    assert_eq!(status, 400);
    assert_eq!(
        message,
        "The action 'import' of content 'dag' is not simulated by edc-sim"
    );
    let (status, _, body) = post(&c, &[("content", "record"), ("format", "xml")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("not simulated"), "{body}");
    // Refused in the error format asked for.
    let (status, kind, body) = post(
        &c,
        &[
            ("content", "xyz"),
            ("format", "csv"),
            ("returnFormat", "csv"),
        ],
    )
    .await;
    assert_eq!((status, kind.starts_with("text/plain")), (400, true));
    assert_eq!(body, "The content 'xyz' is not simulated by edc-sim");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_record_delete_and_the_next_record_name_answer_in_csv_too() {
    let sim = start(classic_project()).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let (status, _, next) = post(
        &c,
        &[("content", "generateNextRecordName"), ("format", "csv")],
    )
    .await;
    assert_eq!((status, next.as_str()), (200, "2"));
    let (status, _, deleted) = post(
        &c,
        &[
            ("content", "record"),
            ("action", "delete"),
            ("format", "csv"),
            ("returnFormat", "csv"),
            ("records[0]", "1"),
        ],
    )
    .await;
    assert_eq!((status, deleted.as_str()), (200, "1"));
    assert_eq!(c.export(&[]).await, Vec::<Value>::new());
    sim.shutdown().await;
}
