//! Sync against the REDCap-compatible simulator on 127.0.0.1: a desk's
//! real store and writer, the real client, faults injected by the server.
//!
//! The convergence suite runs `SITEDESK_SYNC_RUNS` seeded scenarios (200
//! by default; `SITEDESK_SYNC_RUNS=1000 cargo test -p sitedesk-tests --test
//! tests -- sync::converges --nocapture` for a long run, `SITEDESK_SYNC_SEED`
//! replays one): random local edits and edits by a colleague in the EDC,
//! syncs under mixed faults (5xx, 429, hangs, resets, apply-then-drop,
//! writes stamped when they started and committed late, a clock stepping
//! back an hour, HTTP 200 with a database error, PHP's `max_input_vars`, a
//! form locked part-way) with random cancels, every other scenario with a
//! site coordinator's narrow token (no Logging, no Data Access Groups
//! right), every third with limited data export rights (a form
//! de-identified, one without identifiers), then checks that desk and EDC
//! agree cell for cell but for the values held back, which the desk lists
//! as it holds them, that no record is duplicated, and that nothing edited
//! was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use edc_sim::{
    DEMO_TOKEN, DEMO_TOKEN_RIVERSIDE, DataExport, FaultSet, Project, Rights, RunningSim, SimConfig,
    Simulator,
};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use sitedesk_core::diagnostics::{TaskRegistry, TaskSnapshot, TaskState};
use sitedesk_core::domain::{
    Action, Actor, Answer, CriterionKind, Reason, RecordEdit, ScreeningInput, SubjectStatus,
};
use sitedesk_core::edc::{EdcClient, FlatRow, Overwrite, RecordQuery, Timeouts, Token};
use sitedesk_core::forms::demo_forms;
use sitedesk_core::store::sync::Keep;
use sitedesk_core::store::{InstrumentInForce, Lane, Store};
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

/// A desk with the demo study and its forms, as a new app sets it up.
async fn desk(dir: &tempfile::TempDir) -> Store {
    sitedesk_tests::new_desk(dir.path(), &actor().account, None).await
}

fn client(sim: &RunningSim, token: &str, total: Duration) -> EdcClient {
    EdcClient::new(
        &sim.base_url(),
        Token::parse(token).unwrap(),
        Timeouts {
            connect: Duration::from_secs(2),
            total,
        },
    )
    .unwrap()
}

fn syncer(store: &Store, sim: &RunningSim, tracker: &TaskTracker) -> Syncer {
    Syncer::new(
        store.clone(),
        client(sim, DEMO_TOKEN_RIVERSIDE, Duration::from_millis(500)),
        TaskRegistry::new(),
        tracker.clone(),
        actor(),
        SyncConfig {
            batch_records: 3,
            // About three cells: pages are cut by bytes as well as by
            // records, under the same faults.
            batch_bytes: 300,
            concurrency: 2,
            retry: RetryPolicy {
                attempts: 6,
                base: Duration::from_millis(2),
                cap: Duration::from_millis(20),
            },
            breaker_threshold: 50,
            breaker_cooldown: Duration::from_millis(10),
            apply_chunk: 50,
            // Several exports per pull: each resumes where a cut one ended.
            pull_records: 4,
        },
    )
}

async fn edit(
    store: &Store,
    record: &str,
    event: &str,
    values: &[(&str, &str)],
    reason: Option<&str>,
) {
    store
        .writer()
        .set_values(
            Lane::Interactive,
            actor(),
            RecordEdit {
                record_id: record.into(),
                event: event.into(),
                instance: 1,
                values: values
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                    .collect(),
                reason: reason.map(str::to_owned),
                computed: Vec::new(),
            },
        )
        .await
        .unwrap();
}

