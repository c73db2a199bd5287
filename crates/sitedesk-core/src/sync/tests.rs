use std::time::Duration;

use super::decide::{Decision, Layout, decide};
use super::retry::{Breaker, BreakerState, RetryPolicy};
use crate::domain::Cell;
use crate::edc::{EdcError, FlatRow};
use crate::forms::demo_forms;
use crate::metadata::design::Design;
use crate::metadata::{FieldType, parse_csv};

#[test]
fn each_case_of_the_three_way_comparison() {
    // Server unchanged since the base: push.
    assert_eq!(decide("72", Some("70"), "70"), Decision::Push("72".into()));
    // A value the EDC never had: push.
    assert_eq!(decide("72", None, ""), Decision::Push("72".into()));
    // Clearing a value: push the blank.
    assert_eq!(decide("", Some("70"), "70"), Decision::Push(String::new()));
    // Local unchanged (edited back to the base): take the server's.
    assert_eq!(decide("70", Some("70"), "75"), Decision::TakeTheirs);
    // Both changed to the same value: nothing to do.
    assert_eq!(decide("72", Some("70"), "72"), Decision::Same);
    // Both changed differently: a conflict.
    assert_eq!(decide("72", Some("70"), "75"), Decision::Conflict);
    // Both entered a first value, differently: a conflict too.
    assert_eq!(decide("72", None, "75"), Decision::Conflict);
}

fn cell(record: &str, event: &str, instance: u32, field: &str) -> Cell {
    Cell {
        record_id: record.into(),
        event: event.into(),
        instance,
        field: field.into(),
    }
}

#[test]
fn cells_become_flat_rows_and_back() {
    let (d, design) = demo_forms();
    let layout = Layout::new(&d, &design);
    let rows = layout.rows(&[
        (cell("S01-1", "baseline_arm_1", 1, "sbp"), "120".into()),
        (
            cell("S01-1", "baseline_arm_1", 1, "meds___2"),
            String::new(),
        ),
        (
            cell("S01-1", "baseline_arm_1", 2, "ae_term"),
            "Headache".into(),
        ),
    ]);
    let plain = FlatRow::from([
        ("record_id".to_string(), "S01-1".to_string()),
        (
            "redcap_event_name".to_string(),
            "baseline_arm_1".to_string(),
        ),
        ("sbp".to_string(), "120".to_string()),
        ("meds___2".to_string(), "0".to_string()),
    ]);
    let repeating = FlatRow::from([
        ("record_id".to_string(), "S01-1".to_string()),
        (
            "redcap_event_name".to_string(),
            "baseline_arm_1".to_string(),
        ),
        (
            "redcap_repeat_instrument".to_string(),
            "adverse_events".to_string(),
        ),
        ("redcap_repeat_instance".to_string(), "2".to_string()),
        ("ae_term".to_string(), "Headache".to_string()),
    ]);
    assert_eq!(rows, vec![plain.clone(), repeating.clone()]);
    let mut back = layout.cells(&plain);
    back.extend(layout.cells(&repeating));
    back.sort();
    assert_eq!(
        back,
        vec![
            (
                cell("S01-1", "baseline_arm_1", 1, "meds___2"),
                String::new()
            ),
            (cell("S01-1", "baseline_arm_1", 1, "sbp"), "120".into()),
            (
                cell("S01-1", "baseline_arm_1", 2, "ae_term"),
                "Headache".into()
            ),
        ]
    );
    // The plain row's blank columns of a repeating form are not instance 1.
    let mut with_blank_ae = plain.clone();
    with_blank_ae.insert("ae_term".into(), String::new());
    assert!(
        layout
            .cells(&with_blank_ae)
            .iter()
            .all(|(c, _)| c.field != "ae_term")
    );
    assert!(layout.pushable("sbp") && layout.pushable("meds___2"));
    assert!(layout.pushable("vitals_complete"));
    assert!(!layout.pushable("bmi") && layout.is_calc("bmi"));
    assert!(!layout.pushable("record_id") && !layout.pushable("shoe_size"));
    assert_eq!(layout.field_of("meds___2"), Some("meds"));
    assert_eq!(layout.field_of("vitals_complete"), Some("vitals_complete"));
}

