use std::collections::BTreeMap;

use chrono::Local;
use rusqlite::Connection;

use super::migrations::{MIGRATIONS, migrate_to};
use super::*;
use crate::domain::{
    Action, Actor, Answer, CriterionKind, DomainError, ScreeningInput, SubjectStatus, demo_study,
};
use crate::i18n::Lang;
use crate::tasks::{TaskKind, TaskState};
use tokio_util::sync::CancellationToken;

pub(super) fn actor() -> Actor {
    Actor {
        account: "crc1".into(),
        display_name: "Dana Lee".into(),
        login: None,
    }
}

fn today() -> String {
    Local::now().date_naive().to_string()
}

pub(super) fn eligible_input(label: &str) -> ScreeningInput {
    let eligibility: BTreeMap<String, Answer> = demo_criteria()
        .into_iter()
        .map(|c| {
            (
                c.id,
                if c.kind == CriterionKind::Inclusion {
                    Answer::Yes
                } else {
                    Answer::No
                },
            )
        })
        .collect();
    ScreeningInput {
        screening_date: today(),
        label: label.into(),
        consent_date: Some(today()),
        consent_version: Some("v1.0".into()),
        eligibility,
    }
}

/// The demo's eligibility checklist: its screening instrument's.
fn demo_criteria() -> Vec<crate::domain::Criterion> {
    let (d, design) = crate::forms::demo_forms();
    InstrumentInForce::of(&d, &design).unwrap().criteria()
}

fn reason(code: &str) -> crate::domain::Reason {
    crate::domain::Reason {
        code: code.into(),
        other: None,
    }
}

async fn open_demo(dir: &tempfile::TempDir) -> (Store, TaskRegistry) {
    let registry = TaskRegistry::new();
    let options = StoreOptions {
        desk_code: DeskCode::parse("K7Q"),
        ..StoreOptions::default()
    };
    let store = Store::open(&dir.path().join("desk.sqlite3"), options, &registry).unwrap();
    let (study, sites) = demo_study();
    store
        .writer()
        .configure_study(actor(), study, sites, "s01".into())
        .await
        .unwrap();
    let (dictionary, design) = crate::forms::demo_forms();
    store
        .writer()
        .import_dictionary(actor(), dictionary, Some(design), "demo".into())
        .await
        .unwrap();
    (store, registry)
}

/// Counts rows with a plain connection, outside the store, as an inspector would.
fn count(store: &Store, sql: &str) -> i64 {
    let c = Connection::open(store.path()).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn a_reply_means_the_row_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let s = store
        .writer()
        .screen_subject(actor(), eligible_input("AB"))
        .await
        .unwrap();
    // A fresh connection sees only committed data.
    let c = Connection::open(store.path()).unwrap();
    let status: String = c
        .query_row("SELECT status FROM subject WHERE id = ?1", [&s.id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "screening");
    assert_eq!(s.id, "S01-K7Q-0001");
}

#[tokio::test]
async fn the_file_is_wal_with_full_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let c = Connection::open(store.path()).unwrap();
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    store.close().await;
    // synchronous and foreign_keys are per connection: check them on a
    // connection from the one function that opens the writer's.
    let w = super::open_writable(&dir.path().join("desk.sqlite3"), None).unwrap();
    let pragma = |name: &str| -> i64 { w.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    assert_eq!(
        pragma("synchronous"),
        2,
        "synchronous=FULL: a commit is on disk before the reply"
    );
    assert_eq!(pragma("foreign_keys"), 1);
}

#[tokio::test]
async fn every_change_has_its_audit_and_outbox_row() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let s = w
        .screen_subject(actor(), eligible_input("AB"))
        .await
        .unwrap();
    let enrolled = w
        .apply_action(
            actor(),
            s.id.clone(),
            Action::Enroll {
                enrollment_date: Local::now().date_naive(),
            },
        )
        .await
        .unwrap();
    assert_eq!(enrolled.status, SubjectStatus::Enrolled);
    let trail = store.readers().subject_audit(s.id.clone()).await.unwrap();
    // The screening instrument's cells: status, screening date, initials,
    // consent date and version, 5 criteria; then status and enrollment date.
    assert_eq!(trail.len(), 10 + 2);
    let last = &trail[trail.len() - 2];
    assert_eq!(
        (
            last.field.as_str(),
            last.old_value.as_deref(),
            last.new_value.as_deref()
        ),
        ("scr_status", Some("1"), Some("3"))
    );
    assert_eq!(
        (last.user_account.as_str(), last.user_name.as_str()),
        ("crc1", "Dana Lee")
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM outbox WHERE entity = 'record'"
        ),
        12
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM audit a JOIN outbox o ON o.audit_id = a.id WHERE a.entity = 'record'"
        ),
        12
    );
}

#[tokio::test]
async fn the_audit_trail_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    store
        .writer()
        .screen_subject(actor(), eligible_input("AB"))
        .await
        .unwrap();
    let c = Connection::open(store.path()).unwrap();
    let e = c
        .execute("UPDATE audit SET new_value = 'x'", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM audit", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

#[tokio::test]
async fn a_failing_command_does_not_affect_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let e = w
        .apply_action(
            actor(),
            "S01-K7Q-0404".into(),
            Action::ScreenFail {
                date: Local::now().date_naive(),
                reason: reason("1"),
            },
        )
        .await;
    assert!(matches!(e, Err(StoreError::NotFound { .. })), "{e:?}");
    let e = w
        .screen_subject(
            actor(),
            ScreeningInput {
                label: "John Smith".into(),
                ..eligible_input("")
            },
        )
        .await;
    assert!(
        matches!(e, Err(StoreError::Domain(DomainError::TooLong { .. }))),
        "{e:?}"
    );
    let s = w
        .screen_subject(actor(), eligible_input("CD"))
        .await
        .unwrap();
    assert_eq!(
        s.id, "S01-K7Q-0001",
        "refused commands consume no sequence number"
    );
    assert_eq!(w.stats().failed_commands, 2);
}

#[tokio::test]
async fn a_failure_midway_rolls_back_the_whole_command() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let s = w
        .screen_subject(actor(), eligible_input("AB"))
        .await
        .unwrap();
    // Make the last statement of the command (the outbox insert) fail, after
    // the subject row and the audit row have been written.
    Connection::open(store.path())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER outbox_fail BEFORE INSERT ON outbox WHEN NEW.field = 'scr_status_reason'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let before_audit = count(&store, "SELECT count(*) FROM audit");
    let e = w
        .apply_action(
            actor(),
            s.id.clone(),
            Action::ScreenFail {
                date: Local::now().date_naive(),
                reason: reason("1"),
            },
        )
        .await;
    assert!(matches!(e, Err(StoreError::Sqlite(_))), "{e:?}");
    let after = store.readers().subject(s.id.clone()).await.unwrap();
    assert_eq!(
        after.status,
        SubjectStatus::Screening,
        "status change rolled back"
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM audit"),
        before_audit,
        "audit rows rolled back"
    );
}

#[tokio::test]
async fn a_closed_writer_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (store, registry) = open_demo(&dir).await;
    let queued = store.writer().screen_subject(actor(), eligible_input("AB"));
    let (first, ()) = tokio::join!(queued, store.close());
    assert!(
        first.is_ok(),
        "a command queued before close is still applied"
    );
    let e = store
        .writer()
        .screen_subject(actor(), eligible_input("CD"))
        .await;
    assert!(matches!(e, Err(StoreError::WriterClosed)), "{e:?}");
    store.close().await;
    let writer = registry
        .snapshot()
        .into_iter()
        .find(|t| t.kind == TaskKind::Writer)
        .unwrap();
    assert_eq!(writer.state, TaskState::Done);
}

