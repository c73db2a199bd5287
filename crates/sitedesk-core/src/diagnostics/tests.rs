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
