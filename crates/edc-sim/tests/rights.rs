//! What a token without a right is refused, in REDCap's status and words,
//! and that a refused call changes nothing: the API Export and Import
//! rights, Logging, Data Access Groups, Delete Records, Create Records,
//! the data export rights (columns left out, dates shifted), the form
//! rights, locked forms, and rights changed while the server runs.

use chrono::NaiveDate;
use edc_sim::{
    ApiUser, DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, DataExport, LOCKED_FORM, NO_CREATE_RIGHT,
    NO_DAG_RIGHT, NO_DATA_EXPORT_RIGHT, NO_DELETE_RIGHT, NO_EXPORT_RIGHT, NO_FORM_EDIT_RIGHT,
    NO_IMPORT_RIGHT, NO_LOGGING_RIGHT, Project, Rights, RunningSim, SimConfig, date_shift_days,
};
use serde_json::{Value, json};

use crate::common::{Client, classic_project, error_of, start_with};

/// A site coordinator's token in the demo project's Hillview group.
const SITE: &str = "5175E1D00D5175E1D00D5175E1D00D01";
/// A site coordinator's token in no group.
const UNBOUND_SITE: &str = "5175E1D00D5175E1D00D5175E1D00D02";

async fn sim_with_site_tokens(admin: bool) -> RunningSim {
    let mut config = SimConfig::new(Project::demo());
    config.admin = admin;
    config.tokens.push(
        ApiUser::new(SITE, "site_user", Some(edc_sim::HILLVIEW))
            .with_rights(Rights::site_coordinator()),
    );
    config.tokens.push(
        ApiUser::new(UNBOUND_SITE, "unbound_site_user", None)
            .with_rights(Rights::site_coordinator()),
    );
    start_with(config).await
}

fn screening(id: &str) -> Value {
    json!([{"record_id": id, "redcap_event_name": "screening_arm_1", "sex": "1"}])
}