#[tokio::test]
async fn the_writer_registers_and_reports_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (store, registry) = open_demo(&dir).await;
    let writer = registry
        .snapshot()
        .into_iter()
        .find(|t| t.kind == TaskKind::Writer)
        .unwrap();
    assert_eq!(
        (writer.name.as_str(), writer.state),
        ("SQLite writer", TaskState::Running)
    );
    let stats = store.writer().stats();
    assert_eq!(
        (
            stats.interactive.queue_depth,
            stats.interactive.queue_capacity,
            stats.commits
        ),
        // The study's set-up and its forms.
        (0, 256, 2)
    );
}

#[tokio::test]
async fn preferences_are_saved_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    store
        .writer()
        .set_preferences(actor(), "  Dana Lee ".into(), zh())
        .await
        .unwrap();
    let s = store.readers().settings().await.unwrap();
    assert_eq!((s.display_name.as_str(), s.language), ("Dana Lee", zh()));
    let e = store
        .writer()
        .set_preferences(actor(), "x".repeat(81), Lang::EN)
        .await;
    assert!(matches!(
        e,
        Err(StoreError::Domain(DomainError::TooLong { .. }))
    ));
    assert_eq!(
        store.readers().settings().await.unwrap().language,
        zh(),
        "refused edit changed nothing"
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM audit WHERE entity = 'settings'"
        ),
        2
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM outbox WHERE entity = 'settings'"
        ),
        0
    );
}

#[tokio::test]
async fn the_desk_code_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("desk.sqlite3");
    let registry = TaskRegistry::new();
    let first = Store::open(&path, StoreOptions::default(), &registry).unwrap();
    let code = first.readers().desk().await.unwrap().desk_code;
    first.close().await;
    let options = StoreOptions {
        desk_code: DeskCode::parse("ZZZ"),
        ..StoreOptions::default()
    };
    let again = Store::open(&path, options, &registry).unwrap();
    assert_eq!(again.readers().desk().await.unwrap().desk_code, code);
    again.close().await;
}

