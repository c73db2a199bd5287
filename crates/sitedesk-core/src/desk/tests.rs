use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use super::*;
use crate::instance::InstanceError;
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

/// Issue 15: one process per data folder. A second desk on a folder that
/// is open is refused with the typed error, the first keeps committing,
/// and the folder opens again once the first has shut down.
#[tokio::test]
async fn a_second_desk_on_an_open_folder_is_refused_until_the_first_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let first = Desk::open(DeskOptions::new(dir.path(), "crc"))
        .await
        .unwrap();
    let refused = Desk::open(DeskOptions::new(dir.path(), "crc2")).await;
    match refused {
        Err(DeskError::Instance(InstanceError::AlreadyOpen { path })) => {
            assert_eq!(path, dir.path());
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a second desk opened the same folder"),
    }
    let rows = audit_rows(&first).await;
    first
        .store()
        .writer()
        .set_preferences(first.actor(), "Dana Lee".into(), Lang::EN)
        .await
        .expect("the first desk still writes");
    assert!(audit_rows(&first).await > rows, "and its write committed");
    first.shutdown().await;

    let again = Desk::open(DeskOptions::new(dir.path(), "crc2"))
        .await
        .expect("free once the first has shut down");
    assert_eq!(again.prefs().display_name, "Dana Lee");
    again.shutdown().await;
}

/// Two first starts on a new folder at once (two threads, each with its
/// own runtime, through a barrier): exactly one opens the desk, the other
/// is told the folder is open, and the file the winner made is migrated,
/// set up once and verifies.
#[test]
fn two_first_starts_racing_on_a_new_folder_open_one_desk() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new desk");
    let (start, tried) = (Barrier::new(2), Barrier::new(2));
    let results: Vec<Result<(), DeskError>> = std::thread::scope(|s| {
        let racers: Vec<_> = ["crc1", "crc2"]
            .into_iter()
            .map(|account| {
                let (folder, start, tried) = (&folder, &start, &tried);
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        start.wait();
                        let opened = Desk::open(DeskOptions::new(folder, account)).await;
                        // The winner holds the folder until both have tried.
                        tried.wait();
                        opened?.shutdown().await;
                        Ok(())
                    })
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(
        results.iter().any(|r| matches!(
            r,
            Err(DeskError::Instance(InstanceError::AlreadyOpen { .. }))
        )),
        "{results:?}"
    );
    let db = folder.join(DB_FILE);
    let chain = crate::store::verify_audit_file(&db, None).unwrap();
    assert_eq!(chain.broken, None);
    assert!(chain.rows_checked > 0, "the demo study was set up");
    let c = rusqlite::Connection::open(&db).unwrap();
    let version: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, crate::store::SCHEMA_VERSION);
    let studies: u32 = c
        .query_row("SELECT count(*) FROM study", [], |r| r.get(0))
        .unwrap();
    assert_eq!(studies, 1);
}

/// The data folder is its user's only and so is every file in it, with
/// the test's own umask (022): the modes are set, not inherited. A folder
/// left open to others by an earlier version is tightened.
#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_is_700_and_the_database_with_its_wal_600() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("desk");
    std::fs::create_dir(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let desk = Desk::open(DeskOptions::new(&folder, "crc")).await.unwrap();
    desk.store()
        .writer()
        .set_preferences(desk.actor(), "Dana Lee".into(), Lang::EN)
        .await
        .unwrap();
    assert_eq!(mode(&folder), 0o700);
    for file in [
        DB_FILE,
        "sitedesk.sqlite3-wal",
        "sitedesk.sqlite3-shm",
        crate::instance::LOCK_FILE,
    ] {
        assert_eq!(mode(&folder.join(file)), 0o600, "{file}");
    }
    desk.shutdown().await;
}
