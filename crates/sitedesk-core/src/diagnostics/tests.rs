use super::*;

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