#[tokio::test]
async fn subjects_are_listed_filtered_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    for label in ["AA", "AB", "CD"] {
        w.screen_subject(actor(), eligible_input(label))
            .await
            .unwrap();
    }
    w.apply_action(
        actor(),
        "S01-K7Q-0002".into(),
        Action::ScreenFail {
            date: Local::now().date_naive(),
            reason: reason("1"),
        },
    )
    .await
    .unwrap();
    let r = store.readers();
    let all = r.subjects(SubjectFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["S01-K7Q-0003", "S01-K7Q-0002", "S01-K7Q-0001"]
    );
    let a = r
        .subjects(SubjectFilter {
            search: Some("a".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a.len(), 2);
    let percent = r
        .subjects(SubjectFilter {
            search: Some("%".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        percent.is_empty(),
        "LIKE wildcards in the search are literal"
    );
    let failed = r
        .subjects(SubjectFilter {
            status: Some(SubjectStatus::ScreenFailed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed[0].label, "AB");
    let other_site = r
        .subjects(SubjectFilter {
            site_id: Some("s02".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(other_site.is_empty());
    let counts = r.status_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![
            StatusCount {
                site_id: "s01".into(),
                status: SubjectStatus::ScreenFailed,
                count: 1
            },
            StatusCount {
                site_id: "s01".into(),
                status: SubjectStatus::Screening,
                count: 2
            },
        ]
    );
}

#[test]
fn migrations_apply_from_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Connection::open(dir.path().join("a.sqlite3")).unwrap();
    assert_eq!(migrate_to(&mut c, SCHEMA_VERSION).unwrap(), 0);
    let v: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert_eq!(
        migrate_to(&mut c, SCHEMA_VERSION).unwrap(),
        SCHEMA_VERSION,
        "a second run is a no-op"
    );
}

/// Two processes migrating a new file at once (here two threads, each
/// with its own connection, through a barrier): each step is applied once,
/// and both end at the current version. With deferred transactions both
/// read version 0 and the second failed on a table the first had made.
/// (The connections open one after the other: switching a new file to WAL
/// is not what is raced here; the data folder's lock keeps two apps from
/// doing even that.)
#[test]
fn two_first_starts_racing_migrate_the_file_once() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.sqlite3");
        let barrier = std::sync::Barrier::new(2);
        let conns = [
            open_writable(&path, None).unwrap(),
            open_writable(&path, None).unwrap(),
        ];
        let found: Vec<u32> = std::thread::scope(|s| {
            let racers: Vec<_> = conns
                .into_iter()
                .map(|mut c| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        migrate_to(&mut c, SCHEMA_VERSION).unwrap()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert!(found.iter().all(|v| *v <= SCHEMA_VERSION), "{found:?}");
        let c = Connection::open(&path).unwrap();
        let v: u32 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }
}

/// Rows that each schema version can hold, written at that version before
/// upgrading, so an upgrade is checked against real data.
fn seed_at(version: u32, c: &Connection) {
    if version >= 1 {
        c.execute_batch(
            "INSERT INTO meta VALUES ('desk_code', 'K7Q'), ('desk_site_id', 's01');
             INSERT INTO study VALUES ('DEMO-01', 'Demo', 40);
             INSERT INTO site VALUES ('s01', 'DEMO-01', 'S01', 'Riverside');
             INSERT INTO subject(id, site_id, status, screening_date, label, created_at, updated_at)
               VALUES ('S01-K7Q-0001', 's01', 'screening', '2026-01-05', 'AB',
                       '2026-01-05T09:00:00.000Z', '2026-01-05T09:00:00.000Z');
             INSERT INTO audit(at, user_account, user_name, entity, entity_id, field, new_value)
               VALUES ('2026-01-05T09:00:00.000Z', 'crc1', '', 'subject', 'S01-K7Q-0001', 'status', 'screening');",
        )
        .unwrap();
    }
    if version >= 2 {
        // Written by version 2 or later: chained as the writer chains.
        let mut c = Connection::open(c.path().unwrap()).unwrap();
        let tx = c.transaction().unwrap();
        super::chain::chain_unhashed_rows(&tx).unwrap();
        tx.commit().unwrap();
    }
}

#[tokio::test]
async fn migrations_upgrade_every_earlier_version_keeping_its_data() {
    for from in 0..=SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            let mut c = Connection::open(&path).unwrap();
            migrate_to(&mut c, from).unwrap();
            seed_at(from, &c);
        }
        let registry = TaskRegistry::new();
        let store = Store::open(&path, StoreOptions::default(), &registry).unwrap();
        assert_eq!(
            store.readers().desk().await.unwrap().schema_version,
            SCHEMA_VERSION
        );
        if from >= 1 {
            let s = store
                .readers()
                .subject("S01-K7Q-0001".into())
                .await
                .unwrap();
            assert_eq!(
                s.screening.label, "AB",
                "data written at version {from} survives"
            );
            let input = ScreeningInput {
                eligibility: BTreeMap::new(),
                ..eligible_input("CD")
            };
            let next = store.writer().screen_subject(actor(), input).await.unwrap();
            assert_eq!(
                next.id, "S01-K7Q-0002",
                "the sequence continues after existing ids (from {from})"
            );
            let check = store
                .readers()
                .verify_audit(CancellationToken::new())
                .await
                .unwrap();
            // The seeded row; before version 6, the three cells migration 6
            // moved the seeded log into; the new subject's five cells.
            let moved = if from < 6 { 3 } else { 0 };
            assert_eq!(
                (check.broken, check.rows_checked),
                (None, 1 + moved + 5),
                "rows from version {from} are chained, new ones follow them"
            );
        }
        store.close().await;
    }
    assert_eq!(MIGRATIONS.len() as u32, SCHEMA_VERSION);
}

/// A demo desk as version 5 left it: the demo study with its criteria
/// `I1`..`E2`, the demo forms in force, a subject enrolled, another screen
/// failed, and their screening log in the outbox as subject fields.
fn seed_version_5_demo(path: &std::path::Path) {
    let mut c = Connection::open(path).unwrap();
    migrate_to(&mut c, 5).unwrap();
    let (dictionary, design) = crate::forms::demo_forms();
    c.execute_batch(
        "INSERT INTO meta VALUES ('desk_code', 'K7Q'), ('desk_site_id', 's01');
         INSERT INTO study VALUES ('DEMO-01', 'Demo', 40);
         INSERT INTO site VALUES ('s01', 'DEMO-01', 'S01', 'Riverside');
         INSERT INTO criterion VALUES ('DEMO-01', 'I1', 'inclusion', 'Age', 0),
             ('DEMO-01', 'I2', 'inclusion', 'T2D', 1), ('DEMO-01', 'E1', 'exclusion', 'Pregnant', 2);
         INSERT INTO subject VALUES ('S01-K7Q-0001', 's01', 'enrolled', '2026-01-05', 'AB',
             '2026-01-05', 'v1.0', '2026-01-06', NULL, NULL, NULL, NULL,
             '2026-01-05T09:00:00.000Z', '2026-01-06T09:00:00.000Z');
         INSERT INTO subject VALUES ('S01-K7Q-0002', 's01', 'screen_failed', '2026-01-05', 'CD',
             NULL, NULL, NULL, 'HbA1c too high', NULL, NULL, NULL,
             '2026-01-05T09:00:00.000Z', '2026-01-05T10:00:00.000Z');
         INSERT INTO subject_eligibility VALUES ('S01-K7Q-0001', 'I1', 'yes'),
             ('S01-K7Q-0001', 'I2', 'yes'), ('S01-K7Q-0001', 'E1', 'no');
         INSERT INTO subject_sequence VALUES ('s01', 3);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO dictionary_version(hash, source, imported_at, imported_by, body, design)
         VALUES ('h', 'SiteDesk demo study', '2026-01-05T09:00:00.000Z', 'crc1', ?1, ?2)",
        rusqlite::params![
            serde_json::to_string(&dictionary).unwrap(),
            serde_json::to_string(&design).unwrap()
        ],
    )
    .unwrap();
    c.execute(
        "INSERT INTO meta VALUES ('dictionary_version', (SELECT id FROM dictionary_version))",
        [],
    )
    .unwrap();
    let fields = [
        ("S01-K7Q-0001", "status", "screening"),
        ("S01-K7Q-0001", "label", "AB"),
        ("S01-K7Q-0001", "eligibility.I1", "yes"),
        ("S01-K7Q-0001", "status", "enrolled"),
        ("S01-K7Q-0002", "status", "screening"),
        ("S01-K7Q-0002", "screen_fail_reason", "HbA1c too high"),
    ];
    for (id, field, value) in fields {
        c.execute(
            "INSERT INTO audit(at, user_account, user_name, entity, entity_id, field, new_value)
             VALUES ('2026-01-05T09:00:00.000Z', 'crc1', '', 'subject', ?1, ?2, ?3)",
            rusqlite::params![id, field, value],
        )
        .unwrap();
        c.execute(
            "INSERT INTO outbox(audit_id, entity, entity_id, field, value, created_at)
             VALUES (last_insert_rowid(), 'subject', ?1, ?2, ?3, '2026-01-05T09:00:00.000Z')",
            rusqlite::params![id, field, value],
        )
        .unwrap();
    }
    let tx = c.transaction().unwrap();
    super::chain::chain_unhashed_rows(&tx).unwrap();
    tx.commit().unwrap();
}

#[tokio::test]
async fn migration_6_turns_the_screening_log_and_its_waiting_edits_into_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.sqlite3");
    seed_version_5_demo(&path);
    let store = Store::open(&path, StoreOptions::default(), &TaskRegistry::new()).unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM outbox WHERE entity = 'subject'"
        ),
        0,
        "no subject-field edit is left behind"
    );
    let cells = |id: &str| -> BTreeMap<String, String> {
        let c = Connection::open(store.path()).unwrap();
        let mut stmt = c
            .prepare(
                "SELECT field, value FROM record_value
                 WHERE record_id = ?1 AND event = 'screening_arm_1' AND instance = 1",
            )
            .unwrap();
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let enrolled = cells("S01-K7Q-0001");
    let expect = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        enrolled,
        expect(&[
            ("scr_status", "3"),
            ("scr_date", "2026-01-05"),
            ("scr_initials", "AB"),
            ("scr_consent_date", "2026-01-05"),
            ("scr_consent_version", "v1.0"),
            ("scr_enrollment_date", "2026-01-06"),
            // The criteria by kind and order: I1, I2 the first two
            // inclusion fields, E1 the first exclusion field.
            ("scr_incl_1", "1"),
            ("scr_incl_2", "1"),
            ("scr_excl_1", "0"),
        ])
    );
    // A free-text reason becomes the "other, specify" text.
    let failed = cells("S01-K7Q-0002");
    assert_eq!(failed.get("scr_status").map(String::as_str), Some("2"));
    assert_eq!(
        failed.get("scr_status_reason").map(String::as_str),
        Some("99")
    );
    assert_eq!(
        failed.get("scr_status_reason_other").map(String::as_str),
        Some("HbA1c too high")
    );
    // Every cell waits in the outbox, tied to an audit row that says why.
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM outbox o JOIN audit a ON a.id = o.audit_id
             WHERE o.entity = 'record' AND a.reason = 'Screening log moved into the screening instrument'"
        ),
        (enrolled.len() + failed.len()) as i64
    );
    let (cells_waiting, records_waiting, _) = store.readers().sync_counts().await.unwrap();
    assert_eq!(
        (cells_waiting as usize, records_waiting),
        (enrolled.len() + failed.len(), 2)
    );
    // The subject rows show the cells.
    let s = store
        .readers()
        .subject("S01-K7Q-0002".into())
        .await
        .unwrap();
    assert_eq!(s.status, SubjectStatus::ScreenFailed);
    assert_eq!(s.status_reason.as_deref(), Some("99"));
    assert_eq!(s.status_reason_other.as_deref(), Some("HbA1c too high"));
    let s = store
        .readers()
        .subject("S01-K7Q-0001".into())
        .await
        .unwrap();
    assert_eq!(s.screening.eligibility.len(), 3);
    assert_eq!(
        s.screening.eligibility.get("scr_incl_1"),
        Some(&Answer::Yes)
    );
    let check = store
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(check.broken, None, "the migration's rows are chained");
    store.close().await;
}

#[test]
fn a_file_from_a_newer_app_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite3");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let e = Store::open(&path, StoreOptions::default(), &TaskRegistry::new())
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::SchemaTooNew { .. }), "{e}");
}

// ---- group commit, lanes, backpressure ----

pub(super) fn edit(record: &str, field: &str, value: &str) -> crate::domain::RecordEdit {
    crate::domain::RecordEdit {
        record_id: record.into(),
        event: "baseline_arm_1".into(),
        instance: 1,
        values: BTreeMap::from([(field.to_owned(), Some(value.to_owned()))]),
        reason: None,
        computed: Vec::new(),
    }
}

