//! Pull throughput: N records pulled into an empty desk, against one
//! whole-project export by a plain HTTP client in the same run, the
//! desk's peak RSS growth, and a pull cancelled at a random export and
//! run again, which must end with every record.
//!
//! The simulator (its own process) is seeded through its API, as a data
//! manager loads a project: `import_records` with the site's token, 1,000
//! records a request. Each record has two rows of REDCap's flat export, its
//! screening event (date of birth, sex, height, weight) and its baseline
//! visit (date, blood pressure, glucose), so eight values and a status of
//! each form.
//!
//! The part runs in a process of its own (`main` starts one when other
//! parts run too), and the desk's pull before the baseline: memory freed
//! by another part or by the baseline's answer could otherwise be reused
//! by the pull unseen by its RSS.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edc_sim::DEMO_TOKEN_RIVERSIDE;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::edc::metrics::CallMetrics;
use sitedesk_core::edc::{FlatRow, Overwrite};
use sitedesk_core::store::Store;
use sitedesk_core::sync::{SyncConfig, SyncError, Syncer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Meter, RSS_TARGET_MB, SimProcess, client, desk, syncer};

/// Records a seeding request carries (two rows each).
const SEED_BATCH: u64 = 1_000;
/// Columns of a flat row that locate it rather than hold a value.
const ROW_KEYS: [&str; 5] = [
    "record_id",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
];

fn record_id(i: u64) -> String {
    format!("S01-PUL-{i:06}")
}

/// Record `i`'s two flat rows, every value in the form the desk stores.
fn rows(i: u64) -> [FlatRow; 2] {
    let row = |event: &str, values: [(&str, String); 4]| -> FlatRow {
        let mut row = FlatRow::new();
        row.insert("record_id".into(), record_id(i));
        row.insert("redcap_event_name".into(), event.into());
        row.extend(values.map(|(k, v)| (k.to_owned(), v)));
        row
    };
    [
        row(
            "screening_arm_1",
            [
                (
                    "dob",
                    format!("19{}-{:02}-{:02}", 50 + i % 40, 1 + i % 12, 1 + i % 28),
                ),
                ("sex", (1 + i % 2).to_string()),
                ("height_cm", (150 + i % 50).to_string()),
                ("weight_kg", format!("{}.{}", 50 + i % 80, i % 10)),
            ],
        ),
        row(
            "baseline_arm_1",
            [
                (
                    "visit_date",
                    format!("2025-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                ),
                ("sbp", (100 + i % 60).to_string()),
                ("dbp", (60 + i % 40).to_string()),
                ("glucose", format!("{}.{}", 4 + i % 8, i % 10)),
            ],
        ),
    ]
}

/// FNV-1a, 64 bits: a stable hash for the checksum of values.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0x1f]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// What a set of records holds: records, cells, and an order-independent
/// checksum over each cell's record, event, instance, field and value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Held {
    records: u64,
    cells: u64,
    checksum: u64,
}

impl Held {
    fn add(&mut self, record: &str, event: &str, instance: &str, field: &str, value: &str) {
        self.cells += 1;
        self.checksum = self
            .checksum
            .wrapping_add(fnv(&[record, event, instance, field, value]));
    }
}

/// What flat rows hold: every value cell, but blanks and unticked
/// checkbox choices (`field___code` exported as `0`), which REDCap exports
/// and the desk keeps as no value (a ticked choice is `1`).
fn held_in_rows<'a>(rows: impl IntoIterator<Item = &'a FlatRow>) -> Held {
    let mut held = Held::default();
    let mut ids = BTreeSet::new();
    for row in rows {
        let Some(id) = row.get("record_id") else {
            continue;
        };
        ids.insert(id.clone());
        let get = |k: &str| row.get(k).map_or("", String::as_str);
        let instance = match get("redcap_repeat_instance") {
            "" => "1",
            n => n,
        };
        for (field, value) in row {
            let unticked = field.contains("___") && value == "0";
            if !value.is_empty() && !unticked && !ROW_KEYS.contains(&field.as_str()) {
                held.add(id, get("redcap_event_name"), instance, field, value);
            }
        }
    }
    held.records = ids.len() as u64;
    held
}

/// What the desk holds, read record by record through its readers.
async fn held_in_desk(store: &Store) -> Held {
    let readers = store.readers();
    let mut held = Held::default();
    for record in readers.edc_records().await.expect("records") {
        held.records += 1;
        let id = record.record_id;
        for v in readers.record_values(id.clone()).await.expect("values") {
            held.add(&id, &v.event, &v.instance.to_string(), &v.field, &v.value);
        }
    }
    held
}

