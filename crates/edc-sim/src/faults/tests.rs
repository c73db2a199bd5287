use super::*;

fn spec(s: &str) -> FaultSet {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn record_import() -> CallKey {
    CallKey {
        content: "record".into(),
        action: Action::Import,
    }
}

fn metadata() -> CallKey {
    CallKey {
        content: "metadata".into(),
        action: Action::Export,
    }
}

#[test]
fn the_documented_example_reads_as_written() {
    let set = spec(
        "latency=20..200ms; status=503@0.1; 429@0.05:retry-after=2; hang@content=record:next=1; \
         reset@0.02; truncate@0.02; apply-then-drop@0.05; rate=10/s; record-cost=2ms; max-concurrent=4",
    );
    let when = |p: Option<f64>| When {
        probability: p,
        ..When::default()
    };
    assert_eq!(
        set.rules,
        vec![
            Rule {
                fault: Fault::Latency {
                    min_ms: 20,
                    max_ms: 200
                },
                when: when(None)
            },
            Rule {
                fault: Fault::Status { code: 503 },
                when: when(Some(0.1))
            },
            Rule {
                fault: Fault::TooManyRequests { retry_after_s: 2 },
                when: when(Some(0.05))
            },
            Rule {
                fault: Fault::Hang,
                when: When {
                    content: Some("record".into()),
                    next: Some(1),
                    ..When::default()
                }
            },
            Rule {
                fault: Fault::Reset,
                when: when(Some(0.02))
            },
            Rule {
                fault: Fault::Truncate,
                when: when(Some(0.02))
            },
            Rule {
                fault: Fault::ApplyThenDrop,
                when: when(Some(0.05))
            },
            Rule {
                fault: Fault::RecordCost { us: 2000 },
                when: when(None)
            },
        ]
    );
    assert_eq!(
        set.rate,
        Some(RateLimit {
            requests: 10,
            per_s: 1,
            retry_after_s: None
        })
    );
    assert_eq!(set.max_concurrent, Some(4));
}

#[test]
fn a_spec_prints_back_to_itself() {
    for s in [
        "latency=20..200ms; status=503@0.1; 429@0.05:retry-after=2; hang@content=record:next=1",
        "apply-then-drop@content=record:action=import:next=2; record-cost=2ms; rate=30/m@retry-after=5; max-concurrent=4",
        "latency=1500ms@content=metadata; status=500",
        "",
    ] {
        let set = spec(s);
        assert_eq!(set.to_string(), s);
        assert_eq!(spec(&set.to_string()), set);
    }
}

#[test]
fn units_percentages_and_shorthands_are_read() {
    assert_eq!(
        spec("latency=1..2s").rules[0].fault,
        Fault::Latency {
            min_ms: 1000,
            max_ms: 2000
        }
    );
    assert_eq!(
        spec("latency=0.5s").rules[0].fault,
        Fault::Latency {
            min_ms: 500,
            max_ms: 500
        }
    );
    assert_eq!(spec("reset@5%").rules[0].when.probability, Some(0.05));
    assert_eq!(spec("reset:p=0.5").rules[0].when.probability, Some(0.5));
    assert_eq!(
        spec("status=429").rules[0].fault,
        Fault::TooManyRequests {
            retry_after_s: DEFAULT_RETRY_AFTER_S
        }
    );
    let w = &spec("hang@content=record/import").rules[0].when;
    assert_eq!(w.content.as_deref(), Some("record"));
    assert_eq!(w.action, Some(Action::Import));
    assert_eq!(spec(" ; ;reset ;").rules.len(), 1);
}

#[test]
fn mistakes_are_typed_errors_that_name_the_rule() {
    let err = |s: &str| s.parse::<FaultSet>().unwrap_err();
    assert!(matches!(err("explode"), SpecError::UnknownFault { name, .. } if name == "explode"));
    assert!(matches!(
        err("status=404"),
        SpecError::BadValue { what: "status", .. }
    ));
    assert!(matches!(
        err("latency=200..20ms"),
        SpecError::BadValue {
            what: "latency",
            ..
        }
    ));
    assert!(matches!(
        err("latency=fast"),
        SpecError::BadValue {
            what: "latency",
            ..
        }
    ));
    assert!(matches!(
        err("reset@1.5"),
        SpecError::UnknownCondition { .. }
    ));
    assert!(matches!(
        err("reset@p=1.5"),
        SpecError::BadValue {
            what: "probability",
            ..
        }
    ));
    assert!(matches!(
        err("reset@often"),
        SpecError::UnknownCondition { .. }
    ));
    assert!(matches!(
        err("hang:retry-after=3"),
        SpecError::NotApplicable {
            option: "retry-after",
            ..
        }
    ));
    assert!(matches!(
        err("rate=5/s@0.5"),
        SpecError::NotApplicable { fault: "rate", .. }
    ));
    assert!(matches!(
        err("max-concurrent=0"),
        SpecError::BadValue { .. }
    ));
    assert!(matches!(
        err("max-concurrent=2@content=record"),
        SpecError::NotApplicable { .. }
    ));
    assert!(matches!(
        err("reset@next=1:next=2"),
        SpecError::Repeated { option: "next", .. }
    ));
    assert!(matches!(
        err("rate=1/s; rate=2/s"),
        SpecError::Twice { what: "rate" }
    ));
    assert!(matches!(err("reset=3"), SpecError::BadValue { .. }));
    assert!(matches!(
        err("hang@content=rec-ord"),
        SpecError::BadValue {
            what: "content",
            ..
        }
    ));
    let message = err("status=503@0.1; bogus@0.2").to_string();
    assert!(message.contains("bogus@0.2"), "{message}");
}

#[test]
fn next_spends_a_rule_and_conditions_pick_the_call() {
    let mut state = FaultState::new(spec("hang@content=record:action=import:next=2"), 1);
    assert_eq!(state.plan(&metadata()).outcome, None);
    assert_eq!(state.plan(&record_import()).outcome, Some(Outcome::Hang));
    assert_eq!(state.plan(&record_import()).outcome, Some(Outcome::Hang));
    assert_eq!(state.plan(&record_import()).outcome, None);
    state.replace(spec("reset@next=1"));
    assert_eq!(state.plan(&metadata()).outcome, Some(Outcome::Reset));
    assert_eq!(state.plan(&metadata()).outcome, None);
}

#[test]
fn the_first_answer_changing_fault_wins_and_latencies_add_up() {
    let mut state = FaultState::new(
        spec(
            "latency=10ms; status=502:next=1; reset:next=1; latency=5ms; record-cost=3ms; record-cost=0.25ms",
        ),
        1,
    );
    let p = state.plan(&metadata());
    assert_eq!(p.outcome, Some(Outcome::Status(502)));
    assert_eq!(p.latency, Duration::from_millis(15));
    assert_eq!(p.record_cost, Duration::from_micros(3250));
    // The reset rule was not tried, so it still has its one hit.
    assert_eq!(state.plan(&metadata()).outcome, Some(Outcome::Reset));
    assert_eq!(state.plan(&metadata()).outcome, None);
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let set = spec("status=503@0.3; latency=10..90ms@0.5");
    let run = |seed| {
        let mut s = FaultState::new(set.clone(), seed);
        (0..200).map(|_| s.plan(&metadata())).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    let hits = run(7)
        .iter()
        .filter(|p| p.outcome == Some(Outcome::Status(503)))
        .count();
    assert!((30..=90).contains(&hits), "{hits} of 200 at p=0.3");
    assert!(
        run(7)
            .iter()
            .all(|p| p.latency <= Duration::from_millis(90))
    );
}

#[test]
fn a_token_bucket_refills_at_its_rate() {
    let mut state = FaultState::new(spec("rate=2/s"), 1);
    let t0 = Instant::now();
    assert_eq!(state.rate_check("A", t0), None);
    assert_eq!(state.rate_check("A", t0), None);
    assert_eq!(state.rate_check("A", t0), Some(1));
    // Another token has its own bucket.
    assert_eq!(state.rate_check("B", t0), None);
    assert_eq!(state.rate_check("A", t0 + Duration::from_millis(500)), None);
    assert_eq!(
        state.rate_check("A", t0 + Duration::from_millis(500)),
        Some(1)
    );
    let mut slow = FaultState::new(spec("rate=2/m"), 1);
    slow.rate_check("A", t0);
    slow.rate_check("A", t0);
    assert_eq!(slow.rate_check("A", t0), Some(30));
    let mut fixed = FaultState::new(spec("rate=1/s@retry-after=9"), 1);
    fixed.rate_check("A", t0);
    assert_eq!(fixed.rate_check("A", t0), Some(9));
}

#[test]
fn the_json_form_is_the_set() {
    let set = spec("latency=20..200ms; 429@0.05:retry-after=2; rate=10/s; max-concurrent=4");
    let json = serde_json::to_value(&set).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "rules": [
                {"kind": "latency", "min_ms": 20, "max_ms": 200},
                {"kind": "too-many-requests", "retry_after_s": 2, "probability": 0.05},
            ],
            "rate": {"requests": 10, "per_s": 1},
            "max_concurrent": 4,
        })
    );
    assert_eq!(serde_json::from_value::<FaultSet>(json).unwrap(), set);
}