async fn open_at(path: &std::path::Path, options: StoreOptions) -> Store {
    Store::open(path, options, &TaskRegistry::new()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_command_inside_a_batch_gets_its_error_while_the_others_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let w = store.writer();
    w.set_values(Lane::Interactive, actor(), edit("r0", "weight", "70"))
        .await
        .unwrap();
    // Queue 300 edits before waiting for any; every 10th changes r0's saved
    // weight without a reason and must fail alone.
    let mut acks = Vec::new();
    for i in 0..300 {
        let e = if i % 10 == 0 {
            edit("r0", "weight", &format!("{}", 71 + i))
        } else {
            edit(&format!("r{i}"), "weight", "80")
        };
        acks.push(w.queue_values(Lane::Bulk, actor(), e).await.unwrap());
    }
    for (i, ack) in acks.into_iter().enumerate() {
        let r = ack.committed().await;
        if i % 10 == 0 {
            assert!(
                matches!(
                    r,
                    Err(StoreError::Domain(DomainError::ValueReasonRequired { .. }))
                ),
                "{i}: {r:?}"
            );
        } else {
            assert_eq!(r.unwrap(), 1, "{i}");
        }
    }
    let stats = w.stats();
    assert!(
        stats.batch_size.max > 1.0,
        "queued edits share transactions: {stats:?}"
    );
    assert!(stats.commits < 300, "{stats:?}");
    assert_eq!(stats.failed_commands, 30);
    let (values, audits, outbox, broken) = store
        .readers()
        .read(|c| {
            let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok((
                n("SELECT count(*) FROM record_value")?,
                n("SELECT count(*) FROM audit WHERE entity = 'record'")?,
                n("SELECT count(*) FROM outbox WHERE entity = 'record'")?,
                n("SELECT count(*) FROM record_value WHERE record_id = 'r0' AND value <> '70'")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((values, audits, outbox, broken), (271, 271, 271, 0));
    let check = store
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(check.broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interactive_edits_go_before_queued_bulk_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let w = store.writer().clone();
    let mut acks = Vec::new();
    for i in 0..1000 {
        acks.push(
            w.queue_values(Lane::Bulk, actor(), edit(&format!("b{i}"), "x", "1"))
                .await
                .unwrap(),
        );
    }
    let waiting = w.stats().bulk.queue_depth;
    w.set_values(Lane::Interactive, actor(), edit("person", "x", "1"))
        .await
        .unwrap();
    for a in acks {
        a.committed().await.unwrap();
    }
    // The audit id is the order of execution: count the bulk edits that
    // ran after the interactive one. In arrival order it would be none.
    let after: i64 = store
        .readers()
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit
                 WHERE entity_id LIKE 'b%'
                   AND id > (SELECT id FROM audit WHERE entity_id = 'person')",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert!(
        waiting > 100,
        "the bulk lane was still full when the edit came: {waiting}"
    );
    assert!(
        after as u32 >= waiting / 2,
        "{after} bulk edits ran after the interactive one, {waiting} were waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_writer_blocks_bulk_producers_instead_of_buffering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.sqlite3");
    let options = StoreOptions {
        bulk_queue_capacity: 8,
        ..StoreOptions::default()
    };
    let store = open_at(&path, options).await;
    // Another process holds the write lock: the writer waits in BEGIN.
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let w = store.writer().clone();
    let (tx, mut queued) = tokio::sync::mpsc::unbounded_channel();
    let producer = tokio::spawn(async move {
        let mut acks = Vec::new();
        for i in 0..100 {
            let ack = w
                .queue_values(Lane::Bulk, actor(), edit(&format!("p{i}"), "x", "1"))
                .await
                .unwrap();
            acks.push(ack);
            let _ = tx.send(i);
        }
        for a in acks {
            a.committed().await.unwrap();
        }
    });
    // Wait until the producer stops making progress: it must stop after the
    // lane's capacity (plus the one command the writer holds), not at 100.
    let mut count = 0;
    while tokio::time::timeout(std::time::Duration::from_millis(300), queued.recv())
        .await
        .is_ok_and(|v| v.is_some())
    {
        count += 1;
    }
    assert!(
        (8..=9).contains(&count),
        "{count} edits were queued behind a stalled writer"
    );
    assert_eq!(store.writer().stats().bulk.queue_depth, 8);
    blocker.execute_batch("ROLLBACK").unwrap();
    producer.await.unwrap();
    let n: i64 = store
        .readers()
        .read(|c| Ok(c.query_row("SELECT count(*) FROM record_value", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(n, 100);
}

#[tokio::test]
async fn record_edits_write_only_changes_and_need_a_reason_to_change_saved_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let w = store.writer();
    let mut e = edit("r1", "weight", "70");
    e.values.insert("height".into(), Some("180".into()));
    assert_eq!(
        w.set_values(Lane::Interactive, actor(), e.clone())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        w.set_values(Lane::Interactive, actor(), e.clone())
            .await
            .unwrap(),
        0,
        "saving the same values again changes nothing"
    );
    let mut change = edit("r1", "weight", "");
    let r = w
        .set_values(Lane::Interactive, actor(), change.clone())
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Domain(DomainError::ValueReasonRequired { .. }))
        ),
        "clearing a saved value needs a reason: {r:?}"
    );
    change.reason = Some("Entered on the wrong subject".into());
    assert_eq!(
        w.set_values(Lane::Interactive, actor(), change)
            .await
            .unwrap(),
        1
    );
    for bad in [
        crate::domain::RecordEdit {
            event: "Baseline Arm".into(),
            ..edit("r1", "x", "1")
        },
        crate::domain::RecordEdit {
            instance: 0,
            ..edit("r1", "x", "1")
        },
        edit("r1", "1x", "1"),
        edit("", "x", "1"),
    ] {
        let r = w.set_values(Lane::Interactive, actor(), bad.clone()).await;
        assert!(
            matches!(r, Err(StoreError::Domain(_))),
            "{bad:?} was accepted: {r:?}"
        );
    }
    type Row = (String, Option<String>, Option<String>, Option<String>);
    let audit: Vec<Row> = store
        .readers()
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT field, old_value, new_value, reason FROM audit WHERE entity = 'record' ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
        .unwrap();
    assert_eq!(
        audit,
        vec![
            ("height".into(), None, Some("180".into()), None),
            ("weight".into(), None, Some("70".into()), None),
            (
                "weight".into(),
                Some("70".into()),
                None,
                Some("Entered on the wrong subject".into())
            ),
        ]
    );
}

// ---- the audit chain ----

/// A store with a few audit rows, closed, and a raw connection to its file
/// with the append-only triggers dropped: what someone with the file and a
/// SQLite shell could do.
async fn tamperable() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.sqlite3");
    let store = open_at(&path, StoreOptions::default()).await;
    for i in 0..5 {
        store
            .writer()
            .set_values(Lane::Interactive, actor(), edit(&format!("r{i}"), "x", "1"))
            .await
            .unwrap();
    }
    store.close().await;
    assert_eq!(verify_audit_file(&path, None).unwrap().broken, None);
    let c = Connection::open(&path).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    (dir, path, c)
}

fn first_break(path: &std::path::Path) -> Option<(i64, ChainProblem)> {
    verify_audit_file(path, None)
        .unwrap()
        .broken
        .map(|b| (b.audit_id, b.problem))
}

#[tokio::test]
async fn verify_finds_a_row_modified_behind_the_apps_back() {
    let (_d, path, c) = tamperable().await;
    c.execute("UPDATE audit SET new_value = '2' WHERE id = 3", [])
        .unwrap();
    assert_eq!(first_break(&path), Some((3, ChainProblem::ContentChanged)));
}

#[tokio::test]
async fn verify_finds_a_deleted_row() {
    let (_d, path, c) = tamperable().await;
    c.execute("DELETE FROM outbox WHERE audit_id = 2", [])
        .unwrap();
    c.execute("DELETE FROM audit WHERE id = 2", []).unwrap();
    assert_eq!(first_break(&path), Some((3, ChainProblem::LinkBroken)));
}

#[tokio::test]
async fn verify_finds_rows_cut_off_the_end() {
    let (_d, path, c) = tamperable().await;
    c.execute("DELETE FROM outbox WHERE audit_id = 5", [])
        .unwrap();
    c.execute("DELETE FROM audit WHERE id = 5", []).unwrap();
    assert_eq!(first_break(&path), Some((5, ChainProblem::EndMissing)));
}

#[tokio::test]
async fn verify_finds_reordered_rows() {
    let (_d, path, c) = tamperable().await;
    // Swap the content of rows 2 and 4 (hashes included), as if they had
    // been written in the other order.
    c.execute_batch(
        "PRAGMA foreign_keys = OFF;
         UPDATE audit SET id = -2 WHERE id = 2;
         UPDATE audit SET id = 2 WHERE id = 4;
         UPDATE audit SET id = 4 WHERE id = -2;",
    )
    .unwrap();
    assert_eq!(first_break(&path), Some((2, ChainProblem::LinkBroken)));
}

#[tokio::test]
async fn verify_finds_an_inserted_row() {
    let (_d, path, c) = tamperable().await;
    c.execute_batch(
        "INSERT INTO audit(id, at, user_account, user_name, entity, entity_id, field, new_value, prev_hash, hash)
         SELECT 100, at, user_account, user_name, entity, entity_id, field, 'forged', prev_hash, hash
         FROM audit WHERE id = 5;",
    )
    .unwrap();
    assert_eq!(first_break(&path), Some((100, ChainProblem::LinkBroken)));
}

#[tokio::test]
async fn an_untouched_trail_verifies_through_the_readers_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    store
        .writer()
        .set_values(Lane::Bulk, actor(), edit("r", "x", "1"))
        .await
        .unwrap();
    let v = store
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((v.rows_checked, v.broken), (1, None));
    assert_eq!(v.head.unwrap().len(), 64);
}

// ---- cancellable reads ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_read_stops_when_its_token_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let cancel = CancellationToken::new();
    let started = std::time::Instant::now();
    let (running_tx, running) = tokio::sync::oneshot::channel();
    let read = store
        .readers()
        .read_cancellable(cancel.clone(), move |c, _| {
            let _ = running_tx.send(());
            // Minutes of work if nobody stops it.
            Ok(c.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000)
             SELECT count(*) FROM n",
            [],
            |r| r.get::<_, i64>(0),
        )?)
        });
    // Cancel once the read has its connection, whatever its statement is
    // doing by then.
    let canceller = async {
        running.await.unwrap();
        cancel.cancel();
    };
    let (r, ()) = tokio::join!(read, canceller);
    assert!(matches!(r, Err(StoreError::Cancelled)), "{r:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the read stopped promptly"
    );
    // The pool's connection still works afterwards.
    let n: i64 = store
        .readers()
        .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_read_cancelled_before_it_starts_does_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = store
        .readers()
        .read_cancellable(cancel, |_, _| -> Result<()> { panic!("ran") })
        .await;
    assert!(matches!(r, Err(StoreError::Cancelled)), "{r:?}");
}

