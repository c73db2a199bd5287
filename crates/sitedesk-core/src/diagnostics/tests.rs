use super::*;

#[test]
fn a_task_moves_from_live_to_finished() {
    let reg = TaskRegistry::new();
    let task = reg.register("SQLite writer", TaskKind::Writer, None);
    assert_eq!(reg.snapshot()[0].state, TaskState::Queued);
    task.set_state(TaskState::Running);
    task.set_progress(3, 12);
    let snap = reg.snapshot();
    assert_eq!(
        (snap[0].state, snap[0].progress),
        (TaskState::Running, Some((3, 12)))
    );
    assert_eq!(reg.live_count(), 1);
    task.finish(TaskState::Failed);
    assert_eq!(reg.live_count(), 0);
    assert_eq!(reg.snapshot()[0].state, TaskState::Failed);
}

#[test]
fn a_dropped_guard_ends_its_task() {
    let reg = TaskRegistry::new();
    let parent = reg.register("run", TaskKind::SyncRun, None);
    let child = reg.register("job", TaskKind::SyncJob, Some(parent.id()));
    assert_eq!(reg.snapshot()[1].parent, Some(parent.id()));
    drop(child);
    assert_eq!(reg.live_count(), 1);
    let done = reg
        .snapshot()
        .into_iter()
        .find(|t| t.name == "job")
        .unwrap();
    assert_eq!(done.state, TaskState::Done);
}

#[test]
fn a_panicking_task_is_recorded_as_failed() {
    let reg = TaskRegistry::new();
    let r = reg.clone();
    let _ = std::thread::spawn(move || {
        let _guard = r.register("doomed", TaskKind::Export, None);
        panic!("boom");
    })
    .join();
    assert_eq!(reg.snapshot()[0].state, TaskState::Failed);
}

#[test]
fn finished_tasks_are_bounded() {
    let reg = TaskRegistry::with_finished_kept(10);
    for i in 0..100 {
        reg.register(format!("batch {i}"), TaskKind::SyncBatch, None)
            .finish(TaskState::Done);
    }
    let snap = reg.snapshot();
    assert_eq!(snap.len(), 10);
    assert_eq!(snap[0].name, "batch 99", "newest first");
    assert_eq!(snap[9].name, "batch 90");
}