#[test]
fn backoff_is_jittered_bounded_and_honours_retry_after() {
    let p = RetryPolicy {
        attempts: 5,
        base: Duration::from_millis(100),
        cap: Duration::from_millis(800),
    };
    let timeout = EdcError::Timeout;
    for attempt in 0..10 {
        let ceiling = Duration::from_millis(100 * (1 << attempt.min(3)));
        for _ in 0..50 {
            assert!(p.backoff(attempt, &timeout) <= ceiling.min(p.cap));
        }
    }
    let waits: std::collections::BTreeSet<Duration> =
        (0..50).map(|_| p.backoff(3, &timeout)).collect();
    assert!(waits.len() > 5, "jittered: {waits:?}");
    let after = |secs| EdcError::RateLimited {
        retry_after: Some(Duration::from_millis(secs)),
    };
    assert_eq!(p.backoff(0, &after(300)), Duration::from_millis(300));
    // A longer Retry-After is capped: the attempts run out and the next
    // run, which the scheduler spaces, tries again.
    assert_eq!(p.backoff(0, &after(3_000)), p.cap);
    assert_eq!(p.backoff(0, &after(u64::MAX)), p.cap);
}

#[test]
fn the_breaker_opens_after_failures_and_lets_one_probe_through() {
    let b = Breaker::new(3, Duration::from_secs(60));
    assert_eq!(b.state(), BreakerState::Closed);
    for _ in 0..3 {
        assert!(b.admit().is_ok());
        b.failure();
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert!(b.admit().is_err(), "no call while open");
    // With the cool-down over (none here), one probe goes through.
    let b = Breaker::new(2, Duration::ZERO);
    b.failure();
    b.failure();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.admit().is_ok(), "one probe");
    assert!(b.admit().is_err(), "only one");
    b.success();
    assert_eq!(b.state(), BreakerState::Closed);
    assert!(b.admit().is_ok());
}

#[tokio::test]
async fn the_scheduler_starts_once_and_stops_with_the_app() {
    use super::scheduler::Scheduler;
    use crate::tasks::{TaskKind, TaskRegistry};
    let registry = TaskRegistry::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let app = tokio_util::sync::CancellationToken::new();
    let s = Scheduler::new(Duration::from_secs(600));
    assert!(s.start(&tracker, app.clone(), &registry, || None));
    assert!(
        !s.start(&tracker, app.clone(), &registry, || None),
        "twice is a no-op"
    );
    let schedulers = registry
        .snapshot()
        .iter()
        .filter(|t| t.kind == TaskKind::Scheduler)
        .count();
    assert_eq!(schedulers, 1);
    s.sync_now();
    assert!(!s.cancel(), "no run to cancel without an EDC");
    app.cancel();
    tracker.close();
    tracker.wait().await;
    assert_eq!(registry.live_count(), 0);
}