#[tokio::test]
async fn the_log_needs_the_logging_right() {
    let sim = sim_with_site_tokens(false).await;
    let site = Client::new(&sim, SITE);
    let (status, message) = site.error(&[("content", "log")]).await;
    assert_eq!((status, message.as_str()), (400, NO_LOGGING_RIGHT));
    let (status, message) = site
        .error(&[("content", "log"), ("logtype", "record")])
        .await;
    assert_eq!((status, message.as_str()), (400, NO_LOGGING_RIGHT));
    // With the right, the same token reads its group's log.
    let mut rights = Rights::site_coordinator();
    rights.logging = true;
    assert!(sim.set_rights(SITE, rights));
    assert!(site.json(&[("content", "log")]).await.is_array());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_dag_export_needs_the_data_access_groups_right() {
    let sim = sim_with_site_tokens(false).await;
    for token in [SITE, UNBOUND_SITE] {
        let (status, message) = Client::new(&sim, token).error(&[("content", "dag")]).await;
        assert_eq!((status, message.as_str()), (400, NO_DAG_RIGHT), "{token}");
    }
    let groups = Client::new(&sim, DEMO_TOKEN)
        .json(&[("content", "dag")])
        .await;
    assert_eq!(groups.as_array().unwrap().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn export_data_access_groups_needs_the_right_unless_the_user_is_in_a_group() {
    let sim = sim_with_site_tokens(false).await;
    let unbound = Client::new(&sim, UNBOUND_SITE);
    let (status, message) = unbound
        .error(&[
            ("content", "record"),
            ("type", "flat"),
            ("exportDataAccessGroups", "true"),
        ])
        .await;
    assert_eq!((status, message.as_str()), (400, NO_DAG_RIGHT));
    assert!(
        !unbound.export(&[]).await.is_empty(),
        "without the flag it exports"
    );
    // A user in a group has the flag ignored, right or not.
    let rows = Client::new(&sim, SITE)
        .export(&[("exportDataAccessGroups", "true")])
        .await;
    assert_eq!(rows.len(), 7);
    assert!(rows[0].get("redcap_data_access_group").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn every_read_needs_the_api_export_right() {
    let sim = sim_with_site_tokens(false).await;
    let mut rights = Rights::site_coordinator();
    rights.export = false;
    sim.set_rights(SITE, rights);
    let site = Client::new(&sim, SITE);
    for call in [
        "version",
        "project",
        "metadata",
        "record",
        "log",
        "dag",
        "generateNextRecordName",
    ] {
        let (status, message) = site.error(&[("content", call)]).await;
        assert_eq!((status, message.as_str()), (403, NO_EXPORT_RIGHT), "{call}");
    }
    // Import is a right of its own.
    assert_eq!(site.import(screening("3-IMPORT-ONLY"), &[]).await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_write_needs_the_api_import_right_and_nothing_changes() {
    let sim = sim_with_site_tokens(false).await;
    let mut rights = Rights::site_coordinator();
    rights.import = false;
    sim.set_rights(SITE, rights);
    let site = Client::new(&sim, SITE);
    let before = site.export(&[]).await;
    let (status, body) = site.import(screening("3-NO-IMPORT"), &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_of(&body), NO_IMPORT_RIGHT);
    let (status, message) = site
        .error(&[
            ("content", "record"),
            ("action", "delete"),
            ("records[0]", "3-0001"),
        ])
        .await;
    assert_eq!((status, message.as_str()), (403, NO_IMPORT_RIGHT));
    assert_eq!(site.export(&[]).await, before, "nothing was written");
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_needs_the_delete_records_right_and_nothing_changes() {
    let sim = sim_with_site_tokens(false).await;
    let site = Client::new(&sim, SITE);
    let before = site.export(&[]).await;
    let id = before[0]["record_id"].as_str().unwrap().to_owned();
    let (status, message) = site
        .error(&[
            ("content", "record"),
            ("action", "delete"),
            ("records[0]", &id),
        ])
        .await;
    assert_eq!((status, message.as_str()), (400, NO_DELETE_RIGHT));
    assert_eq!(site.export(&[]).await, before, "nothing was deleted");
    // The demo's coordinators keep every right but design.
    let hillview = Client::new(&sim, DEMO_TOKEN_HILLVIEW);
    assert_eq!(
        hillview
            .json(&[
                ("content", "record"),
                ("action", "delete"),
                ("records[0]", &id)
            ])
            .await,
        json!(1)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_admin_endpoint_changes_a_tokens_rights() {
    let sim = sim_with_site_tokens(true).await;
    let http = crate::common::http();
    let url = format!("{}admin/rights", sim.base_url());
    let site = Client::new(&sim, SITE);
    assert_eq!(site.error(&[("content", "log")]).await.0, 400);

    let answer = http
        .post(&url)
        .json(&json!({"token": SITE.to_lowercase(), "rights": {"logging": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let user: Value = answer.json().await.unwrap();
    assert_eq!(user["rights"]["logging"], true);
    assert!(site.json(&[("content", "log")]).await.is_array());

    let answer = http
        .post(&url)
        .json(&json!({"token": SITE, "spec": "site,-export"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(site.error(&[("content", "version")]).await.0, 403);

    for (body, status) in [
        (json!({"token": SITE, "spec": "site,root"}), 400),
        (json!({"spec": "site"}), 400),
        (
            json!({"token": "00000000000000000000000000000000", "spec": "site"}),
            404,
        ),
    ] {
        let answer = http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), status, "{body}");
    }
    let users: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    let mine = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["token"] == SITE)
        .unwrap();
    assert_eq!(mine["rights"]["export"], false);
    sim.shutdown().await;
}

/// A classic project (`common::classic_project`: record 1 with name and
/// dob marked identifiers, a free-text comment, a visits form with a
/// date) and one token with `words` as its rights.
async fn classic_with(words: &str) -> (RunningSim, Client) {
    let mut config = SimConfig::new(classic_project());
    config.admin = true;
    config
        .tokens
        .push(ApiUser::parse_spec(&format!("{SITE}:crc::{words}")).unwrap());
    let sim = start_with(config).await;
    let c = Client::new(&sim, SITE);
    (sim, c)
}

fn keys(row: &Value) -> Vec<&str> {
    row.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn a_deidentified_export_leaves_out_identifiers_and_free_text_and_shifts_dates() {
    let (sim, c) = classic_with("export=deidentified").await;
    let rows = c.export(&[]).await;
    for row in &rows {
        for gone in ["name", "dob", "comment"] {
            assert!(row.get(gone).is_none(), "{gone} in {row}");
        }
        for kept in [
            "record_id",
            "weight",
            "symptoms___1",
            "visit_date",
            "sbp",
            "enrolment_complete",
        ] {
            assert!(row.get(kept).is_some(), "{kept} not in {row}");
        }
    }
    let shift = date_shift_days("1");
    assert!((0..365).contains(&shift));
    let expected = (NaiveDate::from_ymd_opt(2024, 1, 5).unwrap() - chrono::TimeDelta::days(shift))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(rows[1]["visit_date"], expected.as_str());
    assert_eq!(rows[1]["sbp"], "120");
    // The same record moves by the same days every time.
    assert_eq!(c.export(&[]).await, rows);
    sim.shutdown().await;
}

#[tokio::test]
async fn removing_identifiers_leaves_out_the_identifier_fields_only() {
    let (sim, c) = classic_with("export=no-identifiers").await;
    let rows = c.export(&[]).await;
    assert!(rows[0].get("name").is_none() && rows[0].get("dob").is_none());
    assert_eq!(rows[0]["weight"], "61.5");
    assert!(rows[0].get("comment").is_some());
    assert_eq!(rows[1]["visit_date"], "2024-01-05");
    sim.shutdown().await;
}

#[tokio::test]
async fn no_data_export_right_refuses_the_export_and_per_form_rights_drop_forms() {
    let (sim, c) = classic_with("export=none").await;
    let (status, message) = c.error(&[("content", "record"), ("type", "flat")]).await;
    assert_eq!((status, message.as_str()), (403, NO_DATA_EXPORT_RIGHT));
    // Metadata is no data export.
    assert!(c.json(&[("content", "metadata")]).await.is_array());
    let mut rights = Rights::default();
    rights
        .data_export_forms
        .insert("visits".into(), DataExport::None);
    sim.set_rights(SITE, rights);
    let rows = c.export(&[]).await;
    assert_eq!(rows[0]["name"], "Ada");
    for row in &rows {
        assert!(
            !keys(row)
                .iter()
                .any(|k| ["visit_date", "sbp", "visits_complete"].contains(k)),
            "{row}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_form_without_access_is_not_exported_and_a_view_only_form_not_imported() {
    let (sim, c) = classic_with("form:visits=none").await;
    let rows = c.export(&[]).await;
    assert!(
        rows.iter()
            .all(|r| r.get("sbp").is_none() && r.get("visits_complete").is_none())
    );
    assert_eq!(rows[0]["name"], "Ada");

    for words in ["form:visits=none", "form:visits=view"] {
        sim.set_rights(SITE, Rights::parse_words(words).unwrap());
        let before = Client::new(&sim, DEMO_TOKEN).export(&[]).await;
        let (status, body) = c
            .import_text(
                r#"[{"record_id":"1","redcap_repeat_instrument":"visits","redcap_repeat_instance":"1","sbp":"130"},
                    {"record_id":"1","weight":"62.0"}]"#,
                &[],
            )
            .await;
        assert_eq!(status, 400, "{words}: {body}");
        let message = error_of(&body);
        assert_eq!(
            message,
            format!(r#""1","sbp","130","{NO_FORM_EDIT_RIGHT}""#),
            "{words}"
        );
        assert_eq!(
            Client::new(&sim, DEMO_TOKEN).export(&[]).await,
            before,
            "nothing changed"
        );
    }
    // View only is still exported, and the other forms are imported.
    assert_eq!(c.export(&[]).await[1]["sbp"], "120");
    c.import_ok(json!([{"record_id": "1", "weight": "62.0"}]), &[])
        .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn creating_a_record_needs_the_create_records_right() {
    let (sim, c) = classic_with("site,-create").await;
    let (status, body) = c
        .import(
            json!([{"record_id": "2", "weight": "70.0"}, {"record_id": "1", "weight": "63.0"}]),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = error_of(&body);
    assert_eq!(
        message,
        format!(r#""2","record_id","2","{NO_CREATE_RIGHT}""#)
    );
    let rows = c.export(&[]).await;
    assert!(
        rows.iter().all(|r| r["record_id"] == "1"),
        "no record was made"
    );
    assert_eq!(rows[0]["weight"], "61.5", "nothing of the call was written");
    // An existing record may be changed; autonumbering creates, so no.
    c.import_ok(json!([{"record_id": "1", "weight": "63.0"}]), &[])
        .await;
    let (status, _) = c
        .import(
            json!([{"record_id": "x", "weight": "70.0"}]),
            &[("forceAutoNumber", "true")],
        )
        .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_locked_form_refuses_the_values_sent_for_it() {
    let (sim, c) = classic_with("").await;
    sim.lock_form("1", None, "visits").await.unwrap();
    let visit = r#"[{"record_id":"1","redcap_repeat_instrument":"visits","redcap_repeat_instance":"1","sbp":"130"}]"#;
    let before = c.export(&[]).await;
    let (status, body) = c.import_text(visit, &[]).await;
    assert_eq!(status, 400, "{body}");
    let message = error_of(&body);
    assert_eq!(message, format!(r#""1","sbp","130","{LOCKED_FORM}""#));
    assert_eq!(c.export(&[]).await, before, "nothing changed");
    // Other forms of the record are not locked.
    c.import_ok(json!([{"record_id": "1", "weight": "64.0"}]), &[])
        .await;

    // The admin endpoint unlocks (and locks).
    let http = crate::common::http();
    let url = format!("{}admin/lock", sim.base_url());
    let answer = http
        .post(&url)
        .json(&json!({"record": "1", "form": "visits", "locked": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(c.import_text(visit, &[]).await.0, 200);
    let answer = http
        .post(&url)
        .json(&json!({"record": "1", "form": "enrolment"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(
        c.import(json!([{"record_id": "1", "weight": "65.0"}]), &[])
            .await
            .0,
        400
    );
    let answer = http
        .post(&url)
        .json(&json!({"record": "1", "form": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(matches!(
        sim.lock_form("1", Some("baseline_arm_1"), "visits").await,
        Err(edc_sim::LockError::UnknownEvent(_))
    ));
    sim.shutdown().await;
}