// Regression: `saturating_record` clamped every latency past 2 ms to 2 µs,
// so the panel showed slow commits as instant.
#[test]
fn latency_histograms_keep_values_past_their_first_bucket() {
    let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    for us in [500, 1_500, 7_500, 250_000] {
        crate::histogram::record(&mut h, us);
    }
    let p = Percentiles::of(&h, 1000.0);
    assert!((p.max - 250.0).abs() < 1.0, "{p:?}");
    assert!((p.p50 - 1.5).abs() < 0.01, "{p:?}");
}

// Regression: verify read the rows and the head in two read transactions,
// so a batch committed in between looked like rows cut off the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_while_the_app_writes_finds_no_break() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let w = store.writer().clone();
    let writing = tokio::spawn(async move {
        for i in 0..3000 {
            w.set_values(Lane::Bulk, actor(), edit(&format!("w{i}"), "x", "1"))
                .await
                .unwrap();
        }
    });
    let mut checks = 0;
    while !writing.is_finished() {
        let v = store
            .readers()
            .verify_audit(CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(v.broken, None, "after {} rows", v.rows_checked);
        checks += 1;
    }
    writing.await.unwrap();
    assert!(checks > 1, "verify ran while the writes went on");
}

// ---- the data dictionary ----

fn dictionary(rows: &[&str]) -> crate::metadata::Dictionary {
    let mut csv = String::from(
        "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation",
    );
    for r in rows {
        csv.push('\n');
        csv.push_str(r);
    }
    crate::metadata::parse_csv(csv.as_bytes()).unwrap()
}

#[tokio::test]
async fn a_dictionary_is_imported_once_per_version_and_audited_without_outbox() {
    use crate::metadata::FieldChange;
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let w = store.writer();
    let v1 = dictionary(&[
        "record_id,visit,,text,ID,,,,,,,,,,,,,",
        "weight,visit,,text,Weight,,,number,20,300,,,,,,,,",
        "smoker,visit,,yesno,Smoker,,,,,,,,,,,,,",
    ]);
    let first = w
        .import_dictionary(actor(), v1.clone(), None, "study.csv".into())
        .await
        .unwrap();
    assert!(first.changed);
    assert_eq!(
        first.changes.len(),
        3,
        "every field is new: {:?}",
        first.changes
    );
    let again = w
        .import_dictionary(actor(), v1.clone(), None, "study.csv".into())
        .await
        .unwrap();
    assert_eq!((again.changed, again.changes.len()), (false, 0));

    // A value of a field the next version drops is kept and flagged.
    w.set_values(Lane::Interactive, actor(), edit("r1", "smoker", "1"))
        .await
        .unwrap();
    let v2 = dictionary(&[
        "record_id,visit,,text,ID,,,,,,,,,,,,,",
        "weight,visit,,text,\"Weight (kg)\",,,number,20,300,,,,,,,,",
    ]);
    let second = w
        .import_dictionary(actor(), v2.clone(), None, "study-v2.csv".into())
        .await
        .unwrap();
    assert!(second.changed);
    assert_eq!(
        second.changes,
        vec![
            FieldChange::Changed {
                field: "weight".into(),
                aspects: vec![crate::metadata::Aspect::Label],
                removed_choices: vec![],
            },
            FieldChange::Removed {
                field: "smoker".into()
            },
        ]
    );
    let stored = store.readers().dictionary().await.unwrap().unwrap();
    assert_eq!(
        (stored.hash, stored.source, stored.dictionary),
        (v2.version_hash(), "study-v2.csv".to_owned(), v2)
    );
    let orphans = store.readers().orphaned_values().await.unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(
        (orphans[0].field.as_str(), orphans[0].values),
        ("smoker", 1)
    );

    // Going back to the first version works and is audited too.
    let back = w
        .import_dictionary(actor(), v1.clone(), None, "study.csv".into())
        .await
        .unwrap();
    assert!(back.changed);
    assert!(store.readers().orphaned_values().await.unwrap().is_empty());
    let (audits, outbox): (i64, i64) = store
        .readers()
        .read(|c| {
            Ok((
                c.query_row(
                    "SELECT count(*) FROM audit WHERE entity = 'study' AND field = 'dictionary_version'",
                    [],
                    |r| r.get(0),
                )?,
                c.query_row("SELECT count(*) FROM outbox WHERE entity = 'study'", [], |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((audits, outbox), (3, 0));
    let v = store
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(v.broken, None);
}

#[tokio::test]
async fn the_design_is_kept_with_its_dictionary_and_survives_a_dictionary_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("d.sqlite3"), StoreOptions::default()).await;
    let w = store.writer();
    let (d, design) = crate::forms::demo_forms();
    let first = w
        .import_dictionary(actor(), d.clone(), Some(design.clone()), "demo".into())
        .await
        .unwrap();
    assert!(first.changed);
    assert_ne!(first.hash, d.version_hash(), "the hash covers the design");
    let stored = store.readers().dictionary().await.unwrap().unwrap();
    assert_eq!(stored.design, design);

    // A dictionary file without the adverse-event form keeps the events
    // and drops only that form's mapping and repeating entries.
    let mut fewer = d.clone();
    fewer.fields.retain(|f| f.form != "adverse_events");
    w.import_dictionary(actor(), fewer.clone(), None, "v2.csv".into())
        .await
        .unwrap();
    let stored = store.readers().dictionary().await.unwrap().unwrap();
    assert_eq!(stored.design.events, design.events);
    assert!(stored.design.repeating.is_empty());
    assert!(
        stored
            .design
            .mapping
            .iter()
            .all(|m| m.form != "adverse_events")
    );
    assert_eq!(stored.dictionary, fewer);
}

#[tokio::test]
async fn a_saved_form_is_read_back_and_audited_under_its_subject() {
    use crate::forms::{FormAt, FormInput, FormStatus, RecordValues, Study};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let (d, design) = crate::forms::demo_forms();
    w.import_dictionary(actor(), d.clone(), Some(design.clone()), "demo".into())
        .await
        .unwrap();
    let study = Study::new(&d, &design);
    let at = FormAt {
        record_id: "S01-0001",
        event: "screening_arm_1",
        form: "demographics",
        instance: 1,
    };
    let now = chrono::Local::now().naive_local();
    let lang = crate::i18n::Lang::EN;
    let save = |values: &[(&str, &str)], reason: Option<&str>| FormInput {
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        status: FormStatus::Complete,
        confirmed: vec![],
        reason: reason.map(str::to_owned),
    };
    let saved = || async {
        RecordValues::new(
            store
                .readers()
                .record_values("S01-0001".into())
                .await
                .unwrap(),
        )
    };
    let edit = study
        .plan_save(
            &at,
            &saved().await,
            &save(&[("height_cm", "170"), ("weight_kg", "70.0")], None),
            now,
            lang,
        )
        .unwrap();
    assert_eq!(
        w.set_values(Lane::Interactive, actor(), edit)
            .await
            .unwrap(),
        4
    );
    let values = saved().await;
    assert_eq!(values.get("screening_arm_1", 1, "bmi"), Some("24.2"));
    assert_eq!(
        values.get("screening_arm_1", 1, "demographics_complete"),
        Some("2")
    );

    // Changing a saved value without a reason is refused by the writer,
    // inside its transaction; with one, it is audited with it.
    let change = save(&[("weight_kg", "72.0")], None);
    let edit = study
        .plan_save(&at, &saved().await, &change, now, lang)
        .unwrap();
    let refused = w.set_values(Lane::Interactive, actor(), edit).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Domain(DomainError::ValueReasonRequired { .. }))
        ),
        "{refused:?}"
    );
    let edit = study
        .plan_save(
            &at,
            &saved().await,
            &save(&[("weight_kg", "72.0")], Some("Scale recalibrated")),
            now,
            lang,
        )
        .unwrap();
    assert_eq!(
        w.set_values(Lane::Interactive, actor(), edit)
            .await
            .unwrap(),
        2
    );
    let audit = store
        .readers()
        .subject_audit("S01-0001".into())
        .await
        .unwrap();
    let weight: Vec<_> = audit
        .iter()
        .filter(|a| a.entity == "record" && a.field == "weight_kg")
        .map(|a| {
            (
                a.old_value.as_deref(),
                a.new_value.as_deref(),
                a.reason.as_deref(),
                a.event.as_deref(),
                a.instance,
            )
        })
        .collect();
    assert_eq!(
        weight,
        vec![
            (None, Some("70.0"), None, Some("screening_arm_1"), Some(1)),
            (
                Some("70.0"),
                Some("72.0"),
                Some("Scale recalibrated"),
                Some("screening_arm_1"),
                Some(1)
            ),
        ]
    );
    let grid = study.visit_grid(&saved().await);
    let cell = grid
        .cells
        .iter()
        .find(|c| c.form == "demographics")
        .unwrap();
    assert_eq!(cell.instances[0].status, crate::forms::CellStatus::Complete);
}

