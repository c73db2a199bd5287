//! The sync benchmark: a desk's real store, syncer and EDC client against
//! the REDCap simulator, in three parts.
//!
//! - Pull throughput (`pull.rs`, in a process of its own when other
//!   parts run too): N records pulled into an
//!   empty desk, against one whole-project export by a plain HTTP client
//!   in the same run; the desk's peak RSS growth; and a pull cancelled
//!   once a random (seeded) record export has been answered, then run
//!   again, which must end with every record and value.
//! - Cancel latency: a run with 100 push batches queued or in flight
//!   (one record per batch, 4 at once; exports take 1-30 ms, imports hang)
//!   is cancelled at a random moment once the simulator has requests in
//!   flight; the time from `cancel()` until every task of the run has
//!   exited (the tracker's `wait` and the run's `JoinHandle`), over 100
//!   trials, and tokio's count of alive tasks before and after each one.
//! - Push throughput: N records with three edited fields each, pushed to a
//!   simulator that charges a cost per record row and processes at most 4
//!   requests at once; wall time, records per second, CPU time and peak
//!   RSS growth of the desk, against a baseline measured in the same run:
//!   `EdcClient::import_records` in sequential batches of 100 rows, one
//!   request at a time (what common REDCap clients do by default).
//!
//! The simulator runs in a child process (this binary, `--serve-sim`), as
//! the EDC is another machine for a real desk: the CPU time, the RSS and
//! tokio's task count are the desk's alone. The parent drives it through
//! the child's stdin (fault sets, stats) and the API.
//!
//! `cargo bench -p sitedesk-tests --bench sync` runs the full benchmark;
//! `-- --short` a quick one (CI); `-- cancel`, `-- push` or `-- pull` one
//! part; `-- --records=N` another push and pull size, `-- --record-cost=2ms`
//! another per-record cost, `-- --seed=N` the cancelled pull's seed (else
//! the time; printed). Exits non-zero when tasks leak, a push or pull
//! fails, the simulator lacks records afterwards, or the desk after a
//! cancelled and resumed pull lacks any; latencies and
//! ratios are printed, not asserted (CI machines are noisy). Linux only:
//! CPU time and RSS come from `/proc`.