#[tokio::test]
async fn cancelling_a_subtree_stops_its_tasks_and_a_task_that_ignores_its_token_is_stuck() {
    use tokio_util::sync::CancellationToken;
    let reg = TaskRegistry::new();
    let run_token = CancellationToken::new();
    let run = reg.register_cancellable("run", TaskKind::SyncRun, None, Some(run_token.clone()));
    let good_token = run_token.child_token();
    let good = reg.register_cancellable(
        "batch that stops",
        TaskKind::SyncBatch,
        Some(run.id()),
        Some(good_token.clone()),
    );
    let bad = reg.register_cancellable(
        "batch that ignores its token",
        TaskKind::SyncBatch,
        Some(run.id()),
        Some(run_token.child_token()),
    );
    let other = reg.register("another run", TaskKind::SyncRun, None);
    let behaving = tokio::spawn(async move {
        good_token.cancelled().await;
        good.finish(TaskState::Cancelled);
    });
    assert!(reg.lints_after(std::time::Duration::ZERO).is_empty());

    assert_eq!(reg.cancel_subtree(run.id()), 3);
    behaving.await.unwrap();
    let snap = reg.snapshot();
    let state = |name: &str| snap.iter().find(|t| t.name == name).unwrap().state;
    assert_eq!(state("batch that stops"), TaskState::Cancelled);
    assert_eq!(state("batch that ignores its token"), TaskState::Cancelling);
    assert_eq!(
        state("another run"),
        TaskState::Queued,
        "outside the subtree"
    );
    let lints = reg.lints_after(std::time::Duration::ZERO);
    let stuck: Vec<&str> = lints
        .iter()
        .filter_map(|l| match l {
            Lint::StuckAfterCancel { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(stuck, vec!["run", "batch that ignores its token"]);
    assert!(
        reg.lints().is_empty(),
        "within the grace period nothing is stuck yet"
    );
    drop((bad, run, other));
}

#[test]
fn the_log_ring_stays_bounded_and_redacts_fields_that_may_hold_patient_data() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = logs::LogBuffer::new(5);
    let subscriber = tracing_subscriber::registry().with(buffer.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..12 {
            tracing::info!(count = i, "saved");
        }
        tracing::warn!(
            value = "CANARY-4711",
            field = "dob",
            records = 3,
            "import refused"
        );
    });
    assert_eq!(buffer.len(), 5, "bounded");
    let lines = buffer.lines("INFO", "", 100);
    let last = &lines.last().unwrap().message;
    assert!(!last.contains("CANARY-4711"), "{last}");
    assert!(
        last.contains("value=[redacted]") && last.contains("records=3"),
        "{last}"
    );
    assert_eq!(buffer.lines("WARN", "", 100).len(), 1);
    assert_eq!(buffer.lines("INFO", "saved", 100).len(), 4);
    assert_eq!(buffer.lines("INFO", "", 2).len(), 2);
}

#[test]
fn the_metrics_history_keeps_fifteen_minutes_and_reads_the_process() {
    let h = metrics::History::default();
    for i in 0..(metrics::SAMPLES as i64 + 50) {
        h.push(metrics::Sample {
            at_ms: i,
            ..metrics::Sample::default()
        });
    }
    let all = h.all();
    assert_eq!(all.len(), metrics::SAMPLES);
    assert_eq!(all[0].at_ms, 50, "the oldest went first");
    let p = metrics::ProcessStats::now();
    assert!(
        p.rss_mb > 1.0 && p.threads >= 1 && p.open_files >= 1,
        "{p:?}"
    );
}

fn sample(second: i64, tokio_tasks: u32, registry_tasks: u32) -> metrics::Sample {
    metrics::Sample {
        at_ms: second * 1000,
        tokio_tasks,
        registry_tasks,
        commits_per_sec: 1.0,
        ..metrics::Sample::default()
    }
}

#[test]
fn tasks_piling_up_outside_the_registry_are_reported_and_request_bursts_are_not() {
    let h = metrics::History::default();
    // Two quiet minutes: 8 untracked tasks, with bursts of 40 (requests).
    for i in 0..120 {
        let burst = if i % 7 == 0 { 40 } else { 0 };
        h.push(sample(i, 10 + 8 + burst, 10));
    }
    assert!(h.lints().is_empty(), "bursts come and go: {:?}", h.lints());
    // Then tasks that never end: one more every second for a minute and a
    // half, still with bursts.
    for i in 0..90 {
        let burst = if i % 7 == 0 { 40 } else { 0 };
        h.push(sample(120 + i, 10 + 8 + i as u32 + burst, 10));
    }
    let lints = h.lints();
    assert!(
        matches!(lints.as_slice(), [Lint::TasksOutsideRegistry { extra, .. }] if *extra >= metrics::UNTRACKED_GROWTH),
        "{lints:?}"
    );
}

#[test]
fn a_writer_with_waiting_edits_and_no_commit_is_reported_as_stalled() {
    let h = metrics::History::default();
    let stalled = |s: i64, queued: u32| metrics::Sample {
        writer_queued: queued,
        commits_per_sec: 0.0,
        ..sample(s, 5, 5)
    };
    for i in 0..5 {
        h.push(sample(i, 5, 5));
    }
    for i in 0..9 {
        h.push(stalled(5 + i, 3 + i as u32));
    }
    assert!(h.lints().is_empty(), "9 s is within the bound");
    h.push(stalled(14, 12));
    assert_eq!(
        h.lints(),
        vec![Lint::WriterStalled {
            queued: 12,
            seconds: metrics::WRITER_STALL_SECONDS as u64
        }]
    );
    // A commit clears it; an idle writer (nothing queued) is not stalled.
    h.push(sample(15, 5, 5));
    h.push(metrics::Sample {
        commits_per_sec: 0.0,
        ..sample(16, 5, 5)
    });
    assert!(h.lints().is_empty());
}

#[test]
fn a_task_waiting_to_retry_shows_its_attempts_and_when_it_tries_again() {
    let reg = TaskRegistry::new();
    let task = reg.register("Push batch 1/1", TaskKind::SyncBatch, None);
    task.set_state(TaskState::Running);
    let before = chrono::Utc::now();
    task.waiting_to_retry(2, std::time::Duration::from_secs(4));
    let snap = &reg.snapshot()[0];
    assert_eq!((snap.state, snap.attempts), (TaskState::Waiting, 2));
    let at = snap.retry_at.expect("a retry time");
    assert!(
        at >= before + chrono::Duration::seconds(4),
        "{at} vs {before}"
    );
    task.set_state(TaskState::Running);
    let snap = &reg.snapshot()[0];
    assert_eq!(
        (snap.retry_at, snap.attempts),
        (None, 2),
        "trying again now"
    );
    task.finish(TaskState::Done);
}