#[test]
fn a_page_of_long_values_is_cut_into_batches_by_bytes_never_inside_a_record() {
    use super::split_by_bytes;
    use crate::store::sync::PendingCell;
    let pending = |record: &str, field: &str, len: usize| PendingCell {
        cell: cell(record, "baseline_arm_1", 1, field),
        through: 1,
        sent: vec!["x".repeat(len)],
        held: false,
    };
    let page = vec![
        pending("S-1", "notes", 400),
        pending("S-1", "sbp", 3),
        pending("S-2", "notes", 400),
        pending("S-3", "notes", 2000),
        pending("S-4", "sbp", 3),
        pending("S-5", "sbp", 3),
    ];
    let records = |batches: &[Vec<PendingCell>]| -> Vec<Vec<String>> {
        batches
            .iter()
            .map(|b| b.iter().map(|c| c.cell.record_id.clone()).collect())
            .collect()
    };
    assert_eq!(
        records(&split_by_bytes(page.clone(), 1000)),
        [
            vec!["S-1", "S-1", "S-2"],
            // Larger than the bound alone: a batch of its own.
            vec!["S-3"],
            vec!["S-4", "S-5"],
        ]
    );
    assert_eq!(
        records(&split_by_bytes(page.clone(), 500)),
        [
            vec!["S-1", "S-1"],
            vec!["S-2"],
            vec!["S-3"],
            vec!["S-4", "S-5"]
        ]
    );
    let whole = split_by_bytes(page.clone(), usize::MAX);
    assert_eq!(whole, [page]);
    assert!(split_by_bytes(Vec::new(), 10).is_empty());
}

/// A new interval reschedules the next run; it does not start one. (It did,
/// and an interval set at start made a cancelled run start again at once.)
#[tokio::test(start_paused = true)]
async fn a_new_interval_reschedules_without_running_and_sync_now_runs() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::scheduler::Scheduler;
    use crate::tasks::TaskRegistry;
    let (registry, tracker) = (TaskRegistry::new(), tokio_util::task::TaskTracker::new());
    let app = tokio_util::sync::CancellationToken::new();
    let s = Scheduler::new(Duration::from_secs(600));
    // What the app does at start: the saved interval, then the loop.
    s.set_interval(Duration::from_secs(900));
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    s.start(&tracker, app.clone(), &registry, move || {
        counted.fetch_add(1, Ordering::SeqCst);
        None
    });
    let settle = || async {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
    };
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the run at start");
    s.set_interval(Duration::from_secs(300));
    settle().await;
    tokio::time::advance(Duration::from_secs(299)).await;
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "no run for a new interval");
    tokio::time::advance(Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the new interval elapsed");
    s.sync_now();
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 3, "Sync now");
    app.cancel();
    tracker.close();
    tracker.wait().await;
}

/// Fields computed from `@CALCTEXT` and `@CALCDATE` are the EDC's to
/// compute, as calcs: never pushed. A checkbox has a column per
/// missing-data code, which is pushed like its choices.
#[test]
fn sync_never_sends_what_calctext_and_calcdate_compute() {
    let d = parse_csv(
        b"field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
record_id,v,,text,ID,,,,,,,,,,,,,
age,v,,text,Age,,,integer,,,,,,,,,,
visit_date,v,,text,Visit,,,date_ymd,,,,,,,,,,
age_group,v,,text,Group,,,,,,,,,,,,,\"@CALCTEXT(if([age] >= 18, 'adult', 'minor'))\"
next_visit,v,,text,Next,,,date_ymd,,,,,,,,,,\"@CALCDATE([visit_date], 7, 'd')\"
locked,v,,text,Locked,,,,,,,,,,,,,@READONLY
symptoms,v,,checkbox,Symptoms,\"1, Cough | 99, None\",,,,,,,,,,,,@NONEOFTHEABOVE=99
",
    )
    .unwrap();
    let design = Design::default().with_missing_codes("UNK, Unknown");
    let layout = Layout::new(&d, &design);
    for f in ["age_group", "next_visit"] {
        assert!(layout.is_calc(f) && !layout.pushable(f), "{f}");
    }
    for f in ["age", "locked", "symptoms___99", "symptoms___unk"] {
        assert!(!layout.is_calc(f) && layout.pushable(f), "{f}");
    }
}