#[tokio::test]
async fn the_edc_connection_is_saved_and_its_token_never_reaches_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let secret = "0123456789ABCDEF0123456789ABCDEF";
    assert_eq!(store.readers().edc_connection().await.unwrap(), None);
    w.set_edc_connection(
        actor(),
        Some(("https://redcap.example.org/api/".into(), secret.into())),
    )
    .await
    .unwrap();
    assert_eq!(
        store.readers().edc_connection().await.unwrap(),
        Some(("https://redcap.example.org/api/".into(), secret.into()))
    );
    w.set_edc_connection(actor(), None).await.unwrap();
    assert_eq!(store.readers().edc_connection().await.unwrap(), None);
    let audit: Vec<(String, Option<String>, Option<String>)> = store
        .readers()
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT field, old_value, new_value FROM audit WHERE entity = 'settings' AND entity_id = 'edc' ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert!(
        audit
            .iter()
            .all(|(_, o, n)| o.as_deref() != Some(secret) && n.as_deref() != Some(secret)),
        "{audit:?}"
    );
    let outbox: i64 = store
        .readers()
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM outbox WHERE entity = 'settings'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(outbox, 0, "desk settings are not sent to the EDC");
}

#[tokio::test]
async fn marking_a_saved_form_complete_needs_no_reason() {
    use crate::forms::{FormAt, FormInput, FormStatus, RecordValues, Study};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let (d, design) = crate::forms::demo_forms();
    let study = Study::new(&d, &design);
    let at = FormAt {
        record_id: "S01-0001",
        event: "screening_arm_1",
        form: "demographics",
        instance: 1,
    };
    let now = chrono::Local::now().naive_local();
    let saved = || async {
        RecordValues::new(
            store
                .readers()
                .record_values("S01-0001".into())
                .await
                .unwrap(),
        )
    };
    let first = FormInput {
        values: BTreeMap::from([("height_cm".to_owned(), "170".to_owned())]),
        status: FormStatus::Incomplete,
        confirmed: vec![],
        reason: None,
    };
    let edit = study
        .plan_save(&at, &saved().await, &first, now, crate::i18n::Lang::EN)
        .unwrap();
    w.set_values(Lane::Interactive, actor(), edit)
        .await
        .unwrap();
    let complete = FormInput {
        values: BTreeMap::new(),
        status: FormStatus::Complete,
        confirmed: vec![],
        reason: None,
    };
    let edit = study
        .plan_save(&at, &saved().await, &complete, now, crate::i18n::Lang::EN)
        .unwrap();
    assert_eq!(
        w.set_values(Lane::Interactive, actor(), edit)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        saved()
            .await
            .get("screening_arm_1", 1, "demographics_complete"),
        Some("2")
    );
}

#[tokio::test]
async fn another_edc_starts_from_no_bases_and_the_beginning_of_its_log() {
    use super::sync::{Cell, SyncWrite};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let token = "0123456789ABCDEF0123456789ABCDEF";
    let first = Some((
        "https://redcap.example.org/api/".to_owned(),
        token.to_owned(),
    ));
    w.set_edc_connection(actor(), first.clone()).await.unwrap();
    let cell = Cell {
        record_id: "S01-AAA-0001".into(),
        event: "baseline_arm_1".into(),
        instance: 1,
        field: "sbp".into(),
    };
    let pulled = |server: &str| SyncWrite::Pulled {
        cell: cell.clone(),
        server: server.into(),
    };
    w.sync_apply(
        actor(),
        vec![pulled("120")],
        Some(crate::store::sync::PullMark::Done(
            "2026-11-20 10:00".into(),
        )),
    )
    .await
    .unwrap();
    let base = || async {
        store
            .readers()
            .local_cells(vec![cell.clone()])
            .await
            .unwrap()[0]
            .base
            .clone()
    };
    assert_eq!(base().await.as_deref(), Some("120"));

    // Saving the same connection again changes nothing.
    w.set_edc_connection(actor(), first).await.unwrap();
    assert_eq!(base().await.as_deref(), Some("120"));
    assert_eq!(
        store.readers().sync_cursor().await.unwrap().as_deref(),
        Some("2026-11-20 10:00")
    );

    // Another server: its blanks must not count as changes since the base.
    w.set_edc_connection(
        actor(),
        Some(("https://edc.example.net/api/".into(), token.into())),
    )
    .await
    .unwrap();
    assert_eq!(base().await, None);
    assert_eq!(store.readers().sync_cursor().await.unwrap(), None);
    assert_eq!(
        store
            .readers()
            .local_cells(vec![cell.clone()])
            .await
            .unwrap()[0]
            .value,
        "120",
        "the desk's value stays"
    );
}

