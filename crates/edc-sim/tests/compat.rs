//! The simulator against every REDCap fixture project
//! (`shared/fixtures/redcap`): each loads from its `project.xml` and from
//! its CSV files (`dictionary.csv`, `data.csv`, and `event.csv`/`arm.csv`
//! where present), and gives back, through the API, its data dictionary
//! (`metadata`) and its records (`record`, flat). Skipped when the fixtures
//! are absent, except under CI.
//!
//! The fixtures disagree with each other in a few places, none of them the
//! simulator's doing; each is named where it is allowed for:
//! - `simple/project.xml` has a field (`interpreter_needed`) that its
//!   `dictionary.csv` and `data.csv` were made without.
//! - `simple/data.csv` has `sex` as `TRUE`/`FALSE`: R wrote the 0/1 radio
//!   as logicals; `project.xml` has `0`/`1`.
//! - `checkboxes-1/data.csv` and `longitudinal/data.csv` have the line
//!   breaks of notes replaced by spaces (R again); `project.xml` has them,
//!   as does `simple/data.csv`.
//! - `simple/data.csv` shows the stored files of `mugshot` as
//!   `[document]`, as older REDCap exports did; `longitudinal/data.csv`
//!   shows its file by name, as `project.xml` names both projects' files.
//! - `validation-types-1/project.xml` has the calculated `f_calculated` as
//!   `7`; `data.csv`, exported before it was calculated, has it blank.
//! - What the ODM export does not carry: an `sql` field's query, and min
//!   and max of a field without a validation type (a slider's); and the
//!   dictionary CSV writes some choices as `1, one|2, two`, which REDCap
//!   writes `1, one | 2, two` in the project file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use edc_sim::{CsvFiles, DEMO_TOKEN, METADATA_COLUMNS, Project, ProjectStatus};
use serde_json::Value;
use sitedesk_core::metadata::{Field, FieldType, parse_api_json, parse_csv};

use crate::common::{Client, start};

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