#![allow(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edc_sim::{DEMO_TOKEN_RIVERSIDE, FaultSet, Project, SimConfig, Simulator, Stats};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::domain::{Actor, RecordEdit};
use sitedesk_core::edc::{EdcClient, FlatRow, Overwrite, RecordQuery, Timeouts, Token};
use sitedesk_core::store::{Lane, Store};
use sitedesk_core::sync::{Phase, SyncConfig, SyncError, Syncer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The argument that makes this binary the simulator's process.
const SERVE_SIM: &str = "--serve-sim";

/// Batches of the cancelled run: the issue's "100 batches queued or in
/// flight".
const CANCEL_BATCHES: u64 = 100;
/// The cancelled run's batches in flight at once.
const CANCEL_CONCURRENCY: usize = 4;
/// Exports are slow enough that a random cancel lands in any state of a
/// batch (reading the outbox, exporting, importing); imports never answer,
/// so no batch finishes and the same 100 batches serve every trial.
const CANCEL_FAULTS: &str = "latency=1..30ms:content=record/export; hang:content=record/import";
/// The target for the cancel latency at p99.
const CANCEL_TARGET_MS: f64 = 50.0;

/// The simulated EDC of the push benchmark: each record row imported or
/// exported costs 1 ms of server time (a REDCap server writes a record's
/// values and its log entry), on top of the simulator's own work, so
/// 100,000 sequential rows cost 100 s. `--record-cost=` sets another
/// (`0.1ms`, `100us`).
const RECORD_COST: &str = "1ms";
/// Requests the simulated EDC processes at once.
const MAX_CONCURRENT: u32 = 4;
/// Rows per request of the baseline (REDCapR's `redcap_write` default).
const BASELINE_BATCH: u64 = 100;
/// The push benchmark's RSS target.
const RSS_TARGET_MB: f64 = 64.0;

/// How long the simulator's process waits for a fault to be counted
/// before it answers that it was not: a run that failed early never
/// makes the request awaited.
const AWAIT_LIMIT: Duration = Duration::from_secs(120);

/// Records the pull benchmark's short mode (CI) pulls.
const PULL_SHORT_RECORDS: u64 = 10_000;

#[path = "sync/pull.rs"]
mod pull;

/// Linux reports process CPU time in clock ticks of `USER_HZ`, which is
/// 100 on every architecture the desk runs on.
const USER_HZ: f64 = 100.0;

struct Mode {
    trials: usize,
    records: u64,
    pull_records: u64,
    record_cost: String,
    seed: u64,
    cancel: bool,
    push: bool,
    pull: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(SERVE_SIM) {
        return serve_sim(args.get(1).map(String::as_str).unwrap_or_default());
    }
    let short = args.iter().any(|a| a == "--short");
    let records = args
        .iter()
        .find_map(|a| a.strip_prefix("--records="))
        .map(|n| n.parse().expect("--records=N takes a number"));
    let named = |part: &str| args.iter().any(|a| a == part);
    let all = !["cancel", "push", "pull"].into_iter().any(named);
    let mode = Mode {
        trials: if short { 10 } else { 100 },
        records: records.unwrap_or(if short { 2_000 } else { 100_000 }),
        pull_records: records.unwrap_or(if short { PULL_SHORT_RECORDS } else { 100_000 }),
        record_cost: args
            .iter()
            .find_map(|a| a.strip_prefix("--record-cost="))
            .unwrap_or(RECORD_COST)
            .to_owned(),
        seed: args
            .iter()
            .find_map(|a| a.strip_prefix("--seed="))
            .map_or_else(
                || {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                },
                |s| s.parse().expect("--seed=N takes a number"),
            ),
        cancel: all || named("cancel"),
        push: all || named("push"),
        pull: all || named("pull"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "sync benchmark ({} mode), {} CPUs",
        if short { "short" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut failed = false;
    // Each part's RSS growth is measured in a process whose heap holds
    // nothing another part freed (which could hide growth from the RSS):
    // with the other parts, the pull runs in a process of its own.
    if mode.pull && (mode.cancel || mode.push) {
        let status = Command::new(std::env::current_exe().expect("this binary"))
            .arg("pull")
            .args(args.iter().filter(|a| a.starts_with("--")))
            .status()
            .expect("run the pull part");
        failed |= !status.success();
    } else if mode.pull {
        failed |= !rt.block_on(pull::pull_throughput(mode.pull_records, mode.seed));
    }
    if mode.cancel {
        failed |= !rt.block_on(cancel_latency(mode.trials));
    }
    if mode.push {
        failed |= !rt.block_on(push_throughput(mode.records, &mode.record_cost));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn actor() -> Actor {
    Actor {
        account: "bench".into(),
        display_name: String::new(),
        login: None,
    }
}

/// A desk with the demo study and its forms, as a new app sets it up.
async fn desk(dir: &tempfile::TempDir) -> Store {
    sitedesk_tests::new_desk(dir.path(), &actor().account, None).await
}

fn record_id(i: u64) -> String {
    format!("S01-BEN-{i:06}")
}

/// Record `i`'s baseline vitals: three fields in one flat row.
fn vitals(i: u64) -> [(&'static str, String); 3] {
    [
        ("sbp", (100 + i % 60).to_string()),
        ("dbp", (60 + i % 40).to_string()),
        ("glucose", format!("{}.{}", 4 + i % 8, i % 10)),
    ]
}

fn edit(i: u64, fields: usize) -> RecordEdit {
    RecordEdit {
        record_id: record_id(i),
        event: "baseline_arm_1".into(),
        instance: 1,
        values: vitals(i)
            .into_iter()
            .take(fields)
            .map(|(k, v)| (k.to_owned(), Some(v)))
            .collect(),
        reason: None,
        computed: Vec::new(),
    }
}

/// Record `i` as the baseline imports it.
fn flat_row(i: u64) -> FlatRow {
    let mut row = FlatRow::new();
    row.insert("record_id".into(), record_id(i));
    row.insert("redcap_event_name".into(), "baseline_arm_1".into());
    for (k, v) in vitals(i) {
        row.insert(k.into(), v);
    }
    row
}

/// Writes records `0..n` with `fields` edited fields each through the
/// writer's bulk lane, many in flight (as a pull or an import does).
async fn fill(store: &Store, n: u64, fields: usize) {
    let mut acks = VecDeque::new();
    for i in 0..n {
        let ack = store
            .writer()
            .queue_values(Lane::Bulk, actor(), edit(i, fields))
            .await
            .expect("queued");
        acks.push_back(ack);
        if acks.len() > 4096 {
            acks.pop_front()
                .expect("an ack")
                .committed()
                .await
                .expect("saved");
        }
    }
    for a in acks {
        a.committed().await.expect("saved");
    }
}

fn client(url: &str) -> EdcClient {
    EdcClient::new(
        url,
        Token::parse(DEMO_TOKEN_RIVERSIDE).expect("token"),
        Timeouts::default(),
    )
    .expect("client")
}

fn syncer(
    store: &Store,
    url: &str,
    tracker: &TaskTracker,
    (batch, concurrency): (u32, usize),
) -> Syncer {
    Syncer::new(
        store.clone(),
        client(url),
        TaskRegistry::new(),
        tracker.clone(),
        actor(),
        SyncConfig {
            batch_records: batch,
            concurrency,
            ..SyncConfig::default()
        },
    )
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Cancels a run with 100 batches queued or in flight, `trials` times;
/// false when tasks leaked.
async fn cancel_latency(trials: usize) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = desk(&dir).await;
    fill(&store, CANCEL_BATCHES, 1).await;
    let mut sim = SimProcess::start(CANCEL_FAULTS);
    let mut rng = StdRng::seed_from_u64(1);
    let mut latencies = Vec::new();
    let mut leaks = Vec::new();
    let mut most_in_flight = 0;
    let (mut at_cancel, mut right_after) = (0, 0);
    let mut settled_in = Duration::ZERO;
    let first_before = alive_tasks();
    let mut last_after = first_before;
    for trial in 0..trials {
        // The previous run's requests have ended at the simulator too (a
        // hung import ends when its connection closes).
        let quiet = Instant::now();
        while sim.stats().in_flight > 0 {
            assert!(
                quiet.elapsed() < Duration::from_secs(5),
                "the simulator still processes requests of a cancelled run"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let before = alive_tasks();
        let tracker = TaskTracker::new();
        let sync = syncer(&store, &sim.url, &tracker, (1, CANCEL_CONCURRENCY));
        let cancel = CancellationToken::new();
        let run = tracker.spawn({
            let (sync, cancel) = (sync.clone(), cancel.clone());
            async move { sync.run(&cancel).await }
        });
        while sync.progress().phase != Phase::Pushing || sim.stats().in_flight == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..=20_000))).await;
        let progress = sync.progress();
        assert_eq!(
            (progress.batches_total as u64, progress.batches_done),
            (CANCEL_BATCHES, 0),
            "trial {trial}: the run has its 100 batches to push"
        );
        most_in_flight = most_in_flight.max(sim.stats().in_flight);
        at_cancel = at_cancel.max(alive_tasks().saturating_sub(before));
        let started = Instant::now();
        cancel.cancel();
        tracker.close();
        tracker.wait().await;
        let result = run.await.expect("the run's task");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(result, Err(SyncError::Cancelled), "trial {trial}");
        right_after = right_after.max(alive_tasks().saturating_sub(before));
        // The client's pooled connections are tasks too; they end with it.
        drop(sync);
        let settling = Instant::now();
        while alive_tasks() > before && settling.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        settled_in = settled_in.max(settling.elapsed());
        let after = alive_tasks();
        if after > before {
            leaks.push((trial, before, after));
        }
        last_after = after;
    }
    let stats = sim.stop();
    store.close().await;
    latencies.sort_by(f64::total_cmp);
    let p = percentiles(&latencies);
    println!();
    println!(
        "cancel latency: {trials} runs, each with {CANCEL_BATCHES} one-record batches to push, {CANCEL_CONCURRENCY} at once; cancelled 0-20 ms after a push request reached the simulator"
    );
    println!(
        "  cancel() to every task of the run exited: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target: p99 <= {CANCEL_TARGET_MS} ms)",
        p.p50, p.p99, p.max
    );
    println!(
        "  alive tasks before/after: {first_before}/{last_after} (first trial's before, last trial's after)"
    );
    println!(
        "  alive tasks above a trial's before, at most: {at_cancel} at the cancel; {right_after} once the run's tasks had exited (the HTTP client's connection pool, which ends with the client); waited at most {:.1} ms for the count to come back after dropping the syncer",
        settled_in.as_secs_f64() * 1000.0
    );
    println!(
        "  simulator: {} requests, at most {most_in_flight} in flight at a cancel, {} imports hung",
        stats.requests,
        stats.faults.get("hang").copied().unwrap_or(0)
    );
    for (trial, before, after) in &leaks {
        eprintln!("error: trial {trial}: {before} alive tasks before, {after} after: tasks leaked");
    }
    leaks.is_empty()
}

struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
}

/// Nearest-rank percentiles of sorted samples.
fn percentiles(sorted: &[f64]) -> Percentiles {
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        p50: at(0.5),
        p99: at(0.99),
        max: sorted[sorted.len() - 1],
    }
}

/// What one push cost the desk.
struct Measured {
    wall: Duration,
    cpu: Duration,
    peak_rss_mb: f64,
    rss_growth_mb: f64,
    server_cpu: Duration,
    peak_concurrent: u64,
    /// How long the run took to reach its push phase (metadata and pull).
    pull: Option<Duration>,
}

/// The desk's and the simulator's CPU time and the desk's RSS around one
/// push.
struct Meter {
    started: Instant,
    cpu: Duration,
    server_cpu: Duration,
    rss_kb: u64,
}

impl Meter {
    fn start(sim: &SimProcess) -> Meter {
        // Peak RSS starts over from the current RSS (Linux 4.0+).
        std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
        Meter {
            rss_kb: status_kb("VmRSS"),
            cpu: cpu_time("self"),
            server_cpu: cpu_time(&sim.child.id().to_string()),
            started: Instant::now(),
        }
    }

    fn stop(self, sim: &mut SimProcess) -> Measured {
        let wall = self.started.elapsed();
        let cpu = cpu_time("self").saturating_sub(self.cpu);
        let server_cpu = cpu_time(&sim.child.id().to_string()).saturating_sub(self.server_cpu);
        let peak = status_kb("VmHWM");
        Measured {
            wall,
            cpu,
            peak_rss_mb: peak as f64 / 1024.0,
            rss_growth_mb: peak.saturating_sub(self.rss_kb) as f64 / 1024.0,
            server_cpu,
            peak_concurrent: sim.stats().peak_concurrent,
            pull: None,
        }
    }
}

/// User and system CPU time of a process (`self` or a pid), all threads.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name, which is in parentheses: utime and
    // stime are the 14th and 15th fields of the line.
    let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|t| t.parse::<u64>().expect("ticks"))
        .sum();
    Duration::from_secs_f64(ticks as f64 / USER_HZ)
}

fn status_kb(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a size in kB")
}

/// Pushes `n` records the baseline's way and SiteDesk's; false when a push
/// failed or records are missing.
async fn push_throughput(n: u64, record_cost: &str) -> bool {
    let faults = format!("record-cost={record_cost}; max-concurrent={MAX_CONCURRENT}");
    println!();
    println!("push throughput: {n} records x 3 fields, simulator \"{faults}\" in its own process");
    let mut ok = true;
    let mut rows = Vec::new();

    let mut sim = SimProcess::start(&faults);
    let edc = client(&sim.url);
    let meter = Meter::start(&sim);
    let mut pushed = Ok(());
    for first in (0..n).step_by(BASELINE_BATCH as usize) {
        let batch: Vec<FlatRow> = (first..(first + BASELINE_BATCH).min(n))
            .map(flat_row)
            .collect();
        match edc.import_records(&batch, Overwrite::Normal).await {
            Ok(ids) if ids.len() == batch.len() => {}
            Ok(ids) => {
                pushed = Err(format!(
                    "{} of {} records acknowledged",
                    ids.len(),
                    batch.len()
                ));
                break;
            }
            Err(e) => {
                pushed = Err(e.to_string());
                break;
            }
        }
    }
    let baseline = meter.stop(&mut sim);
    ok &= check("baseline", pushed, &mut sim, n).await;
    rows.push((
        "baseline: import_records, 100/request, 1 at a time".to_owned(),
        baseline,
    ));

    // The app's default, and the same batches one at a time: what the
    // export and three-way comparison before each import cost.
    let d = SyncConfig::default();
    for (label, config) in [
        (
            format!(
                "SiteDesk sync, default ({}/batch, {} at once)",
                d.batch_records, d.concurrency
            ),
            (d.batch_records, d.concurrency),
        ),
        (
            format!("SiteDesk sync, {}/batch, 1 at a time", d.batch_records),
            (d.batch_records, 1),
        ),
    ] {
        // Each configuration pushes the same outbox, from a desk of its
        // own, to an EDC of its own.
        let dir = tempfile::tempdir().expect("temp dir");
        let desk = desk(&dir).await;
        let filling = Instant::now();
        fill(&desk, n, 3).await;
        println!(
            "  {label}: the desk's {n} records written through the bulk lane in {:.1} s",
            filling.elapsed().as_secs_f64()
        );
        let mut sim = SimProcess::start(&faults);
        let tracker = TaskTracker::new();
        let sync = syncer(&desk, &sim.url, &tracker, config);
        let meter = Meter::start(&sim);
        let pushing = tokio::spawn({
            let sync = sync.clone();
            async move {
                let started = Instant::now();
                while sync.progress().phase != Phase::Pushing {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                started.elapsed()
            }
        });
        let result = sync.run(&CancellationToken::new()).await;
        let mut measured = meter.stop(&mut sim);
        pushing.abort();
        measured.pull = pushing.await.ok();
        tracker.close();
        tracker.wait().await;
        let pushed = match result {
            Ok(r) if r.pushed_cells as u64 == 3 * n => Ok(()),
            Ok(r) => Err(format!("{r:?}")),
            Err(e) => Err(e.to_string()),
        };
        let left = desk.readers().sync_counts().await.expect("counts");
        ok &= check(&label, pushed, &mut sim, n).await;
        if left != (0, 0, 0) {
            eprintln!("error: {label}: the outbox still holds {left:?}");
            ok = false;
        }
        desk.close().await;
        rows.push((label, measured));
    }

    println!();
    println!(
        "{:<52} {:>8} {:>8} {:>10} {:>8} {:>7} {:>8} {:>9} {:>8} {:>6}",
        "approach",
        "records",
        "wall s",
        "records/s",
        "vs base",
        "CPU s",
        "RSS MB",
        "RSS+ MB",
        "EDC CPU",
        "peak"
    );
    let base_rate = n as f64 / rows[0].1.wall.as_secs_f64();
    for (label, m) in &rows {
        let rate = n as f64 / m.wall.as_secs_f64();
        println!(
            "{:<52} {:>8} {:>8.2} {:>10.0} {:>7.2}x {:>7.2} {:>8.1} {:>9.1} {:>8.2} {:>6}",
            label,
            n,
            m.wall.as_secs_f64(),
            rate,
            rate / base_rate,
            m.cpu.as_secs_f64(),
            m.peak_rss_mb,
            m.rss_growth_mb,
            m.server_cpu.as_secs_f64(),
            m.peak_concurrent
        );
    }
    println!(
        "  CPU s: the desk's process (user + system); RSS MB: its peak during the push, RSS+ MB: the peak over the RSS before it; EDC CPU: the simulator's process; peak: requests the simulator processed at once"
    );
    for (label, m) in &rows {
        if let Some(pull) = m.pull {
            println!(
                "  {label}: {:.2} s of the wall time before the push phase (metadata, pull)",
                pull.as_secs_f64()
            );
        }
    }
    println!("targets: SiteDesk >= 2x the baseline's records/s; RSS growth <= {RSS_TARGET_MB} MB");
    ok
}

/// Checks that a push succeeded and that the simulator holds every record
/// with its values; says what is wrong otherwise.
async fn check(label: &str, pushed: Result<(), String>, sim: &mut SimProcess, n: u64) -> bool {
    if let Err(e) = pushed {
        eprintln!("error: {label}: the push failed: {e}");
        sim.stop();
        return false;
    }
    // Free of faults, so the check costs no simulated time.
    sim.set_faults("");
    let exported = client(&sim.url)
        .export_records(&RecordQuery {
            fields: ["record_id", "sbp", "dbp", "glucose"]
                .map(str::to_owned)
                .to_vec(),
            events: vec!["baseline_arm_1".into()],
            ..RecordQuery::default()
        })
        .await;
    sim.stop();
    let rows = match exported {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {label}: cannot export the records: {e}");
            return false;
        }
    };
    let held: BTreeMap<&str, &FlatRow> = rows
        .iter()
        .filter_map(|r| Some((r.get("record_id")?.as_str(), r)))
        .filter(|(id, _)| id.starts_with("S01-BEN-"))
        .collect();
    let wrong = (0..n)
        .filter(|&i| {
            let id = record_id(i);
            held.get(id.as_str()).is_none_or(|r| {
                vitals(i)
                    .iter()
                    .any(|(k, v)| r.get(*k).map(String::as_str) != Some(v.as_str()))
            })
        })
        .count();
    if held.len() as u64 != n || wrong > 0 {
        eprintln!(
            "error: {label}: the simulator holds {} of {n} records, {wrong} missing or with other values",
            held.len()
        );
        return false;
    }
    true
}

/// The simulator in a child process: this binary with `--serve-sim`.
struct SimProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl SimProcess {
    fn start(faults: &str) -> SimProcess {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .args([SERVE_SIM, faults])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the simulator's process");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut url = String::new();
        stdout.read_line(&mut url).expect("the simulator's URL");
        assert!(
            url.starts_with("http://"),
            "the simulator did not start: {url:?}"
        );
        SimProcess {
            child,
            stdin,
            stdout,
            url: url.trim().to_owned(),
        }
    }

    /// Sends one command line and reads the one-line answer.
    fn ask(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("the simulator runs");
        writeln!(stdin, "{command}").expect("to the simulator");
        stdin.flush().expect("to the simulator");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("from the simulator");
        answer
    }

    fn stats(&mut self) -> Stats {
        serde_json::from_str(&self.ask("stats")).expect("stats")
    }

    /// Waits until the simulator has counted fault `kind` `n` times since
    /// it started.
    fn await_fault(&mut self, kind: &str, n: u64) {
        let answer = self.ask(&format!("await {kind} {n}"));
        assert_eq!(answer.trim(), "ok", "await {kind} {n}");
    }

    fn set_faults(&mut self, spec: &str) {
        let answer = self.ask(&format!("faults {spec}"));
        assert_eq!(answer.trim(), "ok", "faults {spec:?}");
    }

    /// Stops the simulator (closing its stdin) and returns its last stats.
    fn stop(&mut self) -> Stats {
        let stats = if self.stdin.is_some() {
            self.stats()
        } else {
            Stats::default()
        };
        self.stdin.take();
        let status = self.child.wait().expect("the simulator's exit");
        assert!(status.success(), "the simulator exited with {status}");
        stats
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        if self.stdin.take().is_some() {
            let _ = self.child.wait();
        }
    }
}

/// The child: serves the demo project with `faults` on a free port, prints
/// its URL, then answers `stats` (one JSON line) and `faults SPEC` (`ok`)
/// from stdin until stdin closes.
fn serve_sim(faults: &str) -> ExitCode {
    let faults: FaultSet = match faults.parse() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("edc-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let sim = Simulator::start(SimConfig {
            faults,
            ..SimConfig::new(Project::demo())
        })
        .await
        .expect("the simulator starts");
        println!("{}", sim.base_url());
        let sim = Arc::new(sim);
        let commands = tokio::task::spawn_blocking({
            let sim = sim.clone();
            move || {
                let mut out = std::io::stdout().lock();
                for line in std::io::stdin().lines() {
                    let Ok(line) = line else { break };
                    let answer = match line.split_once(' ').unwrap_or((line.as_str(), "")) {
                        ("stats", _) => serde_json::to_string(&sim.stats()).expect("json"),
                        // Answers once the simulator has counted the
                        // fault `kind` `n` times: the parent's signal
                        // that a request has reached it.
                        ("await", spec) => match spec
                            .split_once(' ')
                            .and_then(|(kind, n)| Some((kind, n.parse::<u64>().ok()?)))
                        {
                            Some((kind, n)) => tokio::runtime::Handle::current()
                                .block_on(tokio::time::timeout(
                                    AWAIT_LIMIT,
                                    sim.fault_seen(kind, n),
                                ))
                                .map_or_else(
                                    |_| format!("{kind} not counted {n} times"),
                                    |()| "ok".to_owned(),
                                ),
                            None => format!("await KIND N, not {spec:?}"),
                        },
                        ("faults", spec) => match spec.parse() {
                            Ok(f) => {
                                sim.set_faults(f);
                                "ok".to_owned()
                            }
                            Err(e) => format!("{e}"),
                        },
                        _ => format!("unknown command {line:?}"),
                    };
                    if writeln!(out, "{answer}")
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        let _ = commands.await;
        if let Ok(sim) = Arc::try_unwrap(sim) {
            sim.shutdown().await;
        }
    });
    ExitCode::SUCCESS
}