fn row(pairs: &[(&str, &str)]) -> FlatRow {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every non-blank value of the desk's records, by (record, event,
/// instance, field), against the same from the EDC (unticked boxes blank).
async fn local_values(
    store: &Store,
    records: &BTreeSet<String>,
) -> BTreeMap<(String, String, u32, String), String> {
    let mut out = BTreeMap::new();
    for r in records {
        for v in store.readers().record_values(r.clone()).await.unwrap() {
            out.insert((r.clone(), v.event, v.instance, v.field), v.value);
        }
    }
    out
}

async fn server_values(
    sim: &RunningSim,
    records: &BTreeSet<String>,
) -> (
    BTreeMap<(String, String, u32, String), String>,
    usize,
    usize,
) {
    let rows = client(sim, DEMO_TOKEN, Duration::from_secs(10))
        .export_records(&RecordQuery {
            records: records.iter().cloned().collect(),
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    let (d, design) = demo_forms();
    let layout = sitedesk_core::sync::decide::Layout::new(&d, &design);
    let keys: BTreeSet<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            let get = |k: &str| r.get(k).cloned().unwrap_or_default();
            (
                get("record_id"),
                get("redcap_event_name"),
                get("redcap_repeat_instrument"),
                get("redcap_repeat_instance"),
            )
        })
        .collect();
    let mut out = BTreeMap::new();
    for r in &rows {
        for (cell, value) in layout.cells(r) {
            // The EDC computes calcs and fills in statuses of its own.
            if value.is_empty() || cell.field == "bmi" || cell.field.ends_with("_complete") {
                continue;
            }
            out.insert(
                (cell.record_id, cell.event, cell.instance, cell.field),
                value,
            );
        }
    }
    (out, rows.len(), keys.len())
}

const FIELDS: &[(&str, &str, &[&str])] = &[
    (
        "screening_arm_1",
        "height_cm",
        &["150", "165", "172", "188"],
    ),
    ("screening_arm_1", "sex", &["1", "2"]),
    ("screening_arm_1", "smoker", &["0", "1"]),
    ("baseline_arm_1", "sbp", &["110", "125", "140"]),
    ("baseline_arm_1", "dbp", &["70", "80", "90"]),
    (
        "baseline_arm_1",
        "visit_notes",
        &["seen", "called back", "fasting"],
    ),
    (
        "baseline_arm_1",
        "visit_date",
        &["2026-03-02", "2026-03-09"],
    ),
    ("baseline_arm_1", "meds___1", &["1"]),
    ("baseline_arm_1", "meds___3", &["1"]),
    ("baseline_arm_1", "vitals_complete", &["0", "1", "2"]),
];

/// The demo's screening log filled in as eligible, consented today.
fn eligible(label: &str) -> ScreeningInput {
    let (d, design) = demo_forms();
    let today = chrono::Local::now().date_naive().to_string();
    ScreeningInput {
        screening_date: today.clone(),
        label: label.into(),
        consent_date: Some(today),
        consent_version: Some("v1.0".into()),
        eligibility: InstrumentInForce::of(&d, &design)
            .unwrap()
            .criteria()
            .into_iter()
            .map(|c| {
                let a = if c.kind == CriterionKind::Inclusion {
                    Answer::Yes
                } else {
                    Answer::No
                };
                (c.id, a)
            })
            .collect(),
    }
}

/// One round of screening at the desk: maybe a new subject, then for each
/// subject in screening maybe an enrollment, a screen failure or a
/// corrected consent version (with its reason).
async fn screening_step(store: &Store, rng: &mut StdRng, screened: &mut Vec<String>) {
    let w = store.writer();
    let today = chrono::Local::now().date_naive();
    if rng.random_bool(0.7) {
        let label = format!("S{}", screened.len() + 1);
        let s = w.screen_subject(actor(), eligible(&label)).await.unwrap();
        screened.push(s.id);
    }
    for id in screened.iter() {
        let s = store.readers().subject(id.clone()).await.unwrap();
        if s.status != SubjectStatus::Screening {
            continue;
        }
        let action = match rng.random_range(0..4) {
            0 => Action::Enroll {
                enrollment_date: today,
            },
            1 => Action::ScreenFail {
                date: today,
                reason: Reason {
                    code: "99".into(),
                    other: Some("Moved away".into()),
                },
            },
            2 => {
                let mut input = eligible(&s.screening.label);
                input.consent_version = Some(format!("v1.{}", rng.random_range(1..9)));
                // Nothing changed when the draw repeats the version.
                let _ = w
                    .edit_screening(
                        actor(),
                        id.clone(),
                        input,
                        Some("Version on the form".into()),
                    )
                    .await;
                continue;
            }
            _ => continue,
        };
        w.apply_action(actor(), id.clone(), action).await.unwrap();
    }
}

async fn scenario(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig {
        seed,
        ..SimConfig::new(Project::demo())
    })
    .await
    .unwrap();
    // Every other scenario with a site coordinator's narrow token: no
    // log, no groups, as most site tokens are; every third with limited
    // data export rights: the vitals de-identified (notes left out, dates
    // shifted), the demographics without identifiers.
    let mut rights = if seed.is_multiple_of(2) {
        Rights::site_coordinator()
    } else {
        Rights::default()
    };
    if seed.is_multiple_of(3) {
        rights.data_export_forms = [
            ("vitals".to_owned(), DataExport::Deidentified),
            ("demographics".to_owned(), DataExport::NoIdentifiers),
        ]
        .into();
    }
    assert!(sim.set_rights(DEMO_TOKEN_RIVERSIDE, rights));
    let colleague = client(&sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(10));
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker);
    let records: BTreeSet<String> = (1..=rng.random_range(3..=7))
        .map(|i| format!("S01-CNV-{i:04}"))
        .collect();
    // The colleague's records (edited only in the EDC) must come down whole.
    let theirs: BTreeSet<String> = (1..=2).map(|i| format!("S01-COL-{i:04}")).collect();
    for r in &theirs {
        colleague
            .import_records(
                &[row(&[
                    ("record_id", r),
                    ("redcap_event_name", "screening_arm_1"),
                    ("height_cm", "160"),
                ])],
                Overwrite::Normal,
            )
            .await
            .unwrap();
    }
    let faults: FaultSet = "status=500@0.12:content=record; status=503@0.08; 429@0.05:retry-after=0; \
                            hang@0.05:content=record; reset@0.05; apply-then-drop@0.05:action=import; \
                            slow-commit=5ms@0.2:action=import; clock-back=60@0.02:next=1; \
                            db-error@0.03; max-input-vars=1000"
        .parse()
        .unwrap();
    let mut screened: Vec<String> = Vec::new();
    for round in 0..4 {
        // Local edits; a colleague changes other fields in the EDC.
        for r in &records {
            for (event, field, values) in FIELDS {
                if rng.random_bool(0.3) {
                    let v = values[rng.random_range(0..values.len())];
                    let saved = store.readers().record_values(r.clone()).await.unwrap();
                    let had = saved.iter().any(|s| &s.event == event && &s.field == field);
                    let reason = had.then_some("Corrected");
                    edit(&store, r, event, &[(field, v)], reason).await;
                }
            }
        }
        // A colleague edits a record the EDC has: one it does not have
        // would be a new record of the same id, which the desk holds as
        // another person's (see an_id_the_edc_uses_for_another_record_...).
        sim.set_faults(FaultSet::default());
        let in_edc: Vec<String> = colleague
            .export_records(&RecordQuery {
                records: records.iter().cloned().collect(),
                fields: vec!["record_id".into()],
                ..RecordQuery::default()
            })
            .await
            .unwrap()
            .iter()
            .filter_map(|r| r.get("record_id").cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if round > 0 && !in_edc.is_empty() {
            let r = &in_edc[rng.random_range(0..in_edc.len())];
            colleague
                .import_records(
                    &[row(&[
                        ("record_id", r),
                        ("redcap_event_name", "baseline_arm_1"),
                        ("glucose", "6.1"),
                    ])],
                    Overwrite::Normal,
                )
                .await
                .unwrap();
        }
        // The screening log: new subjects, their lifecycle and corrections,
        // which travel as cells of the screening instrument.
        screening_step(&store, &mut rng, &mut screened).await;
        // A data manager locks a form the desk may have edits for: REDCap
        // refuses those values, the rest goes.
        if round == 1 && !in_edc.is_empty() && rng.random_bool(0.4) {
            let r = &in_edc[rng.random_range(0..in_edc.len())];
            sim.lock_form(r, Some("screening_arm_1"), "demographics")
                .await
                .unwrap();
        }
        sim.set_faults(faults.clone());
        // A run, maybe cancelled part-way.
        let cancel = CancellationToken::new();
        let run = {
            let sync = sync.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move { sync.run(&cancel).await })
        };
        if rng.random_bool(0.3) {
            // Let the run get a random distance in before the cancel.
            for _ in 0..rng.random_range(0..200) {
                tokio::task::yield_now().await;
            }
            cancel.cancel();
        }
        match run.await.unwrap() {
            Ok(_) | Err(SyncError::Cancelled) | Err(SyncError::Edc(_)) => {}
            Err(e) => panic!("seed {seed}: {e:?}"),
        }
    }
    // The network heals: runs finish.
    sim.set_faults(FaultSet::default());
    let mut settled = false;
    for _ in 0..5 {
        if sync.run(&CancellationToken::new()).await.is_ok() {
            let (cells, _, conflicts) = store.readers().sync_counts().await.unwrap();
            let held = store.readers().refused_values().await.unwrap().len() as u32;
            assert_eq!(
                conflicts,
                0,
                "seed {seed}: no cell was changed on both sides: {:?}, held ids {:?}",
                store.readers().conflicts().await.unwrap(),
                store.readers().id_collisions().await.unwrap()
            );
            if cells == held {
                settled = true;
                break;
            }
        }
    }
    assert!(settled, "seed {seed}: the outbox never emptied");
    tracker.close();
    tracker.wait().await;

    let all: BTreeSet<String> = records
        .union(&theirs)
        .cloned()
        .chain(screened.iter().cloned())
        .collect();
    let mut local = local_values(&store, &all).await;
    local.retain(|(_, _, _, f), _| f != "bmi" && !f.ends_with("_complete"));
    let (mut server, rows, unique) = server_values(&sim, &all).await;
    // Values held back (refused by the EDC, or hidden from the token) are
    // listed with what the desk holds, and left out of the comparison.
    let held = store.readers().refused_values().await.unwrap();
    for h in &held {
        let key = (
            h.cell.record_id.clone(),
            h.cell.event.clone(),
            h.cell.instance,
            h.cell.field.clone(),
        );
        assert_eq!(
            local.remove(&key).unwrap_or_default(),
            h.value,
            "seed {seed}: a held value is listed as the desk holds it"
        );
        server.remove(&key);
    }
    assert_eq!(rows, unique, "seed {seed}: duplicate rows in the EDC");
    assert_eq!(local, server, "seed {seed}: desk and EDC differ");
    // The subject list says what the EDC's status cells say.
    for id in &screened {
        let subject = store.readers().subject(id.clone()).await.unwrap();
        let code = server
            .get(&(id.clone(), "screening_arm_1".into(), 1, "scr_status".into()))
            .unwrap_or_else(|| panic!("seed {seed}: {id} has no status in the EDC"));
        let expected = match subject.status {
            SubjectStatus::Screening => "1",
            SubjectStatus::ScreenFailed => "2",
            SubjectStatus::Enrolled => "3",
            SubjectStatus::Completed => "4",
            SubjectStatus::Withdrawn => "5",
        };
        assert_eq!(code, expected, "seed {seed}: {id}'s status");
    }
    eprintln!(
        "seed {seed}: {} cells agree, {} held; answers by status {:?}",
        local.len(),
        held.len(),
        sim.stats().by_status
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_faults_and_cancels() {
    let runs: u64 = std::env::var("SITEDESK_SYNC_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let first: u64 = std::env::var("SITEDESK_SYNC_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let only_one = std::env::var_os("SITEDESK_SYNC_SEED").is_some();
    for seed in first..first + if only_one { 1 } else { runs } {
        scenario(seed).await;
    }
}

#[tokio::test]
async fn a_conflict_is_held_shown_and_resolved_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker);
    let colleague = client(&sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(10));
    edit(
        &store,
        "S01-CFL-0001",
        "baseline_arm_1",
        &[("sbp", "120"), ("dbp", "80")],
        None,
    )
    .await;
    sync.run(&CancellationToken::new()).await.unwrap();

    // Both change sbp, differently; the colleague also changes dbp.
    colleague
        .import_records(
            &[row(&[
                ("record_id", "S01-CFL-0001"),
                ("redcap_event_name", "baseline_arm_1"),
                ("sbp", "135"),
                ("dbp", "85"),
            ])],
            Overwrite::Normal,
        )
        .await
        .unwrap();
    edit(
        &store,
        "S01-CFL-0001",
        "baseline_arm_1",
        &[("sbp", "128")],
        Some("Re-measured"),
    )
    .await;
    let report = sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.conflicts, 1);
    let conflicts = store.readers().conflicts().await.unwrap();
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(
        (c.base.as_str(), c.mine.as_str(), c.theirs.as_str()),
        ("120", "128", "135")
    );
    let server = |field: &'static str| {
        let sim = &sim;
        async move {
            client(sim, DEMO_TOKEN, Duration::from_secs(10))
                .export_records(&RecordQuery {
                    records: vec!["S01-CFL-0001".into()],
                    events: vec!["baseline_arm_1".into()],
                    fields: vec!["record_id".into(), field.into()],
                    ..RecordQuery::default()
                })
                .await
                .unwrap()[0][field]
                .clone()
        }
    };
    assert_eq!(server("sbp").await, "135", "a conflict is not pushed");
    let values = store
        .readers()
        .record_values("S01-CFL-0001".into())
        .await
        .unwrap();
    let local = |f: &str| {
        values
            .iter()
            .find(|v| v.field == f)
            .map(|v| v.value.clone())
    };
    assert_eq!(
        local("dbp").as_deref(),
        Some("85"),
        "the colleague's other change came down"
    );

    // The CRC keeps their value, with a reason; the next run sends it.
    store
        .writer()
        .resolve_conflict(actor(), c.id, Keep::Mine, "Source document says 128".into())
        .await
        .unwrap();
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(server("sbp").await, "128");
    assert!(store.readers().conflicts().await.unwrap().is_empty());
    let audit = store
        .readers()
        .subject_audit("S01-CFL-0001".into())
        .await
        .unwrap();
    assert!(
        audit.iter().any(|a| a.field.starts_with("sbp")
            && a.reason.as_deref() == Some("Source document says 128")),
        "{audit:?}"
    );

    // Taking theirs instead: the EDC's value comes down, nothing goes up.
    colleague
        .import_records(
            &[row(&[
                ("record_id", "S01-CFL-0001"),
                ("redcap_event_name", "baseline_arm_1"),
                ("dbp", "88"),
            ])],
            Overwrite::Normal,
        )
        .await
        .unwrap();
    edit(
        &store,
        "S01-CFL-0001",
        "baseline_arm_1",
        &[("dbp", "82")],
        Some("Typo"),
    )
    .await;
    sync.run(&CancellationToken::new()).await.unwrap();
    let c = store.readers().conflicts().await.unwrap().remove(0);
    store
        .writer()
        .resolve_conflict(
            actor(),
            c.id,
            Keep::Theirs,
            "The EDC has the lab's value".into(),
        )
        .await
        .unwrap();
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(server("dbp").await, "88");
    let values = store
        .readers()
        .record_values("S01-CFL-0001".into())
        .await
        .unwrap();
    assert_eq!(
        values
            .iter()
            .find(|v| v.field == "dbp")
            .map(|v| v.value.as_str()),
        Some("88")
    );
    assert_eq!(store.readers().sync_counts().await.unwrap(), (0, 0, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_run_stops_every_task_and_the_peak_stays_under_the_cap() {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let baseline = alive();
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    for i in 0..40 {
        edit(
            &store,
            &format!("S01-CAN-{i:04}"),
            "baseline_arm_1",
            &[("sbp", "120")],
            None,
        )
        .await;
    }
    sim.set_faults("latency=30ms:content=record".parse().unwrap());
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker);
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let sync = sync.clone();
        let cancel = cancel.clone();
        async move { sync.run(&cancel).await }
    });
    // Cancel once batches are in flight.
    while sim.stats().in_flight == 0 {
        tokio::task::yield_now().await;
    }
    cancel.cancel();
    assert_eq!(run.await.unwrap(), Err(SyncError::Cancelled));
    tracker.close();
    tokio::time::timeout(Duration::from_secs(2), tracker.wait())
        .await
        .expect("every task of the run exits promptly");
    // What was acknowledged left the outbox; the rest is still there.
    sim.set_faults(FaultSet::default());
    let tracker = TaskTracker::new();
    syncer(&store, &sim, &tracker)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(store.readers().sync_counts().await.unwrap().0, 0);
    assert!(sim.stats().peak_concurrent <= 2, "{:?}", sim.stats());
    // With the syncer (and its client's pooled connections) and the server
    // gone, tokio's count of alive tasks is back where it started.
    drop(sync);
    sim.shutdown().await;
    tokio::time::timeout(Duration::from_secs(2), async {
        while alive() != baseline {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} tasks outlive the run, {baseline} before", alive()));
}

/// A syncer whose tasks register in `registry`, whose calls wait as long as
/// a test needs (a hung import stays hung until the test cancels it), and
/// whose batches are three records, one at a time.
fn patient_syncer(
    store: &Store,
    sim: &RunningSim,
    tracker: &TaskTracker,
    registry: &TaskRegistry,
) -> Syncer {
    Syncer::new(
        store.clone(),
        client(sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(120)),
        registry.clone(),
        tracker.clone(),
        actor(),
        SyncConfig {
            batch_records: 3,
            concurrency: 1,
            ..SyncConfig::default()
        },
    )
}

/// Twelve records edited at the desk (four batches of three, sent one after
/// the other), the first batch's import hanging; answers the run, spawned,
/// once that import hangs, with the three other batches still to come.
async fn push_with_one_batch_hung(
    store: &Store,
    sim: &RunningSim,
    tracker: &TaskTracker,
    registry: &TaskRegistry,
) -> tokio::task::JoinHandle<Result<sitedesk_core::sync::RunReport, SyncError>> {
    for i in 0..12 {
        edit(
            store,
            &format!("S01-BAT-{i:04}"),
            "baseline_arm_1",
            &[("sbp", "120")],
            None,
        )
        .await;
    }
    sim.set_faults("hang@content=record:action=import:next=1".parse().unwrap());
    let sync = patient_syncer(store, sim, tracker, registry);
    let run = tokio::spawn(async move { sync.run(&CancellationToken::new()).await });
    while sim.stats().faults.get("hang").copied().unwrap_or(0) == 0 {
        tokio::task::yield_now().await;
    }
    let batches: Vec<_> = task_named(registry, "Push batch");
    assert_eq!(
        batches.len(),
        1,
        "the others wait for the first: {batches:?}"
    );
    run
}

fn task_named(registry: &TaskRegistry, prefix: &str) -> Vec<TaskSnapshot> {
    registry
        .snapshot()
        .into_iter()
        .filter(|t| t.name.starts_with(prefix))
        .collect()
}

/// The task tree is the cancellation tree: *Cancel* on one batch in the
/// diagnostics panel stops that batch alone. The other batches finish, the
/// run ends well, and the cancelled batch's records wait in the outbox for
/// the next run, which sends them.
#[tokio::test]
async fn cancelling_one_batch_stops_it_alone_and_its_records_stay_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let (tracker, registry) = (TaskTracker::new(), TaskRegistry::new());
    let run = push_with_one_batch_hung(&store, &sim, &tracker, &registry).await;
    let hung = task_named(&registry, "Push batch").remove(0);
    assert!(hung.cancellable, "a batch has a token of its own");
    assert_eq!(registry.cancel_subtree(hung.id), 1, "the batch alone");

    let report = run.await.unwrap().expect("the run ends well");
    assert_eq!(report.batches, 3);
    let ended = |name: &str| task_named(&registry, name)[0].state;
    assert_eq!(ended("Push local edits"), TaskState::Done);
    assert_eq!(ended("Sync run"), TaskState::Done);
    let batches = task_named(&registry, "Push batch");
    let cancelled: Vec<_> = batches
        .iter()
        .filter(|t| t.state == TaskState::Cancelled)
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].id, hung.id);
    assert_eq!(
        batches
            .iter()
            .filter(|t| t.state == TaskState::Done)
            .count(),
        3
    );
    // The batch's three records are the outbox now; its name gives their range.
    let (cells, records, _) = store.readers().sync_counts().await.unwrap();
    assert_eq!((cells, records), (3, 3));
    let pending = store
        .readers()
        .pending_cells(String::new(), 100)
        .await
        .unwrap();
    let (first, last) = (&pending[0].cell.record_id, &pending[2].cell.record_id);
    assert!(
        hung.name.ends_with(&format!("{first}..{last}")),
        "{} holds {first}..{last}",
        hung.name
    );

    sim.set_faults(FaultSet::default());
    patient_syncer(&store, &sim, &tracker, &registry)
        .run(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(store.readers().sync_counts().await.unwrap().0, 0);
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// Cancelling the push job stops its batches, and with them the run.
#[tokio::test]
async fn cancelling_a_job_ends_its_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let (tracker, registry) = (TaskTracker::new(), TaskRegistry::new());
    let run = push_with_one_batch_hung(&store, &sim, &tracker, &registry).await;
    let job = task_named(&registry, "Push local edits").remove(0);
    assert!(job.cancellable, "a job has a token of its own");
    assert_eq!(
        registry.cancel_subtree(job.id),
        2,
        "the job and its live batch"
    );

    assert_eq!(run.await.unwrap(), Err(SyncError::Cancelled));
    tracker.close();
    tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .expect("every batch of the job ends");
    assert_eq!(registry.live_count(), 0);
    let ended = |name: &str| task_named(&registry, name)[0].state;
    assert_eq!(ended("Push local edits"), TaskState::Cancelled);
    assert_eq!(ended("Sync run"), TaskState::Cancelled);
    assert_eq!(
        task_named(&registry, "Push batch")
            .iter()
            .filter(|t| t.state == TaskState::Cancelled)
            .count(),
        1
    );
    assert_eq!(
        store.readers().sync_counts().await.unwrap().1,
        12,
        "no batch after the cancel"
    );
    sim.shutdown().await;
}