/// Every fixture folder with a project file, by name.
fn projects(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|d| d.join("project.xml").is_file())
        .map(|d| (d.file_name().unwrap().to_string_lossy().into_owned(), d))
        .collect();
    out.sort();
    assert!(out.len() >= 7, "only {} fixture projects found", out.len());
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn from_xml(dir: &Path) -> Project {
    let text = String::from_utf8(read(&dir.join("project.xml"))).unwrap();
    Project::from_odm(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn from_csv(dir: &Path) -> Project {
    let optional = |name: &str| {
        let p = dir.join(name);
        p.is_file().then(|| read(&p))
    };
    let dictionary = read(&dir.join("dictionary.csv"));
    let (events, arms, data) = (
        optional("event.csv"),
        optional("arm.csv"),
        optional("data.csv"),
    );
    Project::from_csv(CsvFiles {
        dictionary: &dictionary,
        events: events.as_deref(),
        arms: arms.as_deref(),
        mapping: None,
        data: data.as_deref(),
    })
    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// A CSV file as its header and its rows.
fn csv_table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// What the ODM export carries of a field read from the CSV (as the
/// core's own ODM tests compare them).
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

#[tokio::test]
async fn every_fixture_gives_back_its_data_dictionary() {
    let Some(root) = fixtures() else {
        return;
    };
    for (name, dir) in projects(&root) {
        let (_, dictionary_rows) = csv_table(&dir.join("dictionary.csv"));
        let csv_dictionary = parse_csv(&read(&dir.join("dictionary.csv"))).unwrap();

        // From the CSV files: every cell as the dictionary has it.
        let sim = start(from_csv(&dir)).await;
        let text = Client::new(&sim, DEMO_TOKEN)
            .post(&[("content", "metadata")])
            .await
            .1;
        let answer: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(answer.len(), dictionary_rows.len(), "{name}: fields");
        for (row, expected) in answer.iter().zip(&dictionary_rows) {
            for (i, column) in METADATA_COLUMNS.iter().enumerate() {
                assert_eq!(
                    row[*column].as_str(),
                    Some(expected[i].as_str()),
                    "{name}: {} {column}",
                    expected[0]
                );
            }
        }
        sim.shutdown().await;

        // From the project file: the same fields, column for column, as
        // far as the file carries them (see the module documentation).
        let sim = start(from_xml(&dir)).await;
        let text = Client::new(&sim, DEMO_TOKEN)
            .post(&[("content", "metadata")])
            .await
            .1;
        let served = parse_api_json(&text).unwrap();
        let extra: &[&str] = if name == "simple" {
            &["interpreter_needed"]
        } else {
            &[]
        };
        let served_fields: Vec<&Field> = served
            .fields
            .iter()
            .filter(|f| !extra.contains(&f.name.as_str()))
            .collect();
        assert_eq!(served_fields.len(), csv_dictionary.fields.len(), "{name}");
        for (s, c) in served_fields.iter().zip(&csv_dictionary.fields) {
            assert_eq!(*s, &as_odm_carries_it(c), "{name}: {}", c.name);
        }
        sim.shutdown().await;
    }
}

/// REDCap made each fixture's dictionary, so its own dictionary check
/// passed them: the simulator's must too. Each goes back in as it came
/// out, from the project file in JSON and from the dictionary file in
/// CSV, and the export answers the same rows with the records as before.
#[tokio::test]
async fn every_fixtures_dictionary_imports_back_unchanged() {
    let Some(root) = fixtures() else {
        return;
    };
    for (name, dir) in projects(&root) {
        let sim = start(from_xml(&dir).with_status(ProjectStatus::Development)).await;
        let c = Client::new(&sim, DEMO_TOKEN);
        let text = c.post(&[("content", "metadata")]).await.1;
        let fields = serde_json::from_str::<Vec<Value>>(&text).unwrap().len();
        let records = c.post(&[("content", "record")]).await.1;
        let (status, body) = c.post(&[("content", "metadata"), ("data", &text)]).await;
        assert_eq!((status, body), (200, fields.to_string()), "{name}: JSON");
        assert_eq!(c.post(&[("content", "metadata")]).await.1, text, "{name}");
        assert_eq!(c.post(&[("content", "record")]).await.1, records, "{name}");
        sim.shutdown().await;

        let sim = start(from_csv(&dir).with_status(ProjectStatus::Development)).await;
        let c = Client::new(&sim, DEMO_TOKEN);
        let text = c.post(&[("content", "metadata")]).await.1;
        let dictionary = String::from_utf8(read(&dir.join("dictionary.csv"))).unwrap();
        let response = crate::common::http()
            .post(sim.api_url())
            .form(&[
                ("token", DEMO_TOKEN),
                ("content", "metadata"),
                ("format", "csv"),
                ("data", &dictionary),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}: CSV");
        assert_eq!(
            response.text().await.unwrap(),
            csv_table(&dir.join("dictionary.csv")).1.len().to_string(),
            "{name}: CSV"
        );
        assert_eq!(c.post(&[("content", "metadata")]).await.1, text, "{name}");
        sim.shutdown().await;
    }
}

/// The columns a fixture's `data.csv` lacks although its project defines
/// them (see the module documentation).
fn extra_columns(name: &str, from_xml: bool) -> &'static [&'static str] {
    match (name, from_xml) {
        ("simple", true) => &["interpreter_needed"],
        _ => &[],
    }
}

/// A `data.csv` value as the project file has it.
fn as_project_file_has_it(name: &str, column: &str, value: &str) -> String {
    match (name, column, value) {
        ("simple", "sex", "TRUE") => "1".into(),
        ("simple", "sex", "FALSE") => "0".into(),
        ("validation-types-1", "f_calculated", "") => "7".into(),
        _ => value.to_owned(),
    }
}

/// Whether a fixture's `data.csv` lost its notes' line breaks.
fn lost_line_breaks(name: &str) -> bool {
    matches!(name, "checkboxes-1" | "longitudinal")
}

fn collapse(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn every_fixture_gives_back_its_records() {
    let Some(root) = fixtures() else {
        return;
    };
    let mut quirks_seen = BTreeSet::new();
    for (name, dir) in projects(&root) {
        let (header, rows) = csv_table(&dir.join("data.csv"));
        let with_dag = header.iter().any(|h| h == "redcap_data_access_group");
        let mut mappings = Vec::new();
        for xml in [false, true] {
            let project = if xml { from_xml(&dir) } else { from_csv(&dir) };
            let warnings = project.warnings().to_vec();
            let sim = start(project).await;
            let c = Client::new(&sim, DEMO_TOKEN);
            let dag = if with_dag { "true" } else { "false" };
            let (status, text) = c
                .post(&[
                    ("content", "record"),
                    ("type", "flat"),
                    ("exportDataAccessGroups", dag),
                ])
                .await;
            assert_eq!(status, 200, "{name}: {text}");
            let served = served_rows(&text);
            let source = if xml { "project.xml" } else { "CSV files" };

            // Columns: data.csv's, in REDCap's order, and only what the
            // project defines besides.
            let served_header: Vec<&str> = served[0].iter().map(|(k, _)| k.as_str()).collect();
            let common: Vec<&str> = served_header
                .iter()
                .copied()
                .filter(|h| header.iter().any(|x| x == h))
                .collect();
            assert_eq!(
                common, header,
                "{name} from {source}: columns and their order"
            );
            let extra: Vec<&str> = served_header
                .iter()
                .copied()
                .filter(|h| !header.iter().any(|x| x == h))
                .collect();
            assert_eq!(extra, extra_columns(&name, xml), "{name} from {source}");

            // Rows: the same, value for value (REDCap orders records by
            // id, this server by creation; compared as sets of rows).
            let mut expected: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    header
                        .iter()
                        .zip(r)
                        .map(|(h, v)| {
                            let v2 = if !xml {
                                v.clone()
                            } else if lost_line_breaks(&name) {
                                collapse(v)
                            } else {
                                as_project_file_has_it(&name, h, v)
                            };
                            if v2 != *v {
                                quirks_seen.insert(format!("{name}/{h}"));
                            }
                            v2
                        })
                        .collect()
                })
                .collect();
            let mut got: Vec<Vec<String>> = served
                .iter()
                .map(|r| {
                    header
                        .iter()
                        .map(|h| {
                            let v = r.iter().find(|(k, _)| k == h).unwrap().1.clone();
                            if xml && name == "simple" && h == "mugshot" && !v.is_empty() {
                                quirks_seen.insert(format!("{name}/{h}"));
                                "[document]".to_owned()
                            } else if xml && lost_line_breaks(&name) {
                                if v.contains('\n') {
                                    quirks_seen.insert(format!("{name}/{h}"));
                                }
                                collapse(&v)
                            } else {
                                v
                            }
                        })
                        .collect()
                })
                .collect();
            expected.sort();
            got.sort();
            assert_eq!(got.len(), expected.len(), "{name} from {source}: rows");
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g, e, "{name} from {source}: a row (columns {header:?})");
            }

            // The only values an import would refuse are the quirks.
            let refused: BTreeSet<String> = warnings
                .iter()
                .map(|w| {
                    w.split(',')
                        .nth(1)
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned()
                })
                .collect();
            let allowed: BTreeSet<String> = match (name.as_str(), xml) {
                ("simple", false) => ["sex".to_owned()].into(),
                _ => BTreeSet::new(),
            };
            assert_eq!(refused, allowed, "{name} from {source}: {warnings:?}");

            if let Ok(m) = c
                .post(&[("content", "formEventMapping")])
                .await
                .1
                .parse::<Value>()
                && m.is_array()
            {
                let set: BTreeSet<String> = m
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| format!("{}/{}", x["unique_event_name"], x["form"]))
                    .collect();
                mappings.push(set);
            }
            sim.shutdown().await;
        }
        // Read from the data, the CSV project's designations are the
        // project file's.
        if mappings.len() == 2 {
            assert_eq!(mappings[0], mappings[1], "{name}: form-event mapping");
        }
    }
    // The quirks allowed for are real, not a cover for a difference that
    // never happens.
    for q in [
        "simple/sex",
        "simple/mugshot",
        "checkboxes-1/desired_result",
        "longitudinal/comments",
        "validation-types-1/f_calculated",
    ] {
        assert!(
            quirks_seen.contains(q),
            "{q} was never needed: {quirks_seen:?}"
        );
    }
}

