//! The child of the crash-safety suite (`tests/crash.rs`): writes form
//! values through the store's writer from several tasks, on both lanes, and
//! prints the record id of every edit the writer acknowledged, one per line,
//! until it is killed. Every seventh edit is one the writer must refuse (a
//! saved value changed without a reason), so that failing commands roll
//! back inside batches while the process dies. Anything unexpected ends the
//! process with status 3, which the parent reports.
//!
//! Usage: crash-writer DB_PATH FIRST_INDEX

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::domain::{Actor, DomainError, RecordEdit};
use sitedesk_core::store::{Lane, Store, StoreError, StoreOptions};

/// Writers at once: enough for the writer to batch.
const TASKS: u64 = 8;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(first)) = (args.next(), args.next()) else {
        eprintln!("usage: crash-writer DB_PATH FIRST_INDEX");
        std::process::exit(2);
    };
    let first: u64 = first.parse().expect("FIRST_INDEX is a number");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Store::open(path.as_ref(), StoreOptions::default(), &TaskRegistry::new())
            .expect("open the store");
        let next = Arc::new(AtomicU64::new(first));
        let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (w, next, out) = (store.writer().clone(), next.clone(), out.clone());
                tokio::spawn(async move {
                    let lane = if t % 2 == 0 {
                        Lane::Interactive
                    } else {
                        Lane::Bulk
                    };
                    let actor = Actor {
                        account: "crash".into(),
                        display_name: String::new(),
                        login: None,
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let edit = RecordEdit {
                            record_id: format!("k{i}"),
                            event: "baseline_arm_1".into(),
                            instance: 1,
                            values: BTreeMap::from([
                                ("weight".to_owned(), Some(format!("{}", 50 + i % 50))),
                                ("visit_date".to_owned(), Some("2026-11-23".to_owned())),
                            ]),
                            reason: None,
                            computed: Vec::new(),
                        };
                        if let Err(e) = w.set_values(lane, actor.clone(), edit.clone()).await {
                            eprintln!("crash-writer: edit k{i} failed: {e}");
                            std::process::exit(3);
                        }
                        if i % 7 == 0 {
                            let mut refused = edit;
                            refused.values =
                                BTreeMap::from([("weight".to_owned(), Some("999".to_owned()))]);
                            match w.set_values(lane, actor.clone(), refused).await {
                                Err(StoreError::Domain(DomainError::ValueReasonRequired {
                                    ..
                                })) => {}
                                other => {
                                    eprintln!(
                                        "crash-writer: k{i} change without reason: {other:?}"
                                    );
                                    std::process::exit(3);
                                }
                            }
                        }
                        // Acknowledged, hence committed: tell the parent.
                        let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = writeln!(o, "k{i}");
                        let _ = o.flush();
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
}
