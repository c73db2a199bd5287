use super::*;
use tokio_util::sync::CancellationToken;

#[test]
fn a_task_moves_from_live_to_finished() {
    let reg = TaskRegistry::new();
    let task = reg.thread("SQLite writer", TaskKind::Writer);
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
    let parent = reg.task("run", TaskKind::SyncRun, &CancellationToken::new());
    let child = parent.child("job", TaskKind::SyncJob);
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
        let _guard = r.task("doomed", TaskKind::Export, &CancellationToken::new());
        panic!("boom");
    })
    .join();
    assert_eq!(reg.snapshot()[0].state, TaskState::Failed);
}

#[test]
fn finished_tasks_are_bounded() {
    let reg = TaskRegistry::with_finished_kept(10);
    for i in 0..100 {
        reg.task(
            format!("batch {i}"),
            TaskKind::SyncBatch,
            &CancellationToken::new(),
        )
        .finish(TaskState::Done);
    }
    let snap = reg.snapshot();
    assert_eq!(snap.len(), 10);
    assert_eq!(snap[0].name, "batch 99", "newest first");
    assert_eq!(snap[9].name, "batch 90");
}

#[tokio::test]
async fn cancelling_a_subtree_stops_its_tasks_and_a_task_that_ignores_its_token_is_stuck() {
    let reg = TaskRegistry::new();
    let app = CancellationToken::new();
    let run = reg.task("run", TaskKind::SyncRun, &app);
    let good = run.child("batch that stops", TaskKind::SyncBatch);
    let good_token = good.token().clone();
    let bad = run.child("batch that ignores its token", TaskKind::SyncBatch);
    let other = reg.task("another run", TaskKind::SyncRun, &app);
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
    assert!(
        !other.token().is_cancelled(),
        "a sibling's token is its own"
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
fn a_child_has_its_own_token_below_its_parents() {
    let reg = TaskRegistry::new();
    let app = CancellationToken::new();
    let run = reg.task("run", TaskKind::SyncRun, &app);
    let job = run.child("job", TaskKind::SyncJob);
    let one = job.child("batch 1", TaskKind::SyncBatch);
    let two = job.child("batch 2", TaskKind::SyncBatch);

    reg.cancel_subtree(one.id());
    assert!(one.token().is_cancelled());
    assert!(
        !two.token().is_cancelled() && !job.token().is_cancelled(),
        "cancelling one batch stops that batch alone"
    );

    let three = job.child("batch 3", TaskKind::SyncBatch);
    reg.cancel_subtree(job.id());
    assert!(two.token().is_cancelled() && three.token().is_cancelled());
    assert!(!run.token().is_cancelled(), "a job's cancel stays below it");

    let other = reg.task("another run", TaskKind::SyncRun, &app);
    app.cancel();
    assert!(run.token().is_cancelled() && other.token().is_cancelled());
}

#[test]
fn a_task_ends_in_the_state_its_result_says() {
    #[derive(Debug)]
    enum E {
        Stopped,
        Broke,
    }
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(match self {
                E::Stopped => "stopped",
                E::Broke => "broke",
            })
        }
    }
    impl TaskError for E {
        fn is_cancelled(&self) -> bool {
            matches!(self, E::Stopped)
        }
    }
    let reg = TaskRegistry::new();
    let app = CancellationToken::new();
    reg.task("ok", TaskKind::Export, &app).end(&Ok::<(), E>(()));
    reg.task("cancelled", TaskKind::Export, &app)
        .end(&Err::<(), E>(E::Stopped));
    reg.task("failed", TaskKind::Export, &app)
        .end(&Err::<(), E>(E::Broke));
    let snap = reg.snapshot();
    let end = |name: &str| {
        let t = snap.iter().find(|t| t.name == name).unwrap();
        (t.state, t.last_error.clone())
    };
    assert_eq!(end("ok"), (TaskState::Done, None));
    assert_eq!(end("cancelled"), (TaskState::Cancelled, None));
    assert_eq!(end("failed"), (TaskState::Failed, Some("broke".into())));
}

#[test]
fn services_and_threads_are_not_offered_for_cancel() {
    let reg = TaskRegistry::new();
    let app = CancellationToken::new();
    let service = reg.service("Sync scheduler", TaskKind::Scheduler, &app);
    let thread = reg.thread("SQLite writer", TaskKind::Writer);
    let task = reg.task("CPU profile", TaskKind::Profiler, &app);
    let cancellable = |id: TaskId| {
        reg.snapshot()
            .into_iter()
            .find(|t| t.id == id)
            .unwrap()
            .cancellable
    };
    assert!(!cancellable(service.id()) && !cancellable(thread.id()));
    assert!(cancellable(task.id()));
    app.cancel();
    assert!(
        service.token().is_cancelled(),
        "a service stops with the app"
    );
    assert!(!thread.token().is_cancelled());
}

#[test]
fn a_task_waiting_to_retry_shows_its_attempts_and_when_it_tries_again() {
    let reg = TaskRegistry::new();
    let task = reg.task(
        "Push batch 1/1",
        TaskKind::SyncBatch,
        &CancellationToken::new(),
    );
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