/// An export's rows with their columns in the order sent.
fn served_rows(text: &str) -> Vec<Vec<(String, String)>> {
    serde_json::from_str::<Vec<Ordered>>(text)
        .unwrap()
        .into_iter()
        .map(|o| o.0)
        .collect()
}

/// A JSON object of strings, its keys in order (serde_json's own maps are
/// sorted).
struct Ordered(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, String>()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[tokio::test]
async fn the_binarys_file_options_read_the_same_project() {
    let Some(root) = fixtures() else {
        return;
    };
    let dir = root.join("longitudinal");
    let files = edc_sim::ProjectFiles {
        project: dir.join("dictionary.csv"),
        data: Some(dir.join("data.csv")),
        events: Some(dir.join("event.csv")),
        arms: Some(dir.join("arm.csv")),
        mapping: None,
    };
    let from_files = Project::from_files(&files).unwrap();
    let direct = from_csv(&dir);
    assert_eq!(from_files.title(), "dictionary");
    assert_eq!(from_files.design(), direct.design());
    assert_eq!(from_files.records(), direct.records());
    let xml = edc_sim::ProjectFiles {
        project: dir.join("project.xml"),
        ..Default::default()
    };
    let from_xml_file = Project::from_files(&xml).unwrap();
    assert_eq!(from_xml_file.title(), "REDCapR: longitudinal");
    assert_eq!(from_xml_file.records(), from_xml(&dir).records());
    let missing = edc_sim::ProjectFiles {
        project: dir.join("nothing.csv"),
        ..Default::default()
    };
    assert!(matches!(
        Project::from_files(&missing),
        Err(edc_sim::ProjectError::Read { .. })
    ));
}

/// A project file with surveys (the core's `survey_project.xml`, in the
/// shape REDCap writes one; no fixture has surveys): the simulator serves
/// it, its survey pseudo-fields out of the dictionary and the records, and
/// the survey's answers in them.
#[tokio::test]
async fn a_project_file_with_surveys_serves_its_forms_and_answers() {
    let text = include_str!("../../sitedesk-core/src/metadata/survey_project.xml");
    let project = Project::from_odm(text).unwrap();
    assert!(project.warnings().is_empty(), "{:?}", project.warnings());
    let sim = start(project).await;
    let client = Client::new(&sim, DEMO_TOKEN);
    let fields: Vec<String> = match client.json(&[("content", "metadata")]).await {
        Value::Array(rows) => rows
            .iter()
            .map(|r| r["field_name"].as_str().unwrap().to_owned())
            .collect(),
        other => panic!("{other}"),
    };
    assert_eq!(
        fields,
        [
            "record_id",
            "email",
            "enrolled_on",
            "qol_mobility",
            "qol_score",
            "qol_interviewer"
        ]
    );
    let rows = client.export(&[]).await;
    assert_eq!(rows.len(), 2);
    let columns: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        !columns
            .iter()
            .any(|c| c.contains("survey") || c.ends_with("_timestamp")),
        "{columns:?}"
    );
    let get = |row: usize, column: &str| rows[row][column].as_str().unwrap().to_owned();
    assert_eq!(
        (
            get(0, "qol_mobility"),
            get(0, "qol_score"),
            get(1, "qol_interviewer")
        ),
        ("2".to_owned(), "70".to_owned(), "RK".to_owned())
    );
    sim.shutdown().await;
}