/// Simplified Chinese, the catalog beside English.
fn zh() -> Lang {
    Lang::from_tag("zh-CN").expect("a zh-CN catalog")
}

/// A held value waits for a newer edit of its row, told by outbox ids: an
/// edit after the newest ones were sent and cleared must still get a
/// higher id than theirs (SQLite would reuse them in a plain rowid
/// table), or the held value would never be sent again.
#[tokio::test]
async fn a_held_value_is_tried_again_after_its_rows_newest_edits_were_cleared() {
    use super::sync::{Cell, RefusedBy, SyncWrite};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let cell = |field: &str| Cell {
        record_id: "S01-AAA-0001".into(),
        event: "baseline_arm_1".into(),
        instance: 1,
        field: field.into(),
    };
    w.set_values(
        Lane::Interactive,
        actor(),
        edit("S01-AAA-0001", "visit_notes", "seen"),
    )
    .await
    .unwrap();
    w.set_values(
        Lane::Interactive,
        actor(),
        edit("S01-AAA-0001", "sbp", "120"),
    )
    .await
    .unwrap();
    let pending = store
        .readers()
        .pending_cells(String::new(), 10)
        .await
        .unwrap();
    let through = pending.iter().map(|p| p.through).max().unwrap();
    // The notes held through the row's newest edit, the blood pressure
    // sent and cleared.
    w.sync_apply(
        actor(),
        vec![
            SyncWrite::Refused {
                cell: cell("visit_notes"),
                value: "seen".into(),
                by: RefusedBy::Edc,
                message: "The value is not a valid category".into(),
                through,
            },
            SyncWrite::Acked {
                cell: cell("sbp"),
                server: "120".into(),
                through,
            },
        ],
        None,
    )
    .await
    .unwrap();
    let held = |pending: &[super::sync::PendingCell]| {
        pending
            .iter()
            .find(|p| p.cell.field == "visit_notes")
            .unwrap()
            .held
    };
    assert!(held(
        &store
            .readers()
            .pending_cells(String::new(), 10)
            .await
            .unwrap()
    ));
    assert_eq!(store.readers().refused_values().await.unwrap().len(), 1);
    // The form saved again: the held value goes with the next push.
    let mut again = edit("S01-AAA-0001", "sbp", "121");
    again.reason = Some("Corrected".into());
    w.set_values(Lane::Interactive, actor(), again)
        .await
        .unwrap();
    let pending = store
        .readers()
        .pending_cells(String::new(), 10)
        .await
        .unwrap();
    assert!(!held(&pending), "{pending:?}");
    assert!(
        pending
            .iter()
            .all(|p| p.through <= through || p.cell.field == "sbp")
    );
    assert!(store.readers().refused_values().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_value_hidden_by_export_rights_is_looked_at_on_every_run() {
    use super::sync::{Cell, RefusedBy, SyncWrite};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    w.set_values(
        Lane::Interactive,
        actor(),
        edit("S01-AAA-0001", "visit_notes", "seen"),
    )
    .await
    .unwrap();
    let pending = store
        .readers()
        .pending_cells(String::new(), 10)
        .await
        .unwrap();
    let through = pending.iter().map(|p| p.through).max().unwrap();
    w.sync_apply(
        actor(),
        vec![SyncWrite::Refused {
            cell: Cell {
                record_id: "S01-AAA-0001".into(),
                event: "baseline_arm_1".into(),
                instance: 1,
                field: "visit_notes".into(),
            },
            value: "seen".into(),
            by: RefusedBy::ExportRights,
            message: String::new(),
            through,
        }],
        None,
    )
    .await
    .unwrap();
    // Listed as held back, yet not waiting for a save: rights may be
    // granted at any time.
    let listed = store.readers().refused_values().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].by, RefusedBy::ExportRights);
    let pending = store
        .readers()
        .pending_cells(String::new(), 10)
        .await
        .unwrap();
    assert!(
        pending
            .iter()
            .any(|p| p.cell.field == "visit_notes" && !p.held),
        "{pending:?}"
    );
}

// ---- what verify proves beyond the chain ----

/// An encrypted store with a few form values, closed, and a raw keyed
/// connection with the append-only triggers dropped: someone who has the
/// file, the database key and a SQLite shell.
async fn keyed_tamperable() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    crate::vault::DataKey,
    Connection,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.sqlite3");
    let key = crate::vault::DataKey::generate().unwrap();
    let store = open_at(
        &path,
        StoreOptions {
            key: Some(key.clone()),
            ..StoreOptions::default()
        },
    )
    .await;
    for i in 0..5 {
        store
            .writer()
            .set_values(Lane::Interactive, actor(), edit(&format!("r{i}"), "x", "1"))
            .await
            .unwrap();
    }
    store.close().await;
    let clean = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(clean.broken, None);
    assert_eq!(
        (clean.values_checked, clean.value_changed.clone()),
        (5, None)
    );
    assert_eq!(clean.clock_back, None);
    let c = Connection::open(&path).unwrap();
    super::unlock_connection(&c, &path, Some(&key)).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    (dir, path, key, c)
}

#[tokio::test]
async fn verify_finds_a_value_changed_behind_the_apps_back() {
    let (_d, path, key, c) = keyed_tamperable().await;
    c.execute(
        "UPDATE record_value SET value = '7' WHERE record_id = 'r2' AND field = 'x'",
        [],
    )
    .unwrap();
    let v = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(v.broken, None, "the chain itself is intact");
    assert_eq!(
        v.value_changed.map(|c| (c.record_id, c.field)),
        Some(("r2".to_owned(), "x".to_owned()))
    );
    // A value removed is found too.
    c.execute("DELETE FROM record_value WHERE record_id = 'r2'", [])
        .unwrap();
    let v = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(v.value_changed.map(|c| c.record_id), Some("r2".to_owned()));
}

#[tokio::test]
async fn verify_finds_a_chain_rewritten_without_the_key() {
    let (_d, path, key, c) = keyed_tamperable().await;
    // Rewrite row 3's value and re-hash the chain from there, as anyone
    // with SQL and SHA-256 can: the unkeyed chain holds again.
    c.execute("UPDATE audit SET new_value = '9' WHERE id = 3", [])
        .unwrap();
    c.execute(
        "UPDATE record_value SET value = '9' WHERE record_id = 'r2' AND field = 'x'",
        [],
    )
    .unwrap();
    rehash_chain(&c);
    assert_eq!(
        verify_audit_file(&path, None).ok().and_then(|v| v.broken),
        None
    );
    // The head's MAC needs the key derived from the data key.
    let v = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(
        v.broken.map(|b| (b.audit_id, b.problem)),
        Some((5, ChainProblem::HeadNotSigned))
    );
}

#[tokio::test]
async fn verify_flags_a_clock_set_back() {
    let (_d, path, key, c) = keyed_tamperable().await;
    c.execute(
        "UPDATE audit SET at = '2001-01-01T00:00:00.000Z' WHERE id = 4",
        [],
    )
    .unwrap();
    rehash_chain(&c);
    // Re-sign the head as the app would have, had its clock been set back.
    let mut c = c;
    c.execute("DELETE FROM meta WHERE key = 'audit_head_mac'", [])
        .unwrap();
    super::chain::sign_head_if_unsigned(&mut c, &key.audit_mac_key()).unwrap();
    let v = verify_audit_file(&path, Some(&key)).unwrap();
    assert_eq!(v.broken, None);
    assert_eq!(v.clock_back, Some(4));
}

/// An audit row's columns, as `rehash_chain` reads them.
struct RawRow {
    id: i64,
    text: [String; 6],
    event: Option<String>,
    instance: Option<i64>,
    optional: [Option<String>; 4],
}