#[test]
fn the_real_servers_faults_read_and_print_back() {
    let set = spec(
        "slow-commit=2s@content=record/import:next=1; clock-back=60; db-error@0.1; \
         max-input-vars=1000; ban=100",
    );
    assert_eq!(
        set.rules,
        vec![
            Rule {
                fault: Fault::SlowCommit { ms: 2000 },
                when: When {
                    content: Some("record".into()),
                    action: Some(Action::Import),
                    next: Some(1),
                    ..When::default()
                }
            },
            // A clock steps back once unless told otherwise.
            Rule {
                fault: Fault::ClockBack { minutes: 60 },
                when: When {
                    next: Some(1),
                    ..When::default()
                }
            },
            Rule {
                fault: Fault::DbError,
                when: When {
                    probability: Some(0.1),
                    ..When::default()
                }
            },
        ]
    );
    assert_eq!(set.max_input_vars, Some(PHP_MAX_INPUT_VARS));
    assert_eq!(set.ban, Some(100));
    assert_eq!(spec(&set.to_string()), set);
    let json = serde_json::to_string(&set).unwrap();
    assert_eq!(serde_json::from_str::<FaultSet>(&json).unwrap(), set);
    assert_eq!(spec("clock-back=5@next=3").rules[0].when.next, Some(3));
}

