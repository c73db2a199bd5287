use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::store::StoreError;

#[tokio::test]
async fn a_new_desk_opens_in_demo_mode_and_shuts_down_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let published = Arc::new(AtomicUsize::new(0));
    let seen = published.clone();
    let desk = Desk::open(DeskOptions {
        background: true,
        publish: Some(Box::new(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        })),
        ..DeskOptions::new(dir.path().join("new folder"), "crc")
    })
    .await
    .unwrap();
    assert!(desk.is_demo(), "nothing configured: the demo study");
    assert!(desk.forms().await.unwrap().is_some(), "with its forms");
    assert!(
        desk.edc_target().is_none(),
        "no demo EDC was given, so there is none"
    );
    let live = |name: &str| {
        desk.registry()
            .snapshot()
            .into_iter()
            .any(|t| t.name == name && !t.state.is_finished())
    };
    assert!(live("SQLite writer") && live("Sync scheduler") && live("Diagnostics sampler"));

    desk.shutdown().await;
    assert_eq!(desk.registry().live_count(), 0, "every task ended");
    assert!(desk.tracker().is_empty());
    assert!(matches!(
        desk.store()
            .writer()
            .set_preferences(desk.actor(), "x".into(), Lang::EN)
            .await,
        Err(StoreError::WriterClosed)
    ));
}

async fn audit_rows(desk: &Desk) -> u64 {
    desk.store()
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap()
        .rows_checked
}

#[tokio::test]
async fn a_reopened_desk_keeps_its_study_and_is_not_set_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let setup = desk.store().readers().setup().await.unwrap().unwrap();
    let audit_rows_before = audit_rows(&desk).await;
    desk.shutdown().await;
    drop(desk);

    let desk = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let again = desk.store().readers().setup().await.unwrap().unwrap();
    assert_eq!(again.desk_code, setup.desk_code);
    assert_eq!(
        audit_rows(&desk).await,
        audit_rows_before,
        "opening again writes nothing"
    );
    desk.shutdown().await;
}

#[tokio::test]
async fn a_plain_desk_opened_with_a_key_is_encrypted_and_keeps_its_study() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let setup = desk.store().readers().setup().await.unwrap().unwrap();
    let audit_rows_before = audit_rows(&desk).await;
    desk.shutdown().await;
    drop(desk);
    let db = dir.path().join(DB_FILE);
    assert!(!is_encrypted(&db).unwrap());

    let key = DataKey::generate().unwrap();
    let keyed = || DeskOptions {
        key: Some(key.clone()),
        ..DeskOptions::new(dir.path(), "crc")
    };
    let desk = Desk::open(keyed()).await.unwrap();
    assert!(is_encrypted(&db).unwrap());
    let again = desk.store().readers().setup().await.unwrap().unwrap();
    assert_eq!(again, setup);
    assert_eq!(audit_rows(&desk).await, audit_rows_before);
    desk.shutdown().await;
    drop(desk);

    // Encrypted from now on: it opens with the key again, and not without.
    Desk::open(keyed()).await.unwrap().shutdown().await;
    let locked = Desk::open(DeskOptions::new(dir.path(), "crc")).await.err();
    assert!(
        matches!(locked, Some(DeskError::Store(StoreError::Locked { .. }))),
        "{locked:?}"
    );
}

#[tokio::test]
async fn the_forms_are_parsed_once_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let first = desk.forms().await.unwrap().unwrap();
    let second = desk.forms().await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &second), "the same version: kept");

    let (mut dictionary, design) = crate::forms::demo_forms();
    dictionary.fields[1].label = "Another label".into();
    desk.store()
        .writer()
        .import_dictionary(desk.actor(), dictionary, Some(design), "v2".into())
        .await
        .unwrap();
    let third = desk.forms().await.unwrap().unwrap();
    assert!(!Arc::ptr_eq(&first, &third), "a new version: parsed again");
    assert_ne!(first.stored.hash, third.stored.hash);
    desk.shutdown().await;
}

#[tokio::test]
async fn a_project_file_with_surveys_imports_as_from_settings() {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let (dictionary, design) =
        crate::metadata::parse_odm(include_str!("../metadata/survey_project.xml")).unwrap();
    desk.store()
        .writer()
        .import_dictionary(desk.actor(), dictionary, Some(design), "project.xml".into())
        .await
        .unwrap();
    let forms = desk.forms().await.unwrap().unwrap();
    let survey: Vec<&str> = forms
        .stored
        .dictionary
        .fields
        .iter()
        .filter(|f| f.form == "quality_of_life")
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(survey, ["qol_mobility", "qol_score", "qol_interviewer"]);
    desk.shutdown().await;
}