/// A form saved at the desk, as the app saves it, reaches the demo EDC.
#[tokio::test]
async fn a_saved_demo_form_is_pushed_to_the_demo_edc() {
    use sitedesk_core::forms::{FormAt, FormInput, FormStatus, RecordValues, Study};
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let at = FormAt {
        record_id: "S01-E2E-0001",
        event: "screening_arm_1",
        form: "demographics",
        instance: 1,
    };
    let input = FormInput {
        values: [
            ("dob", "1980-02-29"),
            ("sex", "2"),
            ("pregnant", "0"),
            ("height_cm", "165"),
            ("weight_kg", "72.5"),
            ("smoker", "1"),
            ("cigs_per_day", "10"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        status: FormStatus::Incomplete,
        confirmed: vec![],
        reason: None,
    };
    let edit = study
        .plan_save(
            &at,
            &RecordValues::default(),
            &input,
            chrono::Local::now().naive_local(),
            sitedesk_core::i18n::Lang::EN,
        )
        .unwrap();
    store
        .writer()
        .set_values(Lane::Interactive, actor(), edit)
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let report = syncer(&store, &sim, &tracker)
        .run(&CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        store.readers().sync_counts().await.unwrap(),
        (0, 0, 0),
        "{report:?}"
    );
    sim.shutdown().await;
}

/// Missing-data codes saved at the desk, in a date field and as a
/// checkbox's own column, reach the demo EDC as they were saved.
#[tokio::test]
async fn missing_data_codes_saved_at_the_desk_reach_the_demo_edc() {
    use sitedesk_core::forms::{FormAt, FormInput, FormStatus, RecordValues, Study};
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let (d, design) = demo_forms();
    let study = Study::new(&d, &design);
    let now = chrono::Local::now().naive_local();
    for (event, form, values) in [
        (
            "screening_arm_1",
            "demographics",
            vec![("dob", "UNK"), ("sex", "2")],
        ),
        ("baseline_arm_1", "medications", vec![("meds___unk", "1")]),
    ] {
        let at = FormAt {
            record_id: "S01-E2E-0002",
            event,
            form,
            instance: 1,
        };
        let input = FormInput {
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            status: FormStatus::Incomplete,
            confirmed: vec![],
            reason: None,
        };
        let edit = study
            .plan_save(
                &at,
                &RecordValues::default(),
                &input,
                now,
                sitedesk_core::i18n::Lang::EN,
            )
            .unwrap();
        store
            .writer()
            .set_values(Lane::Interactive, actor(), edit)
            .await
            .unwrap();
    }
    let tracker = TaskTracker::new();
    let report = syncer(&store, &sim, &tracker)
        .run(&CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        store.readers().sync_counts().await.unwrap(),
        (0, 0, 0),
        "{report:?}"
    );
    let c = client(&sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(10));
    let rows = c
        .export_records(&RecordQuery {
            records: vec!["S01-E2E-0002".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.get("dob").map(String::as_str) == Some("UNK")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.get("meds___unk").map(String::as_str) == Some("1")),
        "{rows:?}"
    );
    sim.shutdown().await;
}

/// Two desks (two databases) change the same field offline; both sync; the
/// second gets the conflict, keeps its value with a reason; the EDC ends
/// with the chosen value and the second desk's audit trail says why.
#[tokio::test]
async fn two_desks_change_the_same_field_and_the_second_resolves_the_conflict() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (desk(&dir_a).await, desk(&dir_b).await);
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let (sync_a, sync_b) = (syncer(&a, &sim, &tracker), syncer(&b, &sim, &tracker));
    // Desk A enters the visit; desk B receives it.
    edit(
        &a,
        "S01-TWO-0001",
        "baseline_arm_1",
        &[("sbp", "120")],
        None,
    )
    .await;
    sync_a.run(&CancellationToken::new()).await.unwrap();
    sync_b.run(&CancellationToken::new()).await.unwrap();
    let value = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .readers()
                .record_values("S01-TWO-0001".into())
                .await
                .unwrap()
                .into_iter()
                .find(|v| v.field == "sbp")
                .map(|v| v.value)
        }
    };
    assert_eq!(value(&b).await.as_deref(), Some("120"));

    // Offline, both correct the same value, differently.
    edit(
        &a,
        "S01-TWO-0001",
        "baseline_arm_1",
        &[("sbp", "125")],
        Some("Re-measured"),
    )
    .await;
    edit(
        &b,
        "S01-TWO-0001",
        "baseline_arm_1",
        &[("sbp", "130")],
        Some("Transcription"),
    )
    .await;
    sync_a.run(&CancellationToken::new()).await.unwrap();
    let report = sync_b.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.conflicts, 1, "{report:?}");
    let conflict = b.readers().conflicts().await.unwrap().remove(0);
    assert_eq!(
        (
            conflict.base.as_str(),
            conflict.mine.as_str(),
            conflict.theirs.as_str()
        ),
        ("120", "130", "125")
    );
    b.writer()
        .resolve_conflict(
            actor(),
            conflict.id,
            Keep::Mine,
            "Checked against the source: 130".into(),
        )
        .await
        .unwrap();
    sync_b.run(&CancellationToken::new()).await.unwrap();
    sync_a.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        value(&a).await.as_deref(),
        Some("130"),
        "desk A receives the choice"
    );
    let server = client(&sim, DEMO_TOKEN, Duration::from_secs(10))
        .export_records(&RecordQuery {
            records: vec!["S01-TWO-0001".into()],
            events: vec!["baseline_arm_1".into()],
            fields: vec!["record_id".into(), "sbp".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(server[0]["sbp"], "130");
    let audit = b
        .readers()
        .subject_audit("S01-TWO-0001".into())
        .await
        .unwrap();
    assert!(audit.iter().any(
        |e| e.field == "sbp" && e.reason.as_deref() == Some("Checked against the source: 130")
    ));
    sim.shutdown().await;
}

/// Canary values typed into forms and refused by the EDC never reach the
/// log ring or the task errors the support bundle carries, even with every
/// crate logging at trace level.
#[tokio::test]
async fn patient_values_never_reach_the_logs_or_the_task_errors() {
    use sitedesk_core::diagnostics::logs::LogBuffer;
    use tracing_subscriber::layer::SubscriberExt as _;
    const CANARY: &str = "CANARY-PT-5519";
    let logs = LogBuffer::new(100_000);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("trace"))
        .with(logs.layer());
    // tracing caches each callsite's interest process-wide. While only one
    // dispatcher exists, a callsite first reached by a parallel test's thread
    // (which has no subscriber) is cached as "never" and would stay silent
    // here too, making this test pass without seeing anything. A second,
    // never-installed dispatcher makes every registration ask all of them;
    // the rebuild fixes callsites cached before this test began.
    let _anchor = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let registry = TaskRegistry::new();
    let tracker = TaskTracker::new();
    let sync = Syncer::new(
        store.clone(),
        client(&sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(5)),
        registry.clone(),
        tracker.clone(),
        actor(),
        SyncConfig::default(),
    );
    edit(
        &store,
        "S01-PHI-0001",
        "baseline_arm_1",
        &[("visit_notes", CANARY)],
        None,
    )
    .await;
    sync.run(&CancellationToken::new()).await.unwrap();
    // A value the EDC refuses: its refusal quotes it.
    edit(
        &store,
        "S01-PHI-0001",
        "baseline_arm_1",
        &[("sbp", CANARY)],
        None,
    )
    .await;
    // The run holds it (with REDCap's words, in the database only).
    sync.run(&CancellationToken::new()).await.unwrap();
    let held = store.readers().refused_values().await.unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].value, CANARY);
    assert!(logs.len() > 10, "the layer saw the run");
    for line in logs.lines("TRACE", "", 100_000) {
        assert!(!line.message.contains(CANARY), "{line:?}");
    }
    let tasks = serde_json::to_string(&registry.snapshot()).unwrap();
    assert!(!tasks.contains(CANARY), "{tasks}");
    sim.shutdown().await;
}