#[test]
fn the_real_servers_faults_refuse_bad_values() {
    for bad in [
        "slow-commit",
        "slow-commit=soon",
        "clock-back=0",
        "clock-back=1.5",
        "db-error=1",
        "max-input-vars=0",
        "max-input-vars=10@content=record",
        "ban=none",
        "ban=3; ban=4",
        "max-input-vars=3; max-input-vars=4",
        "slow-commit=1s@retry-after=2",
    ] {
        assert!(bad.parse::<FaultSet>().is_err(), "{bad} was read");
    }
}

#[test]
fn slow_commits_and_clock_steps_add_up_and_change_no_answer() {
    let mut state = FaultState::new(
        spec("slow-commit=100ms; slow-commit=50ms; clock-back=30; status=500@content=metadata"),
        1,
    );
    let plan = state.plan(&record_import());
    assert_eq!(plan.slow_commit, Duration::from_millis(150));
    assert_eq!(plan.clock_back_minutes, 30);
    assert_eq!(plan.outcome, None);
    let plan = state.plan(&metadata());
    assert_eq!(plan.clock_back_minutes, 0, "the clock stepped back once");
    assert_eq!(plan.outcome, Some(Outcome::Status(500)));
    let mut state = FaultState::new(spec("db-error@content=record"), 1);
    assert_eq!(state.plan(&record_import()).outcome, Some(Outcome::DbError));
    assert_eq!(Outcome::DbError.label(), "db-error");
}

#[test]
fn an_address_is_banned_after_its_requests_until_lifted() {
    let a = IpAddr::from([10, 0, 0, 1]);
    let b = IpAddr::from([10, 0, 0, 2]);
    let mut state = FaultState::new(FaultSet::default(), 1);
    assert!(!state.ban_check(a), "no ban unless armed");
    state.replace(spec("ban=2"));
    assert!(!state.ban_check(a) && !state.ban_check(a));
    assert!(state.ban_check(a));
    assert!(!state.ban_check(b), "each address counts its own");
    // A new fault set does not lift a ban; an administrator does.
    state.replace(FaultSet::default());
    assert!(state.ban_check(a));
    assert_eq!(state.lift_bans(), vec![a]);
    assert!(!state.ban_check(a));
}
