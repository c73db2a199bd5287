//! What a client sees of each fault, at the HTTP level: statuses and
//! headers, errors where an answer is cut, a timeout where it never comes,
//! the data an import committed although its answer was lost, and the
//! limits on rate and concurrency. The only waiting here is the delay a
//! test measures; everything else awaits the answers themselves.

use std::time::{Duration, Instant};

use edc_sim::{DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, FaultSet, Project, RunningSim, SimConfig};
use serde_json::json;

use crate::common::{Client, start_with};

async fn sim_with(faults: &str, seed: u64) -> RunningSim {
    let mut config = SimConfig::new(Project::demo());
    config.faults = faults.parse::<FaultSet>().unwrap();
    config.seed = seed;
    start_with(config).await
}

fn new_subject(id: &str) -> serde_json::Value {
    json!([{"record_id": id, "redcap_event_name": "screening_arm_1", "sex": "1"}])
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sim = sim_with("latency=150ms@content=metadata", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let t = Instant::now();
    assert_eq!(c.post(&[("content", "metadata")]).await.0, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    sim.set_faults("latency=20..40ms".parse().unwrap());
    for _ in 0..3 {
        let t = Instant::now();
        c.post(&[("content", "version")]).await;
        assert!(
            t.elapsed() >= Duration::from_millis(20),
            "{:?}",
            t.elapsed()
        );
    }
    assert_eq!(sim.stats().faults["latency"], 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_injected_status_is_answered_without_processing() {
    let sim = sim_with("status=503@content=record:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let (status, body) = c.import(new_subject("S01-5031"), &[]).await;
    assert_eq!(status, 503);
    assert!(body.contains("503 Service Unavailable"), "{body}");
    assert!(
        c.export(&[("records[0]", "S01-5031")]).await.is_empty(),
        "nothing was written"
    );
    assert_eq!(c.import(new_subject("S01-5031"), &[]).await.0, 200);
    let stats = sim.stats();
    assert_eq!(stats.by_status[&503], 1);
    assert_eq!(stats.faults["status=503"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn probabilistic_faults_repeat_with_their_seed() {
    let statuses = |seed| async move {
        let sim = sim_with("status=500@0.5", seed).await;
        let c = Client::new(&sim, DEMO_TOKEN);
        let mut out = Vec::new();
        for _ in 0..24 {
            out.push(c.post(&[("content", "version")]).await.0);
        }
        sim.shutdown().await;
        out
    };
    let first = statuses(42).await;
    assert_eq!(first, statuses(42).await);
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
}

#[tokio::test]
async fn a_429_carries_retry_after() {
    let sim = sim_with("429@content=metadata:retry-after=7:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let r = c.request(&[("content", "metadata")]).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("retry after 7"));
    assert_eq!(c.post(&[("content", "metadata")]).await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hang_outlasts_the_clients_timeout_and_ends_at_shutdown() {
    let sim = sim_with("hang@content=record:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let err = c
        .request(&[("content", "record")])
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The rule is spent: the next request is answered.
    assert_eq!(c.post(&[("content", "record")]).await.0, 200);
    assert_eq!(sim.stats().faults["hang"], 1);
    tokio::time::timeout(Duration::from_secs(10), sim.shutdown())
        .await
        .expect("shutdown ends a hung request");
}

#[tokio::test]
async fn a_reset_mid_answer_is_an_error_for_the_client() {
    let sim = sim_with("reset@content=metadata:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let result = match c.request(&[("content", "metadata")]).send().await {
        Ok(r) => {
            assert_eq!(r.status(), 200, "the status line went out before the reset");
            r.bytes().await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let err = result.expect_err("a reset answer cannot be read whole");
    assert!(
        err.is_body() || err.is_request() || err.is_decode(),
        "{err:?}"
    );
    assert_eq!(c.post(&[("content", "metadata")]).await.0, 200);
    assert_eq!(sim.stats().faults["reset"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_truncated_answer_is_an_error_for_the_client() {
    let sim = sim_with("truncate@content=record:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let r = c.request(&[("content", "record")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let announced: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        announced > 1000,
        "the whole export is announced: {announced}"
    );
    let err = r.bytes().await.expect_err("the body ends early");
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    assert_eq!(c.export(&[]).await.len(), 7);
    sim.shutdown().await;
}

#[tokio::test]
async fn apply_then_drop_commits_the_import_though_the_client_gets_no_answer() {
    let sim = sim_with("apply-then-drop@content=record/import:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let data = new_subject("S01-0042").to_string();
    let err = c
        .request(&[("content", "record"), ("type", "flat"), ("data", &data)])
        .send()
        .await
        .expect_err("no answer comes");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let rows = c.export(&[("records[0]", "S01-0042")]).await;
    assert_eq!(rows.len(), 1, "the import was committed");
    assert_eq!(rows[0]["sex"], "1");
    // Resending the rows is harmless: an import is an upsert.
    assert_eq!(
        c.import_ok(new_subject("S01-0042"), &[]).await,
        json!({"count": 1})
    );
    assert_eq!(c.export(&[("records[0]", "S01-0042")]).await, rows);
    assert_eq!(sim.stats().faults["apply-then-drop"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rate_limit_answers_429_beyond_each_tokens_budget() {
    let sim = sim_with("rate=2/m", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    assert_eq!(c.post(&[("content", "version")]).await.0, 200);
    assert_eq!(c.post(&[("content", "version")]).await.0, 200);
    let r = c.request(&[("content", "version")]).send().await.unwrap();
    assert_eq!(r.status(), 429);
    // One request comes back every 30 seconds.
    assert_eq!(r.headers()["retry-after"], "30");
    let other = Client::new(&sim, DEMO_TOKEN_HILLVIEW);
    assert_eq!(other.post(&[("content", "version")]).await.0, 200);
    let stats = sim.stats();
    assert_eq!(stats.faults["rate"], 1);
    assert_eq!(stats.by_status[&429], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn max_concurrent_keeps_the_peak_at_the_cap() {
    let sim = sim_with("max-concurrent=2; latency=200ms", 1).await;
    let url = sim.api_url();
    let t = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = url.clone();
        set.spawn(async move {
            crate::common::http()
                .post(url)
                .form(&[
                    ("token", DEMO_TOKEN),
                    ("content", "version"),
                    ("format", "json"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = set.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    // Six requests of 100 ms, two at a time.
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let stats = sim.stats();
    assert_eq!(stats.peak_concurrent, 2);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.requests, 6);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_record_cost_grows_with_the_rows() {
    let sim = sim_with("record-cost=15ms", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    c.post(&[("content", "metadata")]).await;
    assert!(
        !sim.stats().faults.contains_key("record-cost"),
        "no rows, no cost"
    );
    let t = Instant::now();
    assert_eq!(c.export(&[]).await.len(), 7);
    assert!(
        t.elapsed() >= Duration::from_millis(7 * 15),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sim.stats().faults["record-cost"], 1);
    sim.shutdown().await;
}