/// Starting and cancelling 100 sync runs leaves no task behind: tokio's
/// alive-task count returns to where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_cancelled_runs_leak_no_task() {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    sim.set_faults("latency=20ms".parse().unwrap());
    for i in 0..20 {
        edit(
            &store,
            &format!("S01-LEK-{i:04}"),
            "baseline_arm_1",
            &[("sbp", "120")],
            None,
        )
        .await;
    }
    let baseline = alive();
    for round in 0..100u64 {
        let tracker = TaskTracker::new();
        let sync = syncer(&store, &sim, &tracker);
        let cancel = CancellationToken::new();
        let run = tracker.spawn({
            let cancel = cancel.clone();
            async move { sync.run(&cancel).await }
        });
        // Cancel at different points of the run: before it starts, while
        // pulling, while pushing.
        for _ in 0..(round % 7) * 3 {
            tokio::task::yield_now().await;
        }
        cancel.cancel();
        let _ = run.await;
        tracker.close();
        tracker.wait().await;
    }
    tokio::time::timeout(Duration::from_secs(5), async {
        while alive() > baseline {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{} tasks alive after 100 cancelled runs, {baseline} before",
            alive()
        )
    });
    sim.shutdown().await;
}

/// Retries are counted with the calls they repeat: two refused imports,
/// then one that lands.
#[tokio::test]
async fn retried_calls_are_counted_in_the_clients_metrics() {
    use sitedesk_core::edc::metrics::CallMetrics;
    let dir = tempfile::tempdir().unwrap();
    let store = desk(&dir).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    sim.set_faults(
        "status=503:content=record/import:next=2"
            .parse::<edc_sim::FaultSet>()
            .unwrap(),
    );
    let metrics = std::sync::Arc::new(CallMetrics::default());
    let tracker = TaskTracker::new();
    let sync = Syncer::new(
        store.clone(),
        client(&sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(5)).with_metrics(metrics.clone()),
        TaskRegistry::new(),
        tracker.clone(),
        actor(),
        SyncConfig {
            retry: RetryPolicy {
                attempts: 4,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(5),
            },
            ..SyncConfig::default()
        },
    );
    edit(
        &store,
        "S01-RTY-0001",
        "baseline_arm_1",
        &[("sbp", "121")],
        None,
    )
    .await;
    let report = sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.pushed_cells, 1);
    let totals = metrics.totals();
    assert_eq!((totals.failures, totals.retries), (2, 2), "{totals:?}");
    let import = metrics
        .snapshot()
        .into_iter()
        .find(|e| e.endpoint == "record import")
        .unwrap();
    assert_eq!((import.calls, import.failures), (3, 2));
    sim.shutdown().await;
}

