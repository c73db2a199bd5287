//! Sync against REDCap as it is, not as we wish: a site coordinator's
//! narrow token (no Logging, no Data Access Groups right), log stamps below
//! the cursor, pulls cut part-way, a banned address. The simulator decides
//! each refusal and stamp by REDCap's rules; the desk must cope.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDateTime;
use edc_sim::{
    Clock, DEMO_TOKEN, DEMO_TOKEN_RIVERSIDE, DataExport, FaultSet, Project, RIVERSIDE, Rights,
    RunningSim, SimConfig, Simulator,
};
use sitedesk_core::domain::{Actor, RecordEdit};
use sitedesk_core::edc::{EdcClient, EdcError, FlatRow, Overwrite, RecordQuery, Timeouts, Token};
use sitedesk_core::i18n::Lang;
use sitedesk_core::store::sync::RefusedBy;
use sitedesk_core::store::{Lane, Store};
use sitedesk_core::sync::scheduler::Scheduler;
use sitedesk_core::sync::{RetryPolicy, SyncConfig, SyncError, Syncer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn actor() -> Actor {
    Actor {
        account: "crc".into(),
        display_name: "Dana".into(),
        login: None,
    }
}

fn client(sim: &RunningSim, token: &str) -> EdcClient {
    EdcClient::new(
        &sim.base_url(),
        Token::parse(token).unwrap(),
        Timeouts {
            connect: Duration::from_secs(2),
            total: Duration::from_secs(20),
        },
    )
    .unwrap()
}

fn syncer(store: &Store, sim: &RunningSim, tracker: &TaskTracker, pull_records: u32) -> Syncer {
    Syncer::new(
        store.clone(),
        client(sim, DEMO_TOKEN_RIVERSIDE),
        sitedesk_core::diagnostics::TaskRegistry::new(),
        tracker.clone(),
        actor(),
        SyncConfig {
            pull_records,
            retry: RetryPolicy {
                attempts: 3,
                base: Duration::from_millis(2),
                cap: Duration::from_millis(10),
            },
            ..SyncConfig::default()
        },
    )
}

fn row(pairs: &[(&str, &str)]) -> FlatRow {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value the desk holds for a cell, if any.
async fn local(store: &Store, record: &str, event: &str, field: &str) -> Option<String> {
    store
        .readers()
        .record_values(record.into())
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.event == event && v.field == field)
        .map(|v| v.value)
}

async fn edit(store: &Store, record: &str, event: &str, field: &str, value: &str) {
    // Changing a saved value needs a reason.
    let reason = local(store, record, event, field)
        .await
        .map(|_| "Corrected".to_owned());
    store
        .writer()
        .set_values(
            Lane::Interactive,
            actor(),
            RecordEdit {
                record_id: record.into(),
                event: event.into(),
                instance: 1,
                values: [(field.to_owned(), Some(value.to_owned()))].into(),
                reason,
                computed: Vec::new(),
            },
        )
        .await
        .unwrap();
}

/// A colleague's import of one record's height at screening.
async fn height(client: &EdcClient, record: &str, value: &str) -> Result<Vec<String>, EdcError> {
    client
        .import_records(
            &[row(&[
                ("record_id", record),
                ("redcap_event_name", "screening_arm_1"),
                ("height_cm", value),
            ])],
            Overwrite::Normal,
        )
        .await
}

fn at(h: u32, m: u32) -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

#[tokio::test]
async fn a_site_token_without_logging_or_group_rights_syncs_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    assert!(sim.set_rights(DEMO_TOKEN_RIVERSIDE, Rights::site_coordinator()));
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);
    let admin = client(&sim, DEMO_TOKEN);
    admin
        .import_records(
            &[row(&[
                ("record_id", "S01-COL-0001"),
                ("redcap_event_name", "screening_arm_1"),
                ("redcap_data_access_group", RIVERSIDE),
                ("height_cm", "160"),
            ])],
            Overwrite::Normal,
        )
        .await
        .unwrap();
    edit(
        &store,
        "S01-SIT-0001",
        "screening_arm_1",
        "height_cm",
        "171",
    )
    .await;

    let report = sync.run(&CancellationToken::new()).await.unwrap();
    assert!(report.pushed_cells >= 1, "{report:?}");
    assert_eq!(
        local(&store, "S01-COL-0001", "screening_arm_1", "height_cm")
            .await
            .as_deref(),
        Some("160")
    );
    // The desk's new record is in the token's site, as REDCap puts it.
    let rows = admin
        .export_records(&RecordQuery {
            records: vec!["S01-SIT-0001".into()],
            data_access_groups: true,
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rows[0].get("redcap_data_access_group").map(String::as_str),
        Some(RIVERSIDE)
    );
    // The log and the groups were asked for and refused, and sync did
    // without them.
    let stats = sim.stats();
    assert!(stats.by_call.get("log/export").copied().unwrap_or(0) >= 1);
    assert!(stats.by_call.get("dag/export").copied().unwrap_or(0) >= 1);

    // A colleague's later change is pulled without the log.
    admin
        .import_records(
            &[row(&[
                ("record_id", "S01-COL-0001"),
                ("redcap_event_name", "screening_arm_1"),
                ("height_cm", "162"),
            ])],
            Overwrite::Normal,
        )
        .await
        .unwrap();
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        local(&store, "S01-COL-0001", "screening_arm_1", "height_cm")
            .await
            .as_deref(),
        Some("162")
    );
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// REDCap stamps a change when its request started, and clocks step back:
/// a change can be stamped below a cursor a newer change already moved.
/// The cursor alone (what pulls used before the overlap) misses it; the
/// pull finds it.
#[tokio::test]
async fn a_change_stamped_below_the_cursor_is_still_pulled() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig {
        clock: Clock::Fixed(at(8, 0)),
        ..SimConfig::new(Project::demo())
    })
    .await
    .unwrap();
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);
    let colleague = client(&sim, DEMO_TOKEN_RIVERSIDE);
    sim.set_clock(Clock::Fixed(at(9, 0)));
    height(&colleague, "S01-COL-0001", "150").await.unwrap();
    sim.set_clock(Clock::Fixed(at(10, 0)));
    height(&colleague, "S01-COL-0002", "160").await.unwrap();
    sync.run(&CancellationToken::new()).await.unwrap();
    let cursor = store.readers().sync_cursor().await.unwrap().unwrap();
    assert_eq!(cursor, "2026-11-01 10:00:00");

    // A slow import that began at 09:50 commits now.
    sim.set_clock(Clock::Fixed(at(9, 50)));
    height(&colleague, "S01-COL-0001", "175").await.unwrap();
    sim.set_clock(Clock::Fixed(at(10, 5)));
    let from_cursor = colleague
        .export_records(&RecordQuery {
            date_range_begin: Some(cursor),
            fields: vec!["record_id".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(
        !from_cursor
            .iter()
            .any(|r| r.get("record_id").map(String::as_str) == Some("S01-COL-0001")),
        "from the cursor itself the change is not exported: {from_cursor:?}"
    );
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        local(&store, "S01-COL-0001", "screening_arm_1", "height_cm")
            .await
            .as_deref(),
        Some("175")
    );
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_pull_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let colleague = client(&sim, DEMO_TOKEN_RIVERSIDE);
    let rows: Vec<FlatRow> = (1..=60)
        .map(|i| {
            row(&[
                ("record_id", &format!("S01-COL-{i:04}")),
                ("redcap_event_name", "screening_arm_1"),
                ("height_cm", "160"),
            ])
        })
        .collect();
    colleague
        .import_records(&rows, Overwrite::Normal)
        .await
        .unwrap();
    let visible: BTreeSet<String> = colleague
        .export_records(&RecordQuery {
            fields: vec!["record_id".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|mut r| r.remove("record_id"))
        .collect();
    // Each record export takes a while, so the cancel lands part-way.
    sim.set_faults(
        "record-cost=2ms:content=record"
            .parse::<FaultSet>()
            .unwrap(),
    );
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 5);
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (sync, cancel) = (sync.clone(), cancel.clone());
        async move { sync.run(&cancel).await }
    });
    // Exports run one after the other, each after the one before was
    // applied: once the fourth (ids, then three of records) has begun,
    // two exports' records are in.
    sim.fault_seen("record-cost", 4).await;
    cancel.cancel();
    assert!(run.await.unwrap().is_err());
    let resume = store
        .readers()
        .pull_resume()
        .await
        .unwrap()
        .expect("two exports' records are in");
    assert!(store.readers().sync_cursor().await.unwrap().is_none());

    let left = visible.iter().filter(|id| **id > resume.after).count();
    assert!(
        left > 0 && left < visible.len(),
        "{left} of {}",
        visible.len()
    );
    sim.set_faults(FaultSet::default());
    sim.reset_stats();
    sync.run(&CancellationToken::new()).await.unwrap();
    let exports = sim.stats().by_call["record/export"] as usize;
    // The ids, then only the records the cut pull had not reached (the
    // push's own export of nothing is not made: nothing waits to go).
    assert_eq!(exports, 1 + left.div_ceil(5), "{left} records were left");
    for id in &visible {
        assert!(
            !store
                .readers()
                .record_values(id.clone())
                .await
                .unwrap()
                .is_empty(),
            "{id} was not pulled"
        );
    }
    assert!(store.readers().pull_resume().await.unwrap().is_none());
    assert!(store.readers().sync_cursor().await.unwrap().is_some());
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_stops_sync_until_a_person_starts_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    edit(
        &store,
        "S01-BAN-0001",
        "screening_arm_1",
        "height_cm",
        "171",
    )
    .await;
    sim.set_faults("ban=2".parse::<FaultSet>().unwrap());
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);

    // Banned: the run ends at once, without retrying into the ban.
    let err = sync.run(&CancellationToken::new()).await.unwrap_err();
    assert!(
        matches!(&err, SyncError::Edc(EdcError::Banned(_))),
        "{err:?}"
    );
    assert_eq!(sim.stats().requests, 3, "two calls, then one banned");
    assert!(err.message(Lang::EN).contains("administrator"));

    // The scheduler stops on it (that no run then starts by itself is the
    // scheduler's unit test: its wait after a ban is "until a person").
    let scheduler = Scheduler::new(Duration::from_millis(5));
    let mut finished = scheduler.finished_runs();
    let app = CancellationToken::new();
    let registry = sitedesk_core::diagnostics::TaskRegistry::new();
    scheduler.start(&tracker, app.clone(), &registry, {
        let sync = sync.clone();
        move || Some(sync.clone())
    });
    finished.wait_for(|n| *n >= 1).await.unwrap();
    assert!(scheduler.snapshot().stopped);

    // The administrator lifts the ban; a person starts sync again.
    assert!(!sim.lift_ban().is_empty());
    sim.set_faults(FaultSet::default());
    scheduler.sync_now();
    finished.wait_for(|n| *n >= 2).await.unwrap();
    assert!(scheduler.snapshot().last_success_at.is_some());
    assert!(!scheduler.snapshot().stopped);
    assert_eq!(store.readers().sync_counts().await.unwrap().0, 0);
    app.cancel();
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// The same under the slow-commit fault itself: an import stamped 10:00
/// commits after a quicker one stamped 10:05 and after the desk's pull.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_import_committed_after_the_pull_is_pulled_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig {
        clock: Clock::Fixed(at(10, 0)),
        ..SimConfig::new(Project::demo())
    })
    .await
    .unwrap();
    sim.set_faults(
        "slow-commit=3s@content=record/import:next=1"
            .parse::<FaultSet>()
            .unwrap(),
    );
    let colleague = client(&sim, DEMO_TOKEN_RIVERSIDE);
    let slow = tokio::spawn({
        let colleague = colleague.clone();
        async move { height(&colleague, "S01-COL-0001", "150").await }
    });
    sim.fault_seen("slow-commit", 1).await;
    sim.set_clock(Clock::Fixed(at(10, 5)));
    height(&colleague, "S01-COL-0002", "160").await.unwrap();
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        local(&store, "S01-COL-0001", "screening_arm_1", "height_cm").await,
        None,
        "the slow import was to commit after this pull"
    );
    let cursor = store.readers().sync_cursor().await.unwrap().unwrap();
    assert_eq!(cursor, "2026-11-01 10:05:00");
    slow.await.unwrap().unwrap();
    // From the cursor alone, as pulls went before the overlap, the slow
    // import's record is not exported: its stamp is 10:00.
    let from_cursor = colleague
        .export_records(&RecordQuery {
            date_range_begin: Some(cursor),
            fields: vec!["record_id".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(
        !from_cursor
            .iter()
            .any(|r| r.get("record_id").map(String::as_str) == Some("S01-COL-0001")),
        "{from_cursor:?}"
    );
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        local(&store, "S01-COL-0001", "screening_arm_1", "height_cm")
            .await
            .as_deref(),
        Some("150")
    );
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// REDCap refuses a whole import for one bad value. The refused values
/// (its own validation; a locked form) are held with its words and the
/// rest is sent; a held value waits until a person edits it, then goes.
#[tokio::test]
async fn a_refused_value_is_held_alone_and_sent_once_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    sim.lock_form("S01-REF-0002", Some("baseline_arm_1"), "vitals")
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);
    // Written past the form's checks, as a value kept from before a
    // field's validation changed would be.
    edit(
        &store,
        "S01-REF-0001",
        "screening_arm_1",
        "height_cm",
        "tall",
    )
    .await;
    edit(
        &store,
        "S01-REF-0001",
        "screening_arm_1",
        "weight_kg",
        "70.5",
    )
    .await;
    edit(&store, "S01-REF-0002", "baseline_arm_1", "sbp", "120").await;
    edit(
        &store,
        "S01-REF-0002",
        "screening_arm_1",
        "height_cm",
        "170",
    )
    .await;
    edit(
        &store,
        "S01-REF-0003",
        "screening_arm_1",
        "height_cm",
        "180",
    )
    .await;

    sync.run(&CancellationToken::new()).await.unwrap();
    let admin = client(&sim, DEMO_TOKEN);
    let in_edc = |record: &'static str, field: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .export_records(&RecordQuery {
                    records: vec![record.into()],
                    fields: vec!["record_id".into(), field.into()],
                    ..RecordQuery::default()
                })
                .await
                .unwrap()
                .into_iter()
                .filter_map(|mut r| r.remove(field))
                .find(|v| !v.is_empty())
        }
    };
    assert_eq!(
        in_edc("S01-REF-0001", "weight_kg").await.as_deref(),
        Some("70.5")
    );
    assert_eq!(
        in_edc("S01-REF-0002", "height_cm").await.as_deref(),
        Some("170")
    );
    assert_eq!(
        in_edc("S01-REF-0003", "height_cm").await.as_deref(),
        Some("180")
    );
    assert_eq!(in_edc("S01-REF-0001", "height_cm").await, None);
    assert_eq!(in_edc("S01-REF-0002", "sbp").await, None);
    let held = store.readers().refused_values().await.unwrap();
    let named: Vec<(&str, &str, &str)> = held
        .iter()
        .map(|r| {
            (
                r.cell.record_id.as_str(),
                r.cell.field.as_str(),
                r.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            ("S01-REF-0001", "height_cm", "tall"),
            ("S01-REF-0002", "sbp", "120")
        ]
    );
    assert!(held[1].message.contains("locked"), "{:?}", held[1].message);
    assert!(!held[0].message.is_empty());

    // Held values are not sent again: the next run imports nothing.
    sim.reset_stats();
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(sim.stats().by_call.get("record/import"), None);
    assert_eq!(store.readers().refused_values().await.unwrap().len(), 2);

    // Corrected, the value goes; the lock lifted, the other goes too.
    edit(
        &store,
        "S01-REF-0001",
        "screening_arm_1",
        "height_cm",
        "172",
    )
    .await;
    sim.unlock_form("S01-REF-0002", Some("baseline_arm_1"), "vitals")
        .await
        .unwrap();
    edit(&store, "S01-REF-0002", "baseline_arm_1", "sbp", "121").await;
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        in_edc("S01-REF-0001", "height_cm").await.as_deref(),
        Some("172")
    );
    assert_eq!(in_edc("S01-REF-0002", "sbp").await.as_deref(), Some("121"));
    assert!(store.readers().refused_values().await.unwrap().is_empty());
    assert_eq!(store.readers().sync_counts().await.unwrap().0, 0);
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// A token whose data export rights hide columns: REDCap leaves them out
/// of its exports, or under "De-Identified" moves the form's dates. The
/// desk never stores a shifted date, never sends over a value it cannot
/// see (and lists it, saying why), and still syncs every column it sees.
#[tokio::test]
async fn a_column_the_token_cannot_export_is_never_taken_as_blank() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let rights = Rights {
        data_export_forms: [
            ("vitals".to_owned(), DataExport::Deidentified),
            ("demographics".to_owned(), DataExport::NoIdentifiers),
        ]
        .into(),
        ..Rights::site_coordinator()
    };
    assert!(sim.set_rights(DEMO_TOKEN_RIVERSIDE, rights));
    let admin = client(&sim, DEMO_TOKEN);
    let record = "S01-EXP-0001";
    admin
        .import_records(
            &[
                row(&[
                    ("record_id", record),
                    ("redcap_event_name", "screening_arm_1"),
                    ("redcap_data_access_group", RIVERSIDE),
                    ("height_cm", "170"),
                    ("dob", "1980-05-06"),
                ]),
                row(&[
                    ("record_id", record),
                    ("redcap_event_name", "baseline_arm_1"),
                    ("visit_date", "2026-03-02"),
                    ("visit_notes", "fasting"),
                    ("sbp", "120"),
                ]),
            ],
            Overwrite::Normal,
        )
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        local(&store, record, "screening_arm_1", "height_cm")
            .await
            .as_deref(),
        Some("170")
    );
    assert_eq!(
        local(&store, record, "baseline_arm_1", "sbp")
            .await
            .as_deref(),
        Some("120")
    );
    for (event, field) in [
        ("screening_arm_1", "dob"),
        ("baseline_arm_1", "visit_date"),
        ("baseline_arm_1", "visit_notes"),
    ] {
        assert_eq!(
            local(&store, record, event, field).await,
            None,
            "{field}: a column left out or shifted is not the EDC's value"
        );
    }

    edit(&store, record, "screening_arm_1", "dob", "1980-05-07").await;
    edit(&store, record, "baseline_arm_1", "visit_date", "2026-03-03").await;
    edit(&store, record, "baseline_arm_1", "visit_notes", "called").await;
    edit(&store, record, "baseline_arm_1", "sbp", "125").await;
    // A record the EDC does not have holds no value to overwrite.
    edit(
        &store,
        "S01-EXP-0002",
        "baseline_arm_1",
        "visit_notes",
        "new",
    )
    .await;
    sync.run(&CancellationToken::new()).await.unwrap();

    let in_edc = |record: &'static str, field: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .export_records(&RecordQuery {
                    records: vec![record.into()],
                    fields: vec!["record_id".into(), field.into()],
                    ..RecordQuery::default()
                })
                .await
                .unwrap()
                .into_iter()
                .filter_map(|mut r| r.remove(field))
                .find(|v| !v.is_empty())
        }
    };
    assert_eq!(in_edc(record, "sbp").await.as_deref(), Some("125"));
    assert_eq!(in_edc(record, "dob").await.as_deref(), Some("1980-05-06"));
    assert_eq!(
        in_edc(record, "visit_date").await.as_deref(),
        Some("2026-03-02")
    );
    assert_eq!(
        in_edc(record, "visit_notes").await.as_deref(),
        Some("fasting")
    );
    assert_eq!(
        in_edc("S01-EXP-0002", "visit_notes").await.as_deref(),
        Some("new")
    );
    let held = store.readers().refused_values().await.unwrap();
    let named: Vec<(&str, &str, RefusedBy, &str)> = held
        .iter()
        .map(|r| {
            (
                r.cell.record_id.as_str(),
                r.cell.field.as_str(),
                r.by,
                r.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (record, "visit_date", RefusedBy::ExportRights, ""),
            (record, "visit_notes", RefusedBy::ExportRights, ""),
            (record, "dob", RefusedBy::ExportRights, ""),
        ]
    );
    // Rights may be granted at any time: the next run looks at the held
    // values again, with no save. Now seen, the EDC's values differ from
    // any this desk had, and a person decides (nothing is overwritten
    // silently).
    assert!(sim.set_rights(DEMO_TOKEN_RIVERSIDE, Rights::site_coordinator()));
    sync.run(&CancellationToken::new()).await.unwrap();
    let mut conflicts: Vec<(String, String)> = store
        .readers()
        .conflicts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.cell.field, c.theirs))
        .collect();
    conflicts.sort();
    assert_eq!(
        conflicts,
        [
            ("dob".to_owned(), "1980-05-06".to_owned()),
            ("visit_date".to_owned(), "2026-03-02".to_owned()),
            ("visit_notes".to_owned(), "fasting".to_owned())
        ]
    );
    assert!(store.readers().refused_values().await.unwrap().is_empty());
    assert_eq!(
        in_edc(record, "visit_notes").await.as_deref(),
        Some("fasting")
    );
}

