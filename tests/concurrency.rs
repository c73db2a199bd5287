//! Enrollment under concurrency: the single writer makes lost updates
//! impossible, so 1000 enrollments from 50 tasks give exactly 1000 subjects
//! with distinct ids, and every count matches the rows.

use std::collections::{BTreeMap, HashSet};

use chrono::Local;
use rusqlite::Connection;
use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::domain::{
    Action, Actor, Answer, CriterionKind, DeskCode, ScreeningInput, SubjectStatus, demo_study,
};
use sitedesk_core::forms::demo_forms;
use sitedesk_core::store::{InstrumentInForce, Store, StoreOptions, SubjectFilter};

const TASKS: usize = 50;
const PER_TASK: usize = 20;

fn eligible(label: String) -> ScreeningInput {
    let today = Local::now().date_naive().to_string();
    let (d, design) = demo_forms();
    let eligibility: BTreeMap<String, Answer> = InstrumentInForce::of(&d, &design)
        .unwrap()
        .criteria()
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
        screening_date: today.clone(),
        label,
        consent_date: Some(today),
        consent_version: Some("v1.0".into()),
        eligibility,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_enrollments_from_fifty_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TaskRegistry::new();
    let options = StoreOptions {
        desk_code: DeskCode::parse("K7Q"),
        ..StoreOptions::default()
    };
    let store = Store::open(&dir.path().join("desk.sqlite3"), options, &registry).unwrap();
    let (study, sites) = demo_study();
    let setup_actor = Actor {
        account: "setup".into(),
        display_name: String::new(),
        login: None,
    };
    store
        .writer()
        .configure_study(setup_actor.clone(), study, sites, "s01".into())
        .await
        .unwrap();
    let (dictionary, design) = demo_forms();
    store
        .writer()
        .import_dictionary(setup_actor, dictionary, Some(design), "demo".into())
        .await
        .unwrap();

    let today = Local::now().date_naive();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let writer = store.writer().clone();
        tasks.push(tokio::spawn(async move {
            let actor = Actor {
                account: format!("crc{t}"),
                display_name: String::new(),
                login: None,
            };
            let mut ids = Vec::new();
            for i in 0..PER_TASK {
                let label = format!("T{t}N{i}");
                let s = writer
                    .screen_subject(actor.clone(), eligible(label))
                    .await
                    .unwrap();
                let s = writer
                    .apply_action(
                        actor.clone(),
                        s.id,
                        Action::Enroll {
                            enrollment_date: today,
                        },
                    )
                    .await
                    .unwrap();
                assert_eq!(s.status, SubjectStatus::Enrolled);
                ids.push(s.id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }

    let total = TASKS * PER_TASK;
    assert_eq!(ids.len(), total);
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), total, "every enrollment got its own id");
    let mut seqs: Vec<u32> = ids
        .iter()
        .map(|id| id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=total as u32).collect::<Vec<_>>(),
        "the sequence has no gap and no repeat"
    );

    // What the UI shows: the list and the counts.
    let readers = store.readers();
    let listed = readers.subjects(SubjectFilter::default()).await.unwrap();
    assert_eq!(listed.len(), total);
    let counts = readers.status_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].site_id.as_str(),
            counts[0].status,
            counts[0].count as usize
        ),
        ("s01", SubjectStatus::Enrolled, total)
    );
    let enrolled = readers
        .subjects(SubjectFilter {
            status: Some(SubjectStatus::Enrolled),
            site_id: Some("s01".into()),
            search: None,
        })
        .await
        .unwrap();
    assert_eq!(enrolled.len(), total);

    // What an inspector checks directly in the file.
    store.close().await;
    let c = Connection::open(dir.path().join("desk.sqlite3")).unwrap();
    let q = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(q("SELECT count(*) FROM subject"), total as i64);
    assert_eq!(q("SELECT count(DISTINCT id) FROM subject"), total as i64);
    assert_eq!(
        q("SELECT next FROM subject_sequence WHERE site_id = 's01'"),
        total as i64 + 1
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM audit WHERE entity = 'record' AND field = 'scr_status' AND new_value = '3'"
        ),
        total as i64
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM audit a LEFT JOIN outbox o ON o.audit_id = a.id WHERE a.entity = 'record' AND o.id IS NULL"
        ),
        0
    );
}