/// A coordinator's screening log from one desk of a site reaches the EDC in
/// the screening instrument, in the site's group, and comes down to a second
/// desk of the site, which lists the subject with its status and counts it.
/// Both desks then change the status offline: the second sync holds a
/// conflict on the status cell, and resolving it is audited and shown.
#[tokio::test]
async fn two_desks_of_a_site_share_the_screening_log_and_settle_a_status_conflict() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = sitedesk_tests::new_desk(dir_a.path(), "crc_a", Some("AAA")).await;
    let b = sitedesk_tests::new_desk(dir_b.path(), "crc_b", Some("BBB")).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let (sync_a, sync_b) = (syncer(&a, &sim, &tracker), syncer(&b, &sim, &tracker));
    let today = chrono::Local::now().date_naive();

    let s = a
        .writer()
        .screen_subject(actor(), eligible("AB"))
        .await
        .unwrap();
    assert_eq!(s.id, "S01-AAA-0001");
    a.writer()
        .apply_action(
            actor(),
            s.id.clone(),
            Action::Enroll {
                enrollment_date: today,
            },
        )
        .await
        .unwrap();
    sync_a.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(a.readers().sync_counts().await.unwrap().0, 0, "all sent");

    // The EDC holds the screening instrument's values, in the site's group.
    let rows = client(&sim, DEMO_TOKEN, Duration::from_secs(10))
        .export_records(&RecordQuery {
            records: vec![s.id.clone()],
            events: vec!["screening_arm_1".into()],
            data_access_groups: true,
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    let row = rows
        .iter()
        .find(|r| {
            r.get("redcap_repeat_instrument")
                .is_none_or(|v| v.is_empty())
        })
        .unwrap();
    assert_eq!(row["scr_status"], "3");
    assert_eq!(row["scr_initials"], "AB");
    assert_eq!(row["scr_enrollment_date"], today.to_string());
    assert_eq!(row["scr_incl_1"], "1");
    assert_eq!(row["scr_excl_1"], "0");
    assert_eq!(row["redcap_data_access_group"], edc_sim::RIVERSIDE);

    // The second desk of the site lists it, marked as the first desk's.
    sync_b.run(&CancellationToken::new()).await.unwrap();
    let listed = b
        .readers()
        .subjects(Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == s.id)
        .expect("desk B lists the site's subject");
    assert_eq!(listed.status, SubjectStatus::Enrolled);
    assert_eq!(listed.desk_code.as_deref(), Some("AAA"));
    let counts = b.readers().status_counts().await.unwrap();
    assert!(
        counts
            .iter()
            .any(|c| c.status == SubjectStatus::Enrolled && c.count >= 1),
        "{counts:?}"
    );

    // Offline, desk A withdraws the subject and desk B completes it.
    a.writer()
        .apply_action(
            actor(),
            s.id.clone(),
            Action::Withdraw {
                withdrawal_date: today,
                reason: Reason {
                    code: "5".into(),
                    other: None,
                },
            },
        )
        .await
        .unwrap();
    b.writer()
        .apply_action(
            actor(),
            s.id.clone(),
            Action::Complete {
                completion_date: today,
            },
        )
        .await
        .unwrap();
    sync_a.run(&CancellationToken::new()).await.unwrap();
    let report = sync_b.run(&CancellationToken::new()).await.unwrap();
    let conflicts = b.readers().conflicts().await.unwrap();
    assert_eq!(report.conflicts, 1, "{conflicts:?}");
    let conflict = &conflicts[0];
    assert_eq!(
        (
            conflict.cell.field.as_str(),
            conflict.base.as_str(),
            conflict.mine.as_str(),
            conflict.theirs.as_str()
        ),
        ("scr_status", "3", "4", "5")
    );
    // Until a person decides, desk B shows its own value, and holds it.
    assert_eq!(
        b.readers().subject(s.id.clone()).await.unwrap().status,
        SubjectStatus::Completed
    );
    b.writer()
        .resolve_conflict(
            actor(),
            conflict.id,
            Keep::Theirs,
            "Withdrawal confirmed by the investigator".into(),
        )
        .await
        .unwrap();
    let after = b.readers().subject(s.id.clone()).await.unwrap();
    assert_eq!(
        after.status,
        SubjectStatus::Withdrawn,
        "the list follows the cell"
    );
    let audit = b.readers().subject_audit(s.id.clone()).await.unwrap();
    assert!(audit.iter().any(|e| e.field == "scr_status"
        && e.new_value.as_deref() == Some("5")
        && e.reason.as_deref() == Some("Withdrawal confirmed by the investigator")));
    sync_b.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(b.readers().sync_counts().await.unwrap(), (0, 0, 0));
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// The demo dictionary's CSV lines without its screening instrument, and
/// the snippet's lines, as a data manager has them.
fn dictionary_without_screening() -> String {
    let demo = include_str!("../crates/sitedesk-core/src/forms/demo_dictionary.csv");
    demo.lines()
        .filter(|l| !l.starts_with("scr_"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Imports a data dictionary (CSV) or a form-event mapping into the
/// simulator with the data manager's token, as REDCap's API takes them.
async fn upload(sim: &RunningSim, content: &str, data: &str) {
    // The core's client installs the process's TLS provider reqwest needs.
    let _ = client(sim, DEMO_TOKEN, Duration::from_secs(10));
    let answer = reqwest::Client::new()
        .post(sim.api_url())
        .form(&[
            ("token", DEMO_TOKEN),
            ("content", content),
            ("format", "csv"),
            ("data", data),
        ])
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body = answer.text().await.unwrap();
    assert!(
        status.is_success(),
        "{content} import refused: {status} {body}"
    );
}

/// A project without the screening instrument: the log stays at the desk,
/// marked as not in the EDC's dictionary, and waits; once the data manager
/// uploads the snippet and designates it, the next sync sends it.
#[tokio::test]
async fn a_log_kept_at_the_desk_goes_out_once_the_snippet_is_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), "crc", Some("KPQ")).await;
    let sim = Simulator::start(SimConfig::new(
        Project::demo().with_status(edc_sim::ProjectStatus::Development),
    ))
    .await
    .unwrap();
    upload(&sim, "metadata", &dictionary_without_screening()).await;
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker);
    sync.run(&CancellationToken::new()).await.unwrap();
    let setup = store.readers().setup().await.unwrap().unwrap();
    let place = setup.screening.expect("the log has a place");
    assert!(!place.in_dictionary, "the EDC has no screening instrument");
    assert_eq!(
        setup.criteria.len(),
        5,
        "the snippet's checklist while the study has none"
    );

    let s = store
        .writer()
        .screen_subject(actor(), eligible("CD"))
        .await
        .unwrap();
    sync.run(&CancellationToken::new()).await.unwrap();
    let (waiting, records, _) = store.readers().sync_counts().await.unwrap();
    assert_eq!((waiting, records), (10, 1), "the log waits at the desk");
    let edc = client(&sim, DEMO_TOKEN, Duration::from_secs(10));
    let rows = edc
        .export_records(&RecordQuery {
            records: vec![s.id.clone()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty(), "nothing of it reached the EDC: {rows:?}");

    // The data manager uploads the snippet and designates it for the
    // screening visit.
    let snippet = sitedesk_core::metadata::screening::SCREENING_SNIPPET;
    let full = format!(
        "{}{}",
        dictionary_without_screening(),
        snippet
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    upload(&sim, "metadata", &full).await;
    let (_, design) = demo_forms();
    let mut mapping = String::from("arm_num,unique_event_name,form\n");
    for m in &design.mapping {
        mapping.push_str(&format!(
            "{},{},{}\n",
            m.arm_num, m.unique_event_name, m.form
        ));
    }
    upload(&sim, "formEventMapping", &mapping).await;

    sync.run(&CancellationToken::new()).await.unwrap();
    let setup = store.readers().setup().await.unwrap().unwrap();
    assert!(setup.screening.unwrap().in_dictionary);
    assert_eq!(store.readers().sync_counts().await.unwrap(), (0, 0, 0));
    let rows = edc
        .export_records(&RecordQuery {
            records: vec![s.id.clone()],
            events: vec!["screening_arm_1".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["scr_initials"], "CD");
    assert_eq!(rows[0]["scr_status"], "1");
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// A subject id this desk made that someone typed into the EDC for another
/// person before the desk synced: the desk takes nothing of the EDC's
/// record and sends nothing into it; the record is held until the
/// coordinator gives it a new id (audited), and then goes out under it.
#[tokio::test]
async fn an_id_the_edc_uses_for_another_record_is_held_then_renumbered() {
    let dir = tempfile::tempdir().unwrap();
    let store = sitedesk_tests::new_desk(dir.path(), "crc", Some("AAA")).await;
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let edc = client(&sim, DEMO_TOKEN_RIVERSIDE, Duration::from_secs(10));
    edc.import_records(
        &[row(&[
            ("record_id", "S01-AAA-0001"),
            ("redcap_event_name", "screening_arm_1"),
            ("scr_date", "2026-01-05"),
            ("scr_initials", "ZZ"),
            ("height_cm", "181"),
        ])],
        Overwrite::Normal,
    )
    .await
    .unwrap();
    let s = store
        .writer()
        .screen_subject(actor(), eligible("AB"))
        .await
        .unwrap();
    assert_eq!(s.id, "S01-AAA-0001");
    let tracker = TaskTracker::new();
    let sync = syncer(&store, &sim, &tracker);
    let report = sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(report.conflicts, 1, "{report:?}");
    let held = store.readers().id_collisions().await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].record_id, s.id);
    // Nothing mixed: each side keeps its own person.
    let mine = store.readers().subject(s.id.clone()).await.unwrap();
    assert_eq!(mine.screening.label, "AB");
    let values = store.readers().record_values(s.id.clone()).await.unwrap();
    assert!(values.iter().all(|v| v.field != "height_cm"), "{values:?}");
    let theirs = |id: &str| {
        let edc = edc.clone();
        let id = id.to_owned();
        async move {
            edc.export_records(&RecordQuery {
                records: vec![id],
                events: vec!["screening_arm_1".into()],
                ..RecordQuery::default()
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(theirs("S01-AAA-0001").await[0]["scr_initials"], "ZZ");
    // Runs leave it held.
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(store.readers().sync_counts().await.unwrap().2, 1);

    let new = store
        .writer()
        .renumber_record(actor(), s.id.clone())
        .await
        .unwrap();
    assert_eq!(new, "S01-AAA-0002");
    assert!(store.readers().id_collisions().await.unwrap().is_empty());
    sync.run(&CancellationToken::new()).await.unwrap();
    assert_eq!(store.readers().sync_counts().await.unwrap(), (0, 0, 0));
    assert_eq!(theirs(&new).await[0]["scr_initials"], "AB");
    assert_eq!(theirs("S01-AAA-0001").await[0]["scr_initials"], "ZZ");
    let audit = store.readers().subject_audit(new.clone()).await.unwrap();
    assert!(audit.iter().any(|e| e.field == "record_id"
        && e.old_value.as_deref() == Some("S01-AAA-0001")
        && e.new_value.as_deref() == Some(new.as_str())));
    // The EDC's record comes down as the site's, with its own values.
    let listed = store
        .readers()
        .subject("S01-AAA-0001".into())
        .await
        .unwrap();
    assert_eq!(listed.screening.label, "ZZ");
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}

/// With a token that sees every site (no group of its own), a new record
/// goes into the group of the desk's site; REDCap would leave it in none.
#[tokio::test]
async fn a_token_of_every_site_puts_new_records_in_the_desks_group() {
    use sitedesk_core::domain::{Site, Study};
    use sitedesk_core::store::StoreOptions;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("desk.sqlite3"),
        StoreOptions {
            desk_code: sitedesk_core::domain::DeskCode::parse("DM"),
            ..StoreOptions::default()
        },
        &TaskRegistry::new(),
    )
    .unwrap();
    let site = |id: &str, code: &str| Site {
        id: id.into(),
        code: code.into(),
        name: id.into(),
    };
    let study = Study {
        id: "DEMO-01".into(),
        title: "Demo".into(),
        enrollment_target: 40,
    };
    let w = store.writer();
    w.configure_study(
        actor(),
        study,
        vec![
            site(edc_sim::RIVERSIDE, "S01"),
            site(edc_sim::HILLVIEW, "S02"),
        ],
        edc_sim::RIVERSIDE.into(),
    )
    .await
    .unwrap();
    let (dictionary, design) = demo_forms();
    w.import_dictionary(actor(), dictionary, Some(design), "demo".into())
        .await
        .unwrap();
    let s = w.screen_subject(actor(), eligible("EF")).await.unwrap();
    let sim = Simulator::start(SimConfig::new(Project::demo()))
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let sync = Syncer::new(
        store.clone(),
        client(&sim, DEMO_TOKEN, Duration::from_secs(10)),
        TaskRegistry::new(),
        tracker.clone(),
        actor(),
        SyncConfig::default(),
    );
    sync.run(&CancellationToken::new()).await.unwrap();
    let rows = client(&sim, DEMO_TOKEN, Duration::from_secs(10))
        .export_records(&RecordQuery {
            records: vec![s.id.clone()],
            data_access_groups: true,
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.get("redcap_data_access_group").map(String::as_str)
                == Some(edc_sim::RIVERSIDE)),
        "{rows:?}"
    );
    tracker.close();
    tracker.wait().await;
    sim.shutdown().await;
}