/// REDCap keeps a value stored before its field had a validation, and
/// exports it as stored: the desk takes it as it is, and a push of the
/// record's other fields is not held up by it (issue 14, point 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_stored_before_its_validation_is_pulled_as_is_and_holds_up_nothing() {
    let project = Project::demo()
        .with_data_csv(
            format!(
                "record_id,redcap_event_name,redcap_data_access_group,sex,height_cm\n\
                 S01-OLD-0001,screening_arm_1,{RIVERSIDE},1,1m70\n"
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(
        project.warnings().len(),
        1,
        "an import would refuse it: {:?}",
        project.warnings()
    );
    let sim = Simulator::start(SimConfig::new(project)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), &actor().account, None).await;
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker, 200);
    sync.run(&CancellationToken::new()).await.unwrap();
    let old = |f| local(&store, "S01-OLD-0001", "screening_arm_1", f);
    assert_eq!(old("height_cm").await.as_deref(), Some("1m70"));

    edit(
        &store,
        "S01-OLD-0001",
        "screening_arm_1",
        "weight_kg",
        "72.5",
    )
    .await;
    let report = sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.pushed_cells, 1, "{report:?}");
    assert!(store.readers().refused_values().await.unwrap().is_empty());
    let rows = client(&sim, DEMO_TOKEN_RIVERSIDE)
        .export_records(&RecordQuery {
            records: vec!["S01-OLD-0001".into()],
            events: vec!["screening_arm_1".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (rows[0]["height_cm"].as_str(), rows[0]["weight_kg"].as_str()),
        ("1m70", "72.5")
    );
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}