/// Seeds the simulator with records `0..n` through its API.
async fn seed(sim: &SimProcess, n: u64) -> Duration {
    let edc = client(&sim.url);
    let started = Instant::now();
    for first in (0..n).step_by(SEED_BATCH as usize) {
        let batch: Vec<FlatRow> = (first..(first + SEED_BATCH).min(n))
            .flat_map(rows)
            .collect();
        let ids = edc
            .import_records(&batch, Overwrite::Normal)
            .await
            .expect("the simulator takes the seed");
        assert_eq!(ids.len() as u64, (first + SEED_BATCH).min(n) - first);
    }
    started.elapsed()
}

/// The baseline: one whole-project `content=record` export, as a plain
/// HTTP client makes it (form-encoded POST, the body read whole, its JSON
/// parsed into flat rows).
async fn whole_export(url: &str) -> (Duration, usize, Vec<FlatRow>) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let body = http
        .post(format!("{}/api/", url.trim_end_matches('/')))
        .form(&[
            ("token", DEMO_TOKEN_RIVERSIDE),
            ("content", "record"),
            ("format", "json"),
            ("type", "flat"),
            ("rawOrLabel", "raw"),
        ])
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("the export")
        .text()
        .await
        .expect("the export's body");
    let rows: Vec<FlatRow> = serde_json::from_str(&body).expect("flat rows");
    (started.elapsed(), body.len(), rows)
}

/// Runs the pull benchmark; false when a pull failed or the desk lacks
/// records afterwards.
pub async fn pull_throughput(n: u64, seed_value: u64) -> bool {
    println!();
    println!(
        "pull throughput: {n} records x 2 rows (8 values), into an empty desk; simulator without faults in its own process"
    );
    let mut sim = SimProcess::start("");
    let seeding = seed(&sim, n).await;
    println!(
        "  seeded through the API ({SEED_BATCH} records/request, the site's token): {:.1} s, {:.0} records/s",
        seeding.as_secs_f64(),
        n as f64 / seeding.as_secs_f64()
    );
    let mut ok = true;

    // The desk's pull, the app's default configuration.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = desk(&dir).await;
    let before = held_in_desk(&store).await;
    assert_eq!(before, Held::default(), "the desk starts empty");
    let tracker = TaskTracker::new();
    let config = SyncConfig::default();
    let calls = Arc::new(CallMetrics::default());
    let sync = Syncer::new(
        store.clone(),
        client(&sim.url).with_metrics(calls.clone()),
        TaskRegistry::new(),
        tracker.clone(),
        super::actor(),
        config,
    );
    let meter = Meter::start(&sim);
    let result = sync.run(&CancellationToken::new()).await;
    let desk_pull = meter.stop(&mut sim);
    drop(sync);
    tracker.close();
    tracker.wait().await;
    if let Err(e) = &result {
        eprintln!("error: the desk's pull failed: {e}");
        ok = false;
    }
    let in_desk = held_in_desk(&store).await;
    store.close().await;
    drop(dir);

    // The baseline, against the same simulator.
    let (base_wall, body_bytes, exported) = whole_export(&sim.url).await;
    let in_export = held_in_rows(&exported);
    let seeded = held_in_rows(&(0..n).flat_map(rows).collect::<Vec<_>>());
    drop(exported);
    if in_export.records != n || in_export.checksum == 0 {
        eprintln!("error: the whole-project export holds {in_export:?}, not {n} records");
        ok = false;
    }
    if in_desk != in_export {
        eprintln!("error: the desk holds {in_desk:?}; the EDC's export {in_export:?}");
        ok = false;
    }

    let base_rate = n as f64 / base_wall.as_secs_f64();
    let desk_rate = n as f64 / desk_pull.wall.as_secs_f64();
    println!();
    println!(
        "{:<58} {:>8} {:>8} {:>10} {:>8} {:>7} {:>9} {:>8}",
        "approach", "records", "wall s", "records/s", "vs base", "CPU s", "RSS+ MB", "EDC CPU"
    );
    println!(
        "{:<58} {:>8} {:>8.2} {:>10.0} {:>7.2}x {:>7} {:>9} {:>8}",
        format!(
            "baseline: one whole-project export ({:.1} MB of JSON)",
            body_bytes as f64 / 1e6
        ),
        n,
        base_wall.as_secs_f64(),
        base_rate,
        1.0,
        "",
        "",
        ""
    );
    println!(
        "{:<58} {:>8} {:>8.2} {:>10.0} {:>7.2}x {:>7.2} {:>9.1} {:>8.2}",
        format!(
            "SiteDesk: a sync run's pull, {} records/export",
            config.pull_records
        ),
        n,
        desk_pull.wall.as_secs_f64(),
        desk_rate,
        desk_rate / base_rate,
        desk_pull.cpu.as_secs_f64(),
        desk_pull.rss_growth_mb,
        desk_pull.server_cpu.as_secs_f64()
    );
    println!(
        "  the desk holds {} records, {} values; the export {} records, {} values; the seed {} records, {} values; checksums {}",
        in_desk.records,
        in_desk.cells,
        in_export.records,
        in_export.cells,
        seeded.records,
        seeded.cells,
        if in_desk == in_export {
            "equal"
        } else {
            "DIFFER"
        }
    );
    println!(
        "  RSS growth of the desk during its pull: {:.1} MB (peak RSS {:.1} MB); target <= {RSS_TARGET_MB} MB: {}",
        desk_pull.rss_growth_mb,
        desk_pull.peak_rss_mb,
        if desk_pull.rss_growth_mb <= RSS_TARGET_MB {
            "met"
        } else {
            "NOT MET"
        }
    );

    let answers: Vec<String> = calls
        .snapshot()
        .iter()
        .map(|e| {
            format!(
                "{} {} x, {:.1} MB",
                e.endpoint,
                e.calls,
                e.bytes_received as f64 / 1e6
            )
        })
        .collect();
    println!(
        "  the desk's calls and their answers: {}",
        answers.join("; ")
    );

    ok &= cancel_and_resume(&mut sim, n, seed_value, in_export).await;
    sim.stop();
    ok
}

