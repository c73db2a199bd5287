//! The store benchmark: SiteDesk's writer against the two ways an app could
//! write the same edit, measured in the same run on the same disk.
//!
//! The edit is a form value with its audit row and its outbox row, in WAL
//! with `synchronous=FULL`, at 1, 16 and 256 concurrent callers:
//!
//! - N: an `Arc<Mutex<Connection>>` shared by the callers, one transaction
//!   per edit (what most apps do). Plain inserts, no hash chain.
//! - R: one thread inserting the same three rows, 1000 edits per
//!   transaction, prepared statements: the ceiling for this disk.
//! - SiteDesk: `WriterHandle::set_values` on the interactive lane. Per edit
//!   it also reads the saved value, hashes the audit row into the chain and
//!   moves the chain's head, and it answers only after COMMIT.
//!
//! Then the interactive lane's time-to-saved while bulk edits stream
//! through the bulk lane; then both again on a plain file (A) and on a
//! SQLCipher file under a data key (B), and the time to unlock a desk
//! (Argon2id, unwrapping the key, opening the store, the first read).
//!
//! `cargo bench -p sitedesk-core --bench store` runs the full benchmark;
//! `-- --short` a quick one (CI); `-- diagnostics` only the A/B of the
//! always-on diagnostics; `-- cipher` only the SQLCipher A/B and the
//! unlock; `-- memory-security` adds, last (it cannot be turned off),
//! SQLCipher's `cipher_memory_security`. The baselines' SQL lives here,
//! outside the store, on purpose: it is what the store is compared with.

#![allow(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::domain::{Actor, RecordEdit};
use sitedesk_core::store::{Lane, Store, StoreOptions};
use sitedesk_core::vault::{DataKey, KdfParams, Vault};

struct Mode {
    /// How long each throughput configuration runs.
    run: Duration,
    /// Bulk edits written while the interactive lane is measured.
    bulk_edits: u64,
}

const CALLERS: [usize; 3] = [1, 16, 256];