/// Recomputes every row's hash and the head, as the chain's public
/// algorithm says: no key needed.
fn rehash_chain(c: &Connection) {
    let rows: Vec<RawRow> = {
        let mut stmt = c
            .prepare(
                "SELECT id, at, user_account, user_name, entity, entity_id, field, event, instance,
                        old_value, new_value, reason, user_login FROM audit ORDER BY id",
            )
            .unwrap();
        stmt.query_map([], |r| {
            Ok(RawRow {
                id: r.get(0)?,
                text: [
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ],
                event: r.get(7)?,
                instance: r.get(8)?,
                optional: [r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?],
            })
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    };
    let mut prev = super::chain::GENESIS;
    let mut last = 0;
    for row in &rows {
        let [at, account, name, entity, entity_id, field] = &row.text;
        let [old, new, reason, login] = &row.optional;
        let h = super::chain::hash(
            &prev,
            &super::chain::AuditContent {
                id: row.id,
                at,
                user_account: account,
                user_name: name,
                entity,
                entity_id,
                event: row.event.as_deref(),
                instance: row.instance,
                field,
                old_value: old.as_deref(),
                new_value: new.as_deref(),
                reason: reason.as_deref(),
                user_login: login.as_deref(),
            },
        );
        c.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
            rusqlite::params![prev.as_slice(), h.as_slice(), row.id],
        )
        .unwrap();
        prev = h;
        last = row.id;
    }
    c.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_head'",
        [format!("{last}:{}", super::chain::hex(&prev))],
    )
    .unwrap();
}

// ---- backup and restore ----

#[tokio::test]
async fn a_backup_taken_while_the_writer_runs_restores_and_a_tampered_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("desk");
    let key = crate::vault::DataKey::generate().unwrap();
    let store = open_at(
        &data.join(super::DB_FILE),
        StoreOptions {
            key: Some(key.clone()),
            ..StoreOptions::default()
        },
    )
    .await;
    for i in 0..20 {
        store
            .writer()
            .set_values(Lane::Interactive, actor(), edit(&format!("r{i}"), "x", "1"))
            .await
            .unwrap();
    }
    // Edits keep coming while the backup copies.
    let writer = store.writer().clone();
    let more = tokio::spawn(async move {
        for i in 20..60 {
            writer
                .set_values(Lane::Interactive, actor(), edit(&format!("r{i}"), "x", "2"))
                .await
                .unwrap();
        }
    });
    let backups = dir.path().join("backups");
    let folder = super::backup::make_backup(store.readers(), &data, &backups)
        .await
        .unwrap();
    more.await.unwrap();
    store.close().await;

    // The copy is encrypted, verifies, and restores into a new folder.
    let copy = folder.join(super::DB_FILE);
    assert!(super::is_encrypted(&copy).unwrap());
    let v = verify_audit_file(&copy, Some(&key)).unwrap();
    assert_eq!((v.broken, v.value_changed), (None, None));
    assert!(v.values_checked >= 20, "{}", v.values_checked);
    let restored = dir.path().join("restored");
    super::backup::restore_backup(&folder, &restored, Some(&key)).unwrap();
    assert!(
        verify_audit_file(&restored.join(super::DB_FILE), Some(&key))
            .unwrap()
            .broken
            .is_none()
    );
    // Never over a desk.
    assert!(matches!(
        super::backup::restore_backup(&folder, &restored, Some(&key)),
        Err(super::backup::RestoreError::NotEmpty(_))
    ));

    // A copy whose data was changed behind the app's back is refused.
    let c = Connection::open(&copy).unwrap();
    super::unlock_connection(&c, &copy, Some(&key)).unwrap();
    c.execute(
        "UPDATE record_value SET value = '5' WHERE record_id = 'r3'",
        [],
    )
    .unwrap();
    drop(c);
    let elsewhere = dir.path().join("elsewhere");
    assert!(matches!(
        super::backup::restore_backup(&folder, &elsewhere, Some(&key)),
        Err(super::backup::RestoreError::DoesNotVerify(_))
    ));
    assert!(!elsewhere.join(super::DB_FILE).exists());
}

// ---- review sign-offs ----

#[tokio::test]
async fn a_change_to_a_signed_form_needs_a_reason_and_voids_its_sign_off() {
    use super::signoff::{Meaning, SignOffRequest};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open_demo(&dir).await;
    let w = store.writer();
    let crc = Actor {
        login: Some("mei".into()),
        display_name: "Mei Chen".into(),
        ..actor()
    };
    let supervisor = Actor {
        login: Some("sam".into()),
        display_name: "Sam Ortiz".into(),
        ..actor()
    };
    w.set_values(
        Lane::Interactive,
        crc.clone(),
        edit("S01-K7Q-0001", "sbp", "120"),
    )
    .await
    .unwrap();
    let request = |form: Option<&str>| SignOffRequest {
        record_id: "S01-K7Q-0001".into(),
        event: "baseline_arm_1".into(),
        instance: 1,
        form: form.map(str::to_owned),
        meaning: Meaning::Reviewed,
    };
    // Only a person signs.
    assert!(matches!(
        w.sign_off(actor(), request(Some("vitals"))).await,
        Err(StoreError::Domain(DomainError::SignerRequired))
    ));
    let signed = w
        .sign_off(supervisor.clone(), request(Some("vitals")))
        .await
        .unwrap();
    assert_eq!(
        (signed.signer_name.as_str(), signed.meaning),
        ("Sam Ortiz", Meaning::Reviewed)
    );
    assert!(matches!(
        w.sign_off(supervisor.clone(), request(Some("vitals")))
            .await,
        Err(StoreError::Domain(DomainError::AlreadySigned))
    ));
    // Another form of the visit leaves the vitals' sign-off standing.
    w.set_values(
        Lane::Interactive,
        crc.clone(),
        edit("S01-K7Q-0001", "meds", "1"),
    )
    .await
    .unwrap();
    // A change of a signed value without a reason is refused, and nothing
    // is written.
    assert!(matches!(
        w.set_values(
            Lane::Interactive,
            crc.clone(),
            edit("S01-K7Q-0001", "sbp", "121")
        )
        .await,
        Err(StoreError::Domain(DomainError::ValueReasonRequired { .. }))
            | Err(StoreError::Domain(DomainError::SignedFormReasonRequired))
    ));
    // A new value on the signed form needs one too.
    assert!(matches!(
        w.set_values(
            Lane::Interactive,
            crc.clone(),
            edit("S01-K7Q-0001", "dbp", "80")
        )
        .await,
        Err(StoreError::Domain(DomainError::SignedFormReasonRequired))
    ));
    let standing = store
        .readers()
        .sign_offs("S01-K7Q-0001".into(), "baseline_arm_1".into(), 1)
        .await
        .unwrap();
    assert!(standing[0].voided_at.is_none());
    let mut change = edit("S01-K7Q-0001", "dbp", "80");
    change.reason = Some("Measured again".into());
    w.set_values(Lane::Interactive, crc.clone(), change)
        .await
        .unwrap();
    let after = store
        .readers()
        .sign_offs("S01-K7Q-0001".into(), "baseline_arm_1".into(), 1)
        .await
        .unwrap();
    assert_eq!(after[0].void_reason.as_deref(), Some("Measured again"));
    // Signing and voiding are in the subject's history, by person.
    let history = store
        .readers()
        .subject_audit("S01-K7Q-0001".into())
        .await
        .unwrap();
    let signoffs: Vec<(Option<&str>, Option<&str>, Option<&str>)> = history
        .iter()
        .filter(|e| e.entity == "signoff")
        .map(|e| {
            (
                e.user_login.as_deref(),
                e.new_value.as_deref(),
                e.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        signoffs,
        [
            (Some("sam"), Some("reviewed"), None),
            (Some("mei"), None, Some("Measured again"))
        ]
    );
    // The trail still proves the data.
    let v = store
        .readers()
        .verify_audit(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((v.broken, v.value_changed), (None, None));
}