/// A pull cancelled once a random record export (seeded) has reached the
/// simulator, then a new run; the desk must end with every record.
async fn cancel_and_resume(sim: &mut SimProcess, n: u64, seed_value: u64, expected: Held) -> bool {
    let config = SyncConfig::default();
    let exports = n.div_ceil(u64::from(config.pull_records));
    // Export 1 asks for the ids; exports 2 ..= exports + 1 for records.
    let at = StdRng::seed_from_u64(seed_value).random_range(2..=exports + 1);
    println!();
    println!(
        "cancel and resume (seed {seed_value}): the pull is cancelled once record export {at} of {} (the first asks for the ids) has been answered",
        exports + 1
    );
    // The mark each record export makes once answered (1 µs a row), the
    // cancel's signal.
    sim.set_faults("record-cost=1us:content=record/export");
    let seen = sim.stats().faults.get("record-cost").copied().unwrap_or(0);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = desk(&dir).await;
    let tracker = TaskTracker::new();
    let sync = syncer(
        &store,
        &sim.url,
        &tracker,
        (config.batch_records, config.concurrency),
    );
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (sync, cancel) = (sync.clone(), cancel.clone());
        async move { sync.run(&cancel).await }
    });
    tokio::task::block_in_place(|| sim.await_fault("record-cost", seen + at));
    cancel.cancel();
    let first = run.await.expect("the run's task");
    let at_cancel = held_in_desk(&store).await;
    let resume = store.readers().pull_resume().await.expect("resume point");
    println!(
        "  first run: {}; the desk held {} of {n} records ({} values) at the cancel; resume after {}",
        match &first {
            Err(SyncError::Cancelled) => "cancelled".to_owned(),
            Ok(_) => "finished before the cancel reached it".to_owned(),
            Err(e) => format!("failed: {e}"),
        },
        at_cancel.records,
        at_cancel.cells,
        resume.as_ref().map_or("(none)", |r| r.after.as_str()),
    );
    let mut ok = matches!(first, Err(SyncError::Cancelled) | Ok(_));
    sim.set_faults("");
    let exports_before = sim.stats().by_call.get("record/export").copied();
    let second = sync.run(&CancellationToken::new()).await;
    let exports_after = sim.stats().by_call.get("record/export").copied();
    drop(sync);
    tracker.close();
    tracker.wait().await;
    let in_desk = held_in_desk(&store).await;
    let left = resume.as_ref().map_or(n, |r| {
        (0..n).filter(|&i| record_id(i) > r.after).count() as u64
    });
    println!(
        "  second run: {}, {} record exports (1 for the ids and {} for the {left} records left); the desk holds {} records, {} values: {}",
        match &second {
            Ok(_) => "finished".to_owned(),
            Err(e) => format!("failed: {e}"),
        },
        exports_after.unwrap_or(0) - exports_before.unwrap_or(0),
        left.div_ceil(u64::from(config.pull_records)),
        in_desk.records,
        in_desk.cells,
        if in_desk == expected {
            "every record, checksum equal to the EDC's export"
        } else {
            "NOT every record"
        }
    );
    if second.is_err() || in_desk != expected {
        eprintln!(
            "error: after a cancel and a new run the desk holds {in_desk:?}, the EDC {expected:?}"
        );
        ok = false;
    }
    if store
        .readers()
        .pull_resume()
        .await
        .expect("resume point")
        .is_some()
    {
        eprintln!("error: the finished pull left a resume point");
        ok = false;
    }
    store.close().await;
    ok
}
