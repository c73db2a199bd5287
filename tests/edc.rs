//! The EDC client against the REDCap-compatible simulator on 127.0.0.1:
//! every call the client makes, the typed errors a REDCap server gives,
//! and what the client makes of each kind of fault the simulator injects.

use std::time::{Duration, Instant};

use edc_sim::{
    CsvFiles, DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, DEMO_TOKEN_RIVERSIDE, FaultSet, Project, RIVERSIDE,
    RunningSim, SimConfig, Simulator,
};
use sitedesk_core::edc::{EdcClient, EdcError, FlatRow, Overwrite, RecordQuery, Timeouts, Token};
use sitedesk_core::forms::demo_forms;

async fn demo() -> RunningSim {
    Simulator::start(SimConfig::new(Project::demo()))
        .await
        .expect("the simulator starts")
}

fn client(sim: &RunningSim, token: &str) -> EdcClient {
    EdcClient::new(
        &sim.base_url(),
        Token::parse(token).unwrap(),
        Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(10),
        },
    )
    .unwrap()
}

fn row(pairs: &[(&str, &str)]) -> FlatRow {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn metadata_calls_give_the_studys_dictionary_and_design() {
    let sim = demo().await;
    let c = client(&sim, DEMO_TOKEN);
    assert_eq!(c.version().await.unwrap(), edc_sim::REDCAP_VERSION);
    let project = c.project().await.unwrap();
    assert!(project.is_longitudinal && project.has_repeating);
    assert!(!project.record_autonumbering);
    let dictionary = c.metadata().await.unwrap();
    let (demo_dictionary, demo_design) = demo_forms();
    assert_eq!(dictionary, demo_dictionary);
    let design = c.design(&dictionary).await.unwrap();
    assert_eq!(design.events, demo_design.events);
    assert_eq!(design.mapping, demo_design.mapping);
    assert_eq!(design.repeating.len(), demo_design.repeating.len());
    assert_eq!(design.dags.len(), 2);
    assert_eq!(
        design.form_label("adverse_events"),
        demo_design.form_label("adverse_events")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_classic_project_is_told_apart_from_a_longitudinal_one() {
    let csv = include_bytes!("../crates/sitedesk-core/src/forms/demo_dictionary.csv");
    let project = Project::from_csv(CsvFiles {
        dictionary: csv,
        arms: None,
        events: None,
        mapping: None,
        data: None,
    })
    .unwrap();
    let sim = Simulator::start(SimConfig::new(project)).await.unwrap();
    let c = client(&sim, DEMO_TOKEN);
    assert!(!c.project().await.unwrap().is_longitudinal);
    let dictionary = c.metadata().await.unwrap();
    let design = c.design(&dictionary).await.unwrap();
    assert!(!design.is_longitudinal());
    assert_eq!(design.event_names(), ["event_1_arm_1"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn records_round_trip_with_client_ids_and_site_scoping() {
    let sim = demo().await;
    let riverside = client(&sim, DEMO_TOKEN_RIVERSIDE);
    let hillview = client(&sim, DEMO_TOKEN_HILLVIEW);
    let manager = client(&sim, DEMO_TOKEN);

    // The desk's site token sees none of the other site's records.
    let before = riverside
        .export_records(&RecordQuery::default())
        .await
        .unwrap();
    assert!(
        before.iter().all(|r| !r["record_id"].starts_with("S02")),
        "{before:?}"
    );
    assert!(
        !hillview
            .export_records(&RecordQuery::default())
            .await
            .unwrap()
            .is_empty()
    );

    let rows = vec![row(&[
        ("record_id", "S01-TST-0001"),
        ("redcap_event_name", "screening_arm_1"),
        ("height_cm", "170"),
        ("weight_kg", "70.0"),
        ("sex", "2"),
    ])];
    let ids = riverside
        .import_records(&rows, Overwrite::Normal)
        .await
        .unwrap();
    assert_eq!(ids, ["S01-TST-0001"], "the client's id, not an auto number");
    // Importing the same rows again is harmless (an upsert).
    riverside
        .import_records(&rows, Overwrite::Normal)
        .await
        .unwrap();

    let mine = riverside
        .export_records(&RecordQuery {
            records: vec!["S01-TST-0001".into()],
            fields: vec!["record_id".into(), "height_cm".into(), "sex".into()],
            events: vec!["screening_arm_1".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["height_cm"], "170");
    assert_eq!(mine[0]["sex"], "2");
    let other = hillview
        .export_records(&RecordQuery {
            records: vec!["S01-TST-0001".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(other.is_empty(), "another site's token does not see it");
    let with_site = manager
        .export_records(&RecordQuery {
            records: vec!["S01-TST-0001".into()],
            data_access_groups: true,
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(
        with_site
            .iter()
            .all(|r| r["redcap_data_access_group"] == "riverside_clinic")
    );

    // Clearing a value needs overwrite; normal leaves it.
    let blank = vec![row(&[
        ("record_id", "S01-TST-0001"),
        ("redcap_event_name", "screening_arm_1"),
        ("height_cm", ""),
    ])];
    riverside
        .import_records(&blank, Overwrite::Normal)
        .await
        .unwrap();
    let q = RecordQuery {
        records: vec!["S01-TST-0001".into()],
        fields: vec!["record_id".into(), "height_cm".into()],
        events: vec!["screening_arm_1".into()],
        ..RecordQuery::default()
    };
    assert_eq!(
        riverside.export_records(&q).await.unwrap()[0]["height_cm"],
        "170"
    );
    riverside
        .import_records(&blank, Overwrite::Overwrite)
        .await
        .unwrap();
    assert_eq!(
        riverside.export_records(&q).await.unwrap()[0]["height_cm"],
        ""
    );

    // The log and dateRangeBegin see the edits.
    let log = riverside
        .log(Some("S01-TST-0001"), None, None)
        .await
        .unwrap();
    assert!(!log.is_empty());
    assert!(log.iter().all(|e| e.username == "riverside_crc"), "{log:?}");
    let since = sim.now() - chrono::TimeDelta::minutes(5);
    let changed = riverside
        .export_records(&RecordQuery {
            date_range_begin: Some(since.format(edc_sim::TIMESTAMP).to_string()),
            fields: vec!["record_id".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(changed.iter().any(|r| r["record_id"] == "S01-TST-0001"));
    sim.shutdown().await;
}

#[tokio::test]
async fn refusals_arrive_as_typed_errors() {
    let sim = demo().await;
    let c = client(&sim, DEMO_TOKEN_RIVERSIDE);
    let bad = vec![row(&[
        ("record_id", "S01-TST-0002"),
        ("redcap_event_name", "screening_arm_1"),
        ("weight_kg", "70"),
        ("sex", "7"),
    ])];
    match c.import_records(&bad, Overwrite::Normal).await {
        Err(EdcError::Validation(rows)) => {
            let fields: Vec<&str> = rows.iter().map(|r| r.field.as_str()).collect();
            assert!(
                fields.contains(&"weight_kg") && fields.contains(&"sex"),
                "{rows:?}"
            );
            assert!(rows.iter().all(|r| r.record == "S01-TST-0002"));
        }
        other => panic!("{other:?}"),
    }
    let unknown = vec![row(&[
        ("record_id", "S01-TST-0002"),
        ("redcap_event_name", "screening_arm_1"),
        ("shoe_size", "42"),
    ])];
    match c.import_records(&unknown, Overwrite::Normal).await {
        Err(EdcError::UnknownFields(f)) => assert_eq!(f, ["shoe_size"]),
        other => panic!("{other:?}"),
    }
    let nobody = client(&sim, &"F".repeat(32));
    assert_eq!(nobody.version().await, Err(EdcError::BadToken));
    assert_eq!(nobody.metadata().await.unwrap_err(), EdcError::BadToken);
    // Nothing of the refused imports was applied.
    let none = c
        .export_records(&RecordQuery {
            records: vec!["S01-TST-0002".into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    sim.shutdown().await;
}

/// A simulator with `spec` in force for record imports and exports.
async fn faulty(spec: &str) -> RunningSim {
    let sim = demo().await;
    sim.set_faults(spec.parse::<FaultSet>().unwrap());
    sim
}

fn one_row(id: &str) -> Vec<FlatRow> {
    vec![row(&[
        ("record_id", id),
        ("redcap_event_name", "screening_arm_1"),
        ("height_cm", "180"),
    ])]
}

async fn exists(sim: &RunningSim, id: &str) -> bool {
    sim.set_faults(FaultSet::default());
    !client(sim, DEMO_TOKEN)
        .export_records(&RecordQuery {
            records: vec![id.into()],
            ..RecordQuery::default()
        })
        .await
        .unwrap()
        .is_empty()
}

#[tokio::test]
async fn server_errors_are_transient_and_the_import_did_not_happen() {
    for code in [500, 502, 503] {
        let sim = faulty(&format!("status={code}:content=record")).await;
        let e = client(&sim, DEMO_TOKEN_RIVERSIDE)
            .import_records(&one_row("S01-TST-0500"), Overwrite::Normal)
            .await
            .unwrap_err();
        assert!(
            matches!(e, EdcError::Server { status, .. } if status == code),
            "{e:?}"
        );
        assert!(e.is_transient() && !e.outcome_unknown());
        assert!(!exists(&sim, "S01-TST-0500").await);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn too_many_requests_surfaces_retry_after() {
    let sim = faulty("429:retry-after=7:content=record").await;
    let e = client(&sim, DEMO_TOKEN_RIVERSIDE)
        .export_records(&RecordQuery::default())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        EdcError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    sim.shutdown().await;

    // A per-token rate limit: the burst passes, the next request is told
    // when to come back.
    let sim = faulty("rate=2/s@retry-after=3").await;
    let c = client(&sim, DEMO_TOKEN_RIVERSIDE);
    let mut results = Vec::new();
    for _ in 0..4 {
        results.push(c.version().await);
    }
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert!(
        results.iter().any(|r| matches!(
            r,
            Err(EdcError::RateLimited {
                retry_after: Some(d)
            }) if *d == Duration::from_secs(3)
        )),
        "{results:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hanging_server_is_cut_off_at_the_clients_timeout() {
    let sim = faulty("hang:content=version").await;
    let c = EdcClient::new(
        &sim.base_url(),
        Token::parse(DEMO_TOKEN).unwrap(),
        Timeouts {
            connect: Duration::from_secs(2),
            total: Duration::from_millis(400),
        },
    )
    .unwrap();
    let started = Instant::now();
    let e = c.version().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e, EdcError::Timeout);
    assert!(e.outcome_unknown());
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reset_or_truncated_answer_is_a_transport_error_with_an_unknown_outcome() {
    for fault in ["reset", "truncate"] {
        let sim = faulty(&format!("{fault}:content=record")).await;
        let e = client(&sim, DEMO_TOKEN_RIVERSIDE)
            .import_records(&one_row("S01-TST-0600"), Overwrite::Normal)
            .await
            .unwrap_err();
        assert!(matches!(e, EdcError::Transport(_)), "{fault}: {e:?}");
        assert!(e.is_transient() && e.outcome_unknown(), "{fault}");
        // The server processed it: only exporting tells.
        assert!(exists(&sim, "S01-TST-0600").await, "{fault}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn apply_then_drop_commits_although_the_client_got_no_answer() {
    let sim = faulty("apply-then-drop:content=record:action=import").await;
    let e = client(&sim, DEMO_TOKEN_RIVERSIDE)
        .import_records(&one_row("S01-TST-0700"), Overwrite::Normal)
        .await
        .unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    assert!(exists(&sim, "S01-TST-0700").await);
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_is_waited_for_within_the_timeout() {
    let sim = faulty("latency=150ms:content=version").await;
    let started = Instant::now();
    client(&sim, DEMO_TOKEN).version().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_transport_error() {
    let sim = demo().await;
    let url = sim.base_url();
    sim.shutdown().await;
    let c = EdcClient::new(&url, Token::parse(DEMO_TOKEN).unwrap(), Timeouts::default()).unwrap();
    let e = c.version().await.unwrap_err();
    assert!(matches!(e, EdcError::Transport(_)), "{e:?}");
}

/// Every call is counted under its endpoint, with its latency and bytes;
/// a refused one as a failure. Clients given the same metrics share them.
#[tokio::test]
async fn calls_are_counted_per_endpoint_with_failures_latency_and_bytes() {
    use sitedesk_core::edc::metrics::CallMetrics;
    let sim = faulty("status=503:content=record/import:next=1").await;
    let metrics = std::sync::Arc::new(CallMetrics::default());
    let a = client(&sim, DEMO_TOKEN_RIVERSIDE).with_metrics(metrics.clone());
    let b = client(&sim, DEMO_TOKEN_RIVERSIDE).with_metrics(metrics.clone());
    a.version().await.unwrap();
    a.metadata().await.unwrap();
    let refused = b
        .import_records(&one_row("S01-TST-0601"), Overwrite::Normal)
        .await;
    assert!(refused.is_err(), "the first import is refused with 503");
    b.import_records(&one_row("S01-TST-0601"), Overwrite::Normal)
        .await
        .unwrap();
    b.export_records(&RecordQuery::default()).await.unwrap();

    let stats = metrics.snapshot();
    let get = |name: &str| {
        stats
            .iter()
            .find(|e| e.endpoint == name)
            .unwrap_or_else(|| panic!("{name} in {stats:?}"))
    };
    let import = get("record import");
    assert_eq!((import.calls, import.failures), (2, 1));
    assert!(import.bytes_sent > 2 * "S01-TST-0601".len() as u64);
    assert!(import.latency_ms.max >= import.latency_ms.p50 && import.latency_ms.p50 > 0.0);
    let export = get("record export");
    assert_eq!((export.calls, export.failures), (1, 0));
    assert!(export.bytes_received > 0);
    assert_eq!(get("metadata").calls, 1);
    assert_eq!(get("version").calls, 1);
    let totals = metrics.totals();
    assert_eq!((totals.calls, totals.failures, totals.retries), (5, 1, 0));
    sim.shutdown().await;
}

/// A group user's next record name starts with the group's id, as REDCap
/// numbers them; that is how a desk learns its token's site. An unbound
/// token gets a plain number, and nothing is created either way.
#[tokio::test]
async fn the_next_record_name_tells_a_tokens_group() {
    let sim = demo().await;
    let manager = client(&sim, DEMO_TOKEN);
    let riverside = client(&sim, DEMO_TOKEN_RIVERSIDE);
    let dags = manager.dags().await.unwrap();
    let id = sim.project().dag_id(RIVERSIDE).unwrap();
    assert!(
        dags.iter()
            .any(|d| d.unique_group_name == RIVERSIDE && d.data_access_group_id == id)
    );

    let next = riverside.next_record_name().await.unwrap();
    assert_eq!(next, format!("{id}-1"));
    let own = riverside.token_dag(&dags).await.unwrap().unwrap();
    assert_eq!(own.unique_group_name, RIVERSIDE);
    assert_eq!(manager.token_dag(&dags).await.unwrap(), None);
    assert!(!manager.next_record_name().await.unwrap().contains('-'));
    assert_eq!(
        riverside.next_record_name().await.unwrap(),
        next,
        "nothing was created"
    );
    sim.shutdown().await;
}

/// A server on 127.0.0.1 that gives every request the same raw answer and
/// counts the requests it got.
async fn fixed_answer(
    answer: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 64 * 1024];
            // One read holds this test's small form; the answer follows.
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, hits)
}

/// A redirect is never followed: the request's body carries the token, and
/// the target (here another local server) gets nothing.
#[tokio::test]
async fn a_redirect_is_refused_not_followed() {
    use std::sync::atomic::Ordering;
    let (target, target_hits) =
        fixed_answer("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n14.7.3").await;
    let redirect: &'static str = Box::leak(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (url, hits) = fixed_answer(redirect).await;
    let client =
        EdcClient::new(&url, Token::parse(DEMO_TOKEN).unwrap(), Timeouts::default()).unwrap();
    let e = client.version().await.unwrap_err();
    assert_eq!(e, EdcError::Redirect(target.clone()));
    assert!(!e.is_transient(), "a redirect is not retried");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        target_hits.load(Ordering::SeqCst),
        0,
        "the token went nowhere else"
    );
}

/// A Retry-After too large to add to a clock is taken as a day at most.
#[tokio::test]
async fn a_huge_retry_after_is_bounded() {
    let (url, _) = fixed_answer(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 18446744073709551615\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let client =
        EdcClient::new(&url, Token::parse(DEMO_TOKEN).unwrap(), Timeouts::default()).unwrap();
    assert_eq!(
        client.version().await.unwrap_err(),
        EdcError::RateLimited {
            retry_after: Some(Duration::from_secs(24 * 60 * 60))
        }
    );
}