/// A flat row of the demo study with every column an export with full
/// rights shows, less `without` (fields, or a form status by its name).
fn full_row(layout: &Layout<'_>, without: &[&str]) -> FlatRow {
    let mut row = FlatRow::new();
    for f in &layout.dictionary.fields {
        if without.contains(&f.name.as_str()) || f.field_type == FieldType::Descriptive {
            continue;
        }
        if f.field_type == FieldType::Checkbox {
            for c in &f.choices {
                row.insert(crate::forms::choice_field(&f.name, &c.code), "0".into());
            }
        } else {
            row.insert(f.name.clone(), String::new());
        }
    }
    for i in layout.dictionary.instruments() {
        let status = crate::forms::status_field(&i.name);
        if !without.contains(&status.as_str()) {
            row.insert(status, String::new());
        }
    }
    row.insert("redcap_event_name".into(), "baseline_arm_1".into());
    row
}

fn sorted(set: std::collections::HashSet<String>) -> Vec<String> {
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort();
    v
}

/// REDCap leaves out the columns a token may not export and, under
/// "De-Identified", shifts dates: the desk takes neither as the EDC's
/// value. The expected sets are read off the demo dictionary: `dob` is
/// the only identifier of demographics, which has no free text;
/// `visit_notes` is the vitals' free text and `visit_date` its date;
/// the screening log's `scr_initials` is an identifier beside free text
/// (`scr_consent_version`, `scr_status_reason_other`).
#[test]
fn columns_an_export_leaves_out_or_shifts_are_unseen() {
    let (d, design) = demo_forms();
    let layout = Layout::new(&d, &design);
    // Full rights, or no rows to tell: nothing unseen.
    assert!(layout.unseen(&[full_row(&layout, &[])], None).is_empty());
    assert!(layout.unseen(&[], None).is_empty());
    // "Remove All Identifier Fields" on the screening log: its free text
    // is shown, so its dates are as stored.
    assert_eq!(
        sorted(layout.unseen(&[full_row(&layout, &["scr_initials"])], None)),
        ["scr_initials"]
    );
    // "De-Identified" on the vitals: the notes are left out, so the visit
    // date is shifted.
    assert_eq!(
        sorted(layout.unseen(&[full_row(&layout, &["visit_notes"])], None)),
        ["visit_date", "visit_notes"]
    );
    // An identifier left out of a form without free text: the form's
    // dates may be shifted; the desk does not take them.
    assert_eq!(
        sorted(layout.unseen(&[full_row(&layout, &["dob"])], None)),
        ["dob"]
    );
    // A form without access: every column of it, status and each
    // checkbox choice included.
    let meds: Vec<&str> = vec![
        "meds",
        "meds_other",
        "insulin_units",
        "medications_complete",
    ];
    let mut expected: Vec<String> = layout
        .dictionary
        .field("meds")
        .unwrap()
        .choices
        .iter()
        .map(|c| crate::forms::choice_field("meds", &c.code))
        .chain(
            design
                .missing_codes
                .iter()
                .map(|m| crate::forms::choice_field("meds", &m.code)),
        )
        .chain(["meds_other", "insulin_units", "medications_complete"].map(String::from))
        .collect();
    expected.sort();
    assert_eq!(
        sorted(layout.unseen(&[full_row(&layout, &meds)], None)),
        expected
    );
    // Only the fields asked count: a push asking for the vitals' numbers
    // alone cannot tell about their date.
    let asked: std::collections::BTreeSet<String> = ["record_id", "sbp"].map(String::from).into();
    let mut row = FlatRow::new();
    row.insert("record_id".into(), "S01-1".into());
    row.insert("sbp".into(), "120".into());
    assert!(layout.unseen(&[row.clone()], Some(&asked)).is_empty());
    // With the vitals' free text asked beside them and left out, it can.
    let probes = layout.probes(&["vitals"].into());
    assert_eq!(probes, ["vitals_complete", "visit_notes"]);
    let asked: std::collections::BTreeSet<String> =
        ["record_id", "sbp", "visit_date", "visit_notes"]
            .map(String::from)
            .into();
    row.insert("visit_date".into(), "2026-01-02".into());
    assert_eq!(
        sorted(layout.unseen(&[row], Some(&asked))),
        ["visit_date", "visit_notes"]
    );
}