fn main() {
    let short = std::env::args().any(|a| a == "--short");
    let mode = if short {
        Mode {
            run: Duration::from_millis(1500),
            bulk_edits: 10_000,
        }
    } else {
        Mode {
            run: Duration::from_secs(6),
            bulk_edits: 100_000,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "store benchmark ({} mode): 3-row edit (value, audit, outbox), WAL, synchronous=FULL, {:?} per configuration",
        if short { "short" } else { "full" },
        mode.run
    );
    println!();
    println!(
        "{:<34} {:>7} {:>12} {:>9} {:>9}",
        "configuration", "callers", "edits/s", "vs N", "vs R"
    );

    if std::env::args().any(|a| a == "diagnostics") {
        // Only the A/B of the diagnostics (`-- diagnostics`).
        let ab = ab_databases(&dir, if short { 2 } else { 4 });
        rt.block_on(diagnostics_overhead(&ab, mode.run));
        return;
    }
    if std::env::args().any(|a| a == "cipher") {
        // Only the SQLCipher A/B and the unlock (`-- cipher`).
        let key = rt.block_on(cipher_ab(&dir, &mode, if short { 2 } else { 4 }));
        rt.block_on(unlock_time(&dir));
        if std::env::args().any(|a| a == "memory-security") {
            rt.block_on(memory_security(&dir, &mode, &key));
        }
        return;
    }
    let r = ceiling(&fresh(&dir, "r"), mode.run);
    println!(
        "{:<34} {:>7} {:>12.0} {:>9} {:>9}",
        "R: one thread, 1000 per txn", 1, r, "", "1.00x"
    );
    let mut below_n = false;
    for callers in CALLERS {
        let n = mutex_baseline(&fresh(&dir, &format!("n{callers}")), callers, mode.run);
        let s = rt.block_on(sitedesk(
            &fresh(&dir, &format!("s{callers}")),
            callers,
            mode.run,
        ));
        println!(
            "{:<34} {:>7} {:>12.0} {:>9} {:>8.2}x",
            "N: Arc<Mutex<Connection>>, txn/edit",
            callers,
            n,
            "1.00x",
            n / r
        );
        println!(
            "{:<34} {:>7} {:>12.0} {:>8.2}x {:>8.2}x",
            "SiteDesk writer (group commit)",
            callers,
            s,
            s / n,
            s / r
        );
        if callers > 1 && s < n {
            below_n = true;
        }
    }
    println!();
    println!("targets: at 16 callers >= 10x N; at 256 callers >= 0.5x R");

    let (ack, bulk_rate) = rt.block_on(interactive_under_bulk(
        &fresh(&dir, "mixed"),
        mode.bulk_edits,
    ));
    println!();
    println!(
        "interactive time-to-saved while {} bulk edits stream: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples); bulk {:.0} edits/s",
        mode.bulk_edits, ack.p50, ack.p99, ack.max, ack.samples, bulk_rate
    );
    println!("target: interactive p99 <= 20 ms");

    let key = rt.block_on(cipher_ab(&dir, &mode, if short { 2 } else { 4 }));
    rt.block_on(unlock_time(&dir));

    let ab = ab_databases(&dir, if short { 2 } else { 4 });
    rt.block_on(diagnostics_overhead(&ab, mode.run));
    if std::env::args().any(|a| a == "memory-security") {
        rt.block_on(memory_security(&dir, &mode, &key));
    }
    if below_n {
        eprintln!("error: the writer was slower than the one-transaction-per-edit baseline");
        std::process::exit(1);
    }
}

/// A new database file with SiteDesk's schema, closed again.
fn fresh(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    let path = dir.path().join(format!("{name}.sqlite3"));
    let store = Store::open(&path, StoreOptions::default(), &TaskRegistry::new()).expect("open");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(store.close());
    path
}

/// The store's options for a file under `key` (plain for `None`).
fn options(key: Option<&DataKey>) -> StoreOptions {
    StoreOptions {
        key: key.cloned(),
        ..StoreOptions::default()
    }
}

/// [`fresh`] from inside the runtime, encrypted under `key` when one is
/// given.
async fn fresh_with(
    dir: &tempfile::TempDir,
    name: &str,
    key: Option<&DataKey>,
) -> std::path::PathBuf {
    let path = dir.path().join(format!("{name}.sqlite3"));
    let store = Store::open(&path, options(key), &TaskRegistry::new()).expect("open");
    store.close().await;
    path
}

fn connect(path: &Path) -> Connection {
    let c = Connection::open(path).expect("open");
    c.pragma_update(None, "journal_mode", "WAL").expect("wal");
    c.pragma_update(None, "synchronous", "FULL").expect("full");
    c.busy_timeout(Duration::from_secs(30)).expect("busy");
    c
}

const UPSERT: &str =
    "INSERT INTO record_value(record_id, event, field, instance, value, updated_at)
     VALUES (?1, 'baseline_arm_1', 'weight', 1, ?2, ?3)
     ON CONFLICT(record_id, event, field, instance) DO UPDATE SET value = excluded.value";
const AUDIT: &str = "INSERT INTO audit(at, user_account, user_name, entity, entity_id, event, instance, field, new_value)
     VALUES (?1, 'bench', '', 'record', ?2, 'baseline_arm_1', 1, 'weight', ?3)";
const OUTBOX: &str =
    "INSERT INTO outbox(audit_id, entity, entity_id, event, instance, field, value, created_at)
     VALUES (?1, 'record', ?2, 'baseline_arm_1', 1, 'weight', ?3, ?4)";

fn plain_edit(c: &Connection, record: &str, value: &str) {
    let at = "2026-01-01T00:00:00.000Z";
    c.prepare_cached(UPSERT)
        .unwrap()
        .execute(params![record, value, at])
        .unwrap();
    c.prepare_cached(AUDIT)
        .unwrap()
        .execute(params![at, record, value])
        .unwrap();
    let audit_id = c.last_insert_rowid();
    c.prepare_cached(OUTBOX)
        .unwrap()
        .execute(params![audit_id, record, value, at])
        .unwrap();
}

/// The record id of a caller's `i`-th edit. Every configuration writes the
/// same ids, so every one inserts at the same scattered places in the
/// indexes (sequential ids would flatter whoever gets them).
fn record_id(caller: usize, i: u64) -> String {
    format!("c{caller:03}-{i}")
}

/// R: one thread, 1000 edits per transaction, the edits of 256 callers
/// interleaved.
fn ceiling(path: &Path, run: Duration) -> f64 {
    let mut c = connect(path);
    let started = Instant::now();
    let mut edits = 0u64;
    while started.elapsed() < run {
        let tx = c.transaction().unwrap();
        for _ in 0..1000 {
            plain_edit(&tx, &record_id((edits % 256) as usize, edits / 256), "70");
            edits += 1;
        }
        tx.commit().unwrap();
    }
    edits as f64 / started.elapsed().as_secs_f64()
}

/// N: callers share one connection behind a mutex, one transaction each.
fn mutex_baseline(path: &Path, callers: usize, run: Duration) -> f64 {
    let conn = Arc::new(Mutex::new(connect(path)));
    let stop = Arc::new(AtomicBool::new(false));
    let edits = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..callers)
        .map(|caller| {
            let (conn, stop, edits) = (conn.clone(), stop.clone(), edits.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut c = conn.lock().unwrap();
                    let tx = c.transaction().unwrap();
                    plain_edit(&tx, &record_id(caller, i), "70");
                    tx.commit().unwrap();
                    drop(c);
                    edits.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for t in threads {
        t.join().unwrap();
    }
    edits.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

fn actor() -> Actor {
    Actor {
        account: "bench".into(),
        display_name: String::new(),
        login: None,
    }
}

fn edit(record: String) -> RecordEdit {
    RecordEdit {
        record_id: record,
        event: "baseline_arm_1".into(),
        instance: 1,
        values: BTreeMap::from([("weight".to_owned(), Some("70".to_owned()))]),
        reason: None,
        computed: Vec::new(),
    }
}

/// SiteDesk: callers are tasks that each wait for their edit to be saved
/// before sending the next, as a person at a form would.
async fn sitedesk(path: &Path, callers: usize, run: Duration) -> f64 {
    sitedesk_with(path, None, callers, run).await.0
}

/// [`sitedesk`] on a file under `key`; with the edits per second, the
/// writer thread's CPU time per edit in µs (Linux), which the disk's
/// speed and other processes move far less than the rate.
async fn sitedesk_with(
    path: &Path,
    key: Option<&DataKey>,
    callers: usize,
    run: Duration,
) -> (f64, Option<f64>) {
    let store = Store::open(path, options(key), &TaskRegistry::new()).expect("open");
    let started = Instant::now();
    let rate = drive(&store, callers, run).await;
    let edits = rate * started.elapsed().as_secs_f64();
    // The thread started with the store (right before: it may not even
    // carry its name yet), so its whole CPU time is the run's.
    let cpu = thread_cpu("sitedesk-writer").map(|t| t.as_secs_f64() * 1e6 / edits.max(1.0));
    let stats = store.writer().stats();
    store.close().await;
    println!(
        "    writer: {} transactions, edits per transaction p50 {:.0} / p99 {:.0} / max {:.0}, commit p50 {:.2} ms / p99 {:.2} ms{}",
        stats.commits,
        stats.batch_size.p50,
        stats.batch_size.p99,
        stats.batch_size.max,
        stats.commit_ms.p50,
        stats.commit_ms.p99,
        cpu.map(|us| format!(", CPU {us:.0} µs per edit"))
            .unwrap_or_default()
    );
    (rate, cpu)
}

/// The CPU time (user and system) of this process's thread named `name`,
/// from `/proc` (Linux; `None` elsewhere or if there is no such thread).
fn thread_cpu(name: &str) -> Option<Duration> {
    // USER_HZ: the unit of /proc's times, 100 on every Linux that SiteDesk
    // runs on.
    const TICKS_PER_SECOND: u64 = 100;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let dir = task.path();
        // A thread that ends while this loops has no files left: skipped.
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        // Fields after the parenthesised name: state is field 3, utime
        // and stime are 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        return Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND));
    }
    None
}

/// `callers` tasks that each save an edit and wait for it, for `run`; the
/// edits per second.
async fn drive(store: &Store, callers: usize, run: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let edits = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let (w, stop, edits) = (store.writer().clone(), stop.clone(), edits.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    w.set_values(Lane::Interactive, actor(), edit(record_id(caller, i)))
                        .await
                        .expect("saved");
                    edits.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    for t in tasks {
        t.await.unwrap();
    }
    edits.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
    samples: usize,
}

/// One interactive edit every 5 ms while a producer streams `bulk` edits
/// through the bulk lane as fast as the lane takes them.
async fn interactive_under_bulk(path: &Path, bulk: u64) -> (Latency, f64) {
    interactive_under_bulk_with(path, None, bulk).await
}

/// [`interactive_under_bulk`] on a file under `key`.
async fn interactive_under_bulk_with(
    path: &Path,
    key: Option<&DataKey>,
    bulk: u64,
) -> (Latency, f64) {
    let store = Store::open(path, options(key), &TaskRegistry::new()).expect("open");
    let w = store.writer().clone();
    let producer = tokio::spawn(async move {
        let started = Instant::now();
        let mut acks = std::collections::VecDeque::new();
        for i in 0..bulk {
            acks.push_back(
                w.queue_values(Lane::Bulk, actor(), edit(format!("b{i}")))
                    .await
                    .expect("queued"),
            );
            // Keep the acks bounded too: wait for the oldest past a window.
            if acks.len() > 4096 {
                acks.pop_front().unwrap().committed().await.expect("saved");
            }
        }
        for a in acks {
            a.committed().await.expect("saved");
        }
        bulk as f64 / started.elapsed().as_secs_f64()
    });
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut i = 0;
    loop {
        tick.tick().await;
        let t = Instant::now();
        store
            .writer()
            .set_values(Lane::Interactive, actor(), edit(format!("i{i}")))
            .await
            .expect("saved");
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        i += 1;
        if producer.is_finished() {
            break;
        }
    }
    let rate = producer.await.unwrap();
    store.close().await;
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (
        Latency {
            p50: at(0.5),
            p99: at(0.99),
            max: *samples.last().unwrap(),
            samples: samples.len(),
        },
        rate,
    )
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let middle = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[middle - 1] + v[middle]) / 2.0
    } else {
        v[middle]
    }
}

/// SQLCipher against plain SQLite, on the figures the targets are about:
/// the writer at 16 callers, and the interactive lane's time-to-saved
/// while bulk edits stream. A is a plain file, B a file under a data key
/// (every connection keyed, pages encrypted and authenticated). Pairs run
/// A B, B A, ... on fresh files, as the diagnostics A/B does; the writer's
/// figure is the median of the pairs' ratios. Returns the key, for the
/// memory-security run.
async fn cipher_ab(dir: &tempfile::TempDir, mode: &Mode, pairs: usize) -> DataKey {
    const CALLERS: usize = 16;
    let key = DataKey::generate().expect("a key");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut cpu_a, mut cpu_b) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        let order: [Option<&DataKey>; 2] = if pair % 2 == 0 {
            [None, Some(&key)]
        } else {
            [Some(&key), None]
        };
        for k in order {
            let name = format!("c{pair}{}", if k.is_some() { "b" } else { "a" });
            let path = fresh_with(dir, &name, k).await;
            let (rate, cpu) = sitedesk_with(&path, k, CALLERS, mode.run).await;
            let (rates, cpus) = if k.is_some() {
                (&mut b, &mut cpu_b)
            } else {
                (&mut a, &mut cpu_a)
            };
            rates.push(rate);
            cpus.extend(cpu);
        }
    }
    let ratios: Vec<f64> = a.iter().zip(&b).map(|(a, b)| b / a).collect();
    let ratio = median(&ratios);
    println!();
    println!(
        "SQLCipher A/B, writer at {CALLERS} callers, {pairs} pairs of {:?}: keyed {:+.1}% edits/s (median of the pairs' ratios; target: at most 15% fewer)",
        mode.run,
        100.0 * (ratio - 1.0)
    );
    println!(
        "    pairs, edits/s plain / keyed: {}",
        a.iter()
            .zip(&b)
            .map(|(a, b)| format!("{a:.0} / {b:.0} ({:+.1}%)", 100.0 * (b / a - 1.0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !cpu_a.is_empty() && !cpu_b.is_empty() {
        let (cpu_a, cpu_b) = (median(&cpu_a), median(&cpu_b));
        println!(
            "    writer thread CPU per edit (median): plain {cpu_a:.0} µs, keyed {cpu_b:.0} µs, {:+.0} µs for the pages' encryption (less moved by the disk and other processes than edits/s)",
            cpu_b - cpu_a
        );
    }
    let (plain, plain_rate) =
        interactive_under_bulk_with(&fresh_with(dir, "cia", None).await, None, mode.bulk_edits)
            .await;
    let (keyed, keyed_rate) = interactive_under_bulk_with(
        &fresh_with(dir, "cib", Some(&key)).await,
        Some(&key),
        mode.bulk_edits,
    )
    .await;
    println!(
        "SQLCipher A/B, interactive time-to-saved while {} bulk edits stream:",
        mode.bulk_edits
    );
    for (name, l, rate) in [("plain", plain, plain_rate), ("keyed", keyed, keyed_rate)] {
        println!(
            "    {name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples); bulk {:.0} edits/s",
            l.p50, l.p99, l.max, l.samples, rate
        );
    }
    println!("    target: keyed p99 <= 20 ms");
    key
}

/// The time from a password to the first answer on an encrypted desk:
/// reading the key file, Argon2id at the recommended cost and unwrapping
/// the data key, opening the store (writer and migrations check), and a
/// first read through the readers. Three times; each line is one.
async fn unlock_time(dir: &tempfile::TempDir) {
    let folder = dir.path().join("unlock");
    std::fs::create_dir_all(&folder).expect("folder");
    let (vault, key, _) = Vault::create(&folder, "admin", "correct horse battery").expect("vault");
    vault.save().expect("saved");
    let db = folder.join("desk.sqlite3");
    let store = Store::open(&db, options(Some(&key)), &TaskRegistry::new()).expect("open");
    store.close().await;
    let params = KdfParams::RECOMMENDED;
    println!();
    println!(
        "unlock (Argon2id m={} MiB t={} p={}, unwrap, open, first read); target under 1 s:",
        params.memory_kib / 1024,
        params.iterations,
        params.parallelism
    );
    for _ in 0..3 {
        let started = Instant::now();
        let key = tokio::task::spawn_blocking({
            let folder = folder.clone();
            move || {
                Vault::load(&folder)
                    .expect("key file")
                    .unlock("admin", "correct horse battery")
                    .expect("unlocked")
            }
        })
        .await
        .expect("the unlock task");
        let unwrapped = started.elapsed();
        let store = Store::open(&db, options(Some(&key)), &TaskRegistry::new()).expect("open");
        let opened = started.elapsed();
        store.readers().desk().await.expect("first read");
        let total = started.elapsed();
        store.close().await;
        println!(
            "    {:.0} ms: key file and Argon2id {:.0} ms, open {:.1} ms, first read {:.1} ms",
            total.as_secs_f64() * 1000.0,
            unwrapped.as_secs_f64() * 1000.0,
            (opened - unwrapped).as_secs_f64() * 1000.0,
            (total - opened).as_secs_f64() * 1000.0
        );
    }
}

/// SQLCipher's `cipher_memory_security` (it wipes every allocation SQLite
/// frees and locks its memory): the writer at 16 callers and the
/// interactive lane under bulk, keyed, with it on. Process-wide and not
/// undoable, so it runs last.
async fn memory_security(dir: &tempfile::TempDir, mode: &Mode, key: &DataKey) {
    let path = fresh_with(dir, "ms", Some(key)).await;
    {
        let c = Connection::open(&path).expect("open");
        sitedesk_core::store::unlock_connection(&c, &path, Some(key)).expect("keyed");
        c.pragma_update(None, "cipher_memory_security", "ON")
            .expect("memory security");
    }
    let (rate, _) = sitedesk_with(&path, Some(key), 16, mode.run).await;
    let (l, bulk) = interactive_under_bulk_with(
        &fresh_with(dir, "msi", Some(key)).await,
        Some(key),
        mode.bulk_edits,
    )
    .await;
    println!();
    println!(
        "keyed with cipher_memory_security on: writer at 16 callers {rate:.0} edits/s; interactive under bulk p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; bulk {bulk:.0} edits/s",
        l.p50, l.p99, l.max
    );
}

/// Fresh databases for `pairs` A/B runs.
fn ab_databases(dir: &tempfile::TempDir, pairs: usize) -> Vec<[std::path::PathBuf; 2]> {
    (0..pairs)
        .map(|p| {
            [
                fresh(dir, &format!("ab{p}a")),
                fresh(dir, &format!("ab{p}b")),
            ]
        })
        .collect()
}

/// The app's always-on diagnostics against none, on the writer at 16
/// callers: A without them, B with the log ring as a tracing layer and the
/// panel's once-a-second work (a sample of process, runtime, writer,
/// outbox and file sizes into the 15-minute history, the registry's and
/// the history's lints, the snapshot serialized as the panel's event).
/// The logging itself (an `info` filter) is on in both, as in the app.
/// Pairs run A B, B A, A B, ... on fresh databases; the median of the
/// pairs' ratios is the figure.
/// Then the memory the diagnostics keep once their rings are full.
async fn diagnostics_overhead(databases: &[[std::path::PathBuf; 2]], run: Duration) {
    use sitedesk_core::diagnostics::logs::{LOG_LINES, LogBuffer};
    use sitedesk_core::diagnostics::metrics::{History, SAMPLES, Sample, Sampler};
    use sitedesk_core::edc::metrics::CallMetrics;
    use tracing_subscriber::layer::SubscriberExt as _;

    const CALLERS: usize = 16;
    let logs = LogBuffer::default();
    let (ring, ring_handle) = tracing_subscriber::reload::Layer::new(None);
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(ring),
    )
    .expect("the benchmark's only subscriber");
    let toggle = |on: bool| {
        ring_handle
            .modify(|l| *l = on.then(|| logs.layer()))
            .expect("the ring layer");
    };

    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut panel_ms = Vec::new();
    let pairs = databases.len();
    for (i, pair) in databases.iter().enumerate() {
        // A B, then B A: whichever runs second inherits the first's disk
        // writeback, so each side goes second equally often.
        let order = if i % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for (on, path) in order.into_iter().zip(pair) {
            toggle(on);
            let registry = TaskRegistry::new();
            let store = Store::open(path, StoreOptions::default(), &registry).expect("open");
            let stop = tokio_util::sync::CancellationToken::new();
            #[allow(clippy::type_complexity, reason = "one local")]
            let panel = on.then(|| {
                let (store, registry, stop) = (store.clone(), registry.clone(), stop.clone());
                tokio::spawn(async move {
                    let (history, calls, mut sampler) = (
                        History::default(),
                        CallMetrics::default(),
                        Sampler::default(),
                    );
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    let (mut ticks, mut busy) = (0u32, Duration::ZERO);
                    loop {
                        tokio::select! {
                            () = stop.cancelled() => break (ticks, busy),
                            _ = tick.tick() => {
                                let started = Instant::now();
                                let sample = sampler.sample(&store, &registry, &calls).await;
                                history.push(sample);
                                let mut lints = registry.lints();
                                lints.extend(history.lints());
                                let event = serde_json::to_vec(&(
                                    registry.snapshot(),
                                    lints,
                                    store.writer().stats(),
                                    [sample],
                                ))
                                .expect("the event serializes");
                                std::hint::black_box(event);
                                ticks += 1;
                                busy += started.elapsed();
                            }
                        }
                    }
                })
            });
            let rate = drive(&store, CALLERS, run).await;
            stop.cancel();
            if let Some(p) = panel {
                let (ticks, busy) = p.await.expect("the panel's task");
                panel_ms.push(busy.as_secs_f64() * 1000.0 / f64::from(ticks.max(1)));
            }
            store.close().await;
            if on { b.push(rate) } else { a.push(rate) }
        }
    }
    toggle(false);
    // Each pair's ratio, B over A: the two ran minutes apart at most, so
    // the disk's drift over the whole benchmark cancels out of it.
    let ratios: Vec<f64> = a.iter().zip(&b).map(|(a, b)| b / a).collect();
    let median_ratio = median(&ratios);
    panel_ms.sort_by(f64::total_cmp);
    let panel = panel_ms[panel_ms.len() / 2];
    println!();
    println!(
        "diagnostics overhead, writer at {CALLERS} callers, {pairs} A/B pairs of {run:?}: with diagnostics {:+.1}% (median of the pairs' ratios; target: at most 2% slower); the panel's work took {panel:.2} ms a second",
        100.0 * (median_ratio - 1.0)
    );
    println!(
        "    pairs, edits/s without / with: {}; the log ring kept {} lines",
        a.iter()
            .zip(&b)
            .map(|(a, b)| format!("{a:.0} / {b:.0} ({:+.1}%)", 100.0 * (b / a - 1.0)))
            .collect::<Vec<_>>()
            .join(", "),
        logs.len()
    );

    // Memory: the log ring full of the longest lines it keeps, and the
    // history full.
    let rss_before = rss_kb();
    let logs = LogBuffer::default();
    let history = History::default();
    let subscriber = tracing_subscriber::registry().with(logs.layer());
    let long = "x".repeat(600);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..LOG_LINES {
            tracing::warn!(count = i, "{long}");
        }
    });
    for i in 0..SAMPLES {
        history.push(Sample {
            at_ms: i as i64,
            ..Sample::default()
        });
    }
    let kept = logs.heap_bytes() + SAMPLES * std::mem::size_of::<Sample>();
    let rss_after = rss_kb();
    println!(
        "diagnostics memory when full: log ring {} lines + history {} samples hold {:.2} MB; process RSS grew {:.2} MB (target: at most 4 MB)",
        logs.len(),
        history.all().len(),
        kept as f64 / (1024.0 * 1024.0),
        rss_after.saturating_sub(rss_before) as f64 / 1024.0
    );
}

/// The process's resident memory, in kB (Linux; 0 elsewhere).
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
