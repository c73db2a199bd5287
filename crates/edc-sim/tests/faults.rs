//! What a client sees of each fault, at the HTTP level: statuses and
//! headers, errors where an answer is cut, a timeout where it never comes,
//! the data an import committed although its answer was lost, the limits
//! on rate and concurrency, and what real servers do: a slow commit
//! stamped when it started, a clock stepped back, the log's minutes, PHP's
//! cap on form variables, a ban, a database error answered as data. The
//! only waiting here is the delay a test measures; everything else awaits
//! the answers themselves or the server's count of a fault.

use std::time::{Duration, Instant};

use edc_sim::{
    BANNED, Clock, DB_ERROR, DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, FaultSet, Project, RunningSim,
    SimConfig,
};
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

fn at(h: u32, m: u32, s: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2025, 11, 2)
        .unwrap()
        .and_hms_opt(h, m, s)
        .unwrap()
}

fn ids(rows: &[serde_json::Value]) -> Vec<&str> {
    let mut ids: Vec<&str> = rows
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn a_slow_commit_is_stamped_when_it_started_and_a_later_import_commits_first() {
    let mut config = SimConfig::new(Project::demo());
    config.clock = Clock::Fixed(at(9, 0, 0));
    config.faults = "slow-commit=1500ms@content=record/import:next=1"
        .parse()
        .unwrap();
    let sim = start_with(config).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let slow = {
        let c = Client::new(&sim, DEMO_TOKEN);
        tokio::spawn(async move { c.import(new_subject("S01-SLOW"), &[]).await })
    };
    // Stamped 09:00:00 and waiting to commit.
    sim.fault_seen("slow-commit", 1).await;
    sim.set_clock(Clock::Fixed(at(9, 5, 0)));
    assert_eq!(c.import(new_subject("S01-QUICK"), &[]).await.0, 200);
    let since = [("dateRangeBegin", "2025-11-02 09:05:00")];
    assert_eq!(ids(&c.export(&since).await), ["S01-QUICK"]);
    assert!(
        c.export(&[("records[0]", "S01-SLOW")]).await.is_empty(),
        "not committed yet"
    );
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200, "{body}");
    // Committed after the quick one, yet a pull from the quick one's
    // time does not see it: its stamp is older.
    assert_eq!(ids(&c.export(&since).await), ["S01-QUICK"]);
    let log = c
        .json(&[
            ("content", "log"),
            ("user", "demo_data_manager"),
            ("beginTime", "2025-11-02 08:59"),
        ])
        .await;
    let stamps: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stamps,
        [
            ("Create record S01-SLOW (API)", "2025-11-02 09:00"),
            ("Create record S01-QUICK (API)", "2025-11-02 09:05"),
        ],
        "newest first: the slow one was logged last, with the older time"
    );
    assert_eq!(sim.stats().faults["slow-commit"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_clock_stepped_back_repeats_times_already_used() {
    let mut config = SimConfig::new(Project::demo());
    config.clock = Clock::Fixed(at(0, 0, 0));
    let sim = start_with(config).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    sim.set_clock(Clock::Fixed(at(1, 30, 0)));
    c.import_ok(new_subject("S01-BEFORE"), &[]).await;
    sim.set_faults("clock-back=60".parse().unwrap());
    c.import_ok(new_subject("S01-AFTER"), &[]).await;
    assert_eq!(sim.now(), at(0, 30, 0));
    c.import_ok(new_subject("S01-LATER"), &[]).await;
    assert_eq!(sim.now(), at(0, 30, 0), "one step, not one per request");
    assert_eq!(sim.stats().faults["clock-back"], 1);
    // Imported after S01-BEFORE, stamped an hour before it.
    let since = [("dateRangeBegin", "2025-11-02 01:00:00")];
    assert_eq!(ids(&c.export(&since).await), ["S01-BEFORE"]);
    let log = c
        .json(&[
            ("content", "log"),
            ("logtype", "record_add"),
            ("user", "demo_data_manager"),
        ])
        .await;
    let stamps: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        stamps,
        ["2025-11-02 00:30", "2025-11-02 00:30", "2025-11-02 01:30"]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_log_gives_minutes_and_date_range_begin_filters_on_seconds() {
    let mut config = SimConfig::new(Project::demo());
    config.clock = Clock::Fixed(at(9, 0, 0));
    let sim = start_with(config).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    sim.set_clock(Clock::Fixed(at(10, 0, 30)));
    c.import_ok(new_subject("S01-SECONDS"), &[]).await;
    let log = c
        .json(&[("content", "log"), ("record", "S01-SECONDS")])
        .await;
    assert_eq!(log[0]["timestamp"], "2025-11-02 10:00");
    let at_stamp = [("dateRangeBegin", "2025-11-02 10:00:30")];
    assert_eq!(ids(&c.export(&at_stamp).await), ["S01-SECONDS"]);
    assert!(
        c.export(&[("dateRangeBegin", "2025-11-02 10:00:31")])
            .await
            .is_empty()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn max_input_vars_keeps_the_first_variables_as_php_does() {
    let sim = sim_with("max-input-vars=6", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let all = c.export(&[]).await;
    let first: Vec<String> = ids(&all).iter().map(|s| (*s).to_owned()).collect();
    assert!(first.len() >= 3);
    // token, format, content, type, records[0], records[1]: the third
    // record is cut.
    let rows = c
        .export(&[
            ("records[0]", &first[0]),
            ("records[1]", &first[1]),
            ("records[2]", &first[2]),
        ])
        .await;
    assert_eq!(ids(&rows), [first[0].as_str(), first[1].as_str()]);
    // An import's data after the cut: REDCap sees a record export.
    let (status, body) = c
        .post(&[
            ("content", "record"),
            ("type", "flat"),
            ("overwriteBehavior", "normal"),
            ("returnContent", "count"),
            ("data", &new_subject("S01-CUT").to_string()),
        ])
        .await;
    assert_eq!(status, 200);
    assert!(body.starts_with('['), "an export's rows: {body}");
    sim.set_faults(FaultSet::default());
    assert!(
        c.export(&[("records[0]", "S01-CUT")]).await.is_empty(),
        "nothing was imported"
    );
    assert_eq!(sim.stats().faults["max-input-vars"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_banned_address_gets_plain_429s_until_the_ban_is_lifted() {
    let mut config = SimConfig::new(Project::demo());
    config.faults = "ban=3".parse().unwrap();
    config.admin = true;
    let sim = start_with(config).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    for _ in 0..3 {
        assert_eq!(c.post(&[("content", "version")]).await.0, 200);
    }
    let banned = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 429);
        assert!(r.headers().get("retry-after").is_none());
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(r.text().await.unwrap(), BANNED);
    };
    banned(c.request(&[("content", "version")]).send().await.unwrap()).await;
    // Every call, every token, and no import is processed.
    let other = Client::new(&sim, DEMO_TOKEN_HILLVIEW);
    let data = new_subject("S01-BANNED").to_string();
    banned(
        other
            .request(&[("content", "record"), ("type", "flat"), ("data", &data)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A new fault set leaves the ban in force.
    sim.set_faults(FaultSet::default());
    banned(c.request(&[("content", "version")]).send().await.unwrap()).await;
    assert_eq!(
        sim.lift_ban(),
        ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(
        c.export(&[("records[0]", "S01-BANNED")]).await.is_empty(),
        "nothing was imported"
    );
    assert_eq!(sim.stats().faults["ban"], 3);

    // The admin endpoint lifts it too.
    sim.set_faults("ban=1".parse().unwrap());
    assert_eq!(c.post(&[("content", "version")]).await.0, 200);
    assert_eq!(c.post(&[("content", "version")]).await.0, 429);
    let lifted: serde_json::Value = crate::common::http()
        .delete(format!("{}admin/ban", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lifted, json!({"lifted": ["127.0.0.1"]}));
    assert_eq!(c.post(&[("content", "version")]).await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_database_error_comes_back_as_200_text_and_nothing_is_written() {
    let sim = sim_with("db-error@content=record/import:next=1", 1).await;
    let c = Client::new(&sim, DEMO_TOKEN);
    let r = c
        .request(&[
            ("content", "record"),
            ("type", "flat"),
            ("data", &new_subject("S01-DB").to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), DB_ERROR);
    assert!(c.export(&[("records[0]", "S01-DB")]).await.is_empty());
    assert_eq!(c.import(new_subject("S01-DB"), &[]).await.0, 200);
    assert_eq!(sim.stats().faults["db-error"], 1);
    sim.shutdown().await;
}
