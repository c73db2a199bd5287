//! What a token without a right is refused, in REDCap's status and words,
//! and that a refused call changes nothing: the API Export and Import
//! rights, Logging, Data Access Groups, Delete Records, and rights changed
//! while the server runs.

use edc_sim::{
    ApiUser, DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, NO_DAG_RIGHT, NO_DELETE_RIGHT, NO_EXPORT_RIGHT,
    NO_IMPORT_RIGHT, NO_LOGGING_RIGHT, Project, Rights, RunningSim, SimConfig,
};
use serde_json::{Value, json};

use crate::common::{Client, start_with};

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
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        NO_IMPORT_RIGHT
    );
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
