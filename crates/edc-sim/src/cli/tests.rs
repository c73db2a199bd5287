use super::*;

fn run(args: &[&str]) -> Result<Options, CliError> {
    match parse(args.iter().map(|s| (*s).to_owned()))? {
        Parsed::Run(o) => Ok(*o),
        Parsed::Exit(text) => panic!("expected options, got {text}"),
    }
}

#[test]
fn every_flag_is_read() {
    let o = run(&[
        "--project",
        "p.csv",
        "--data=d.csv",
        "--events",
        "e.csv",
        "--arms",
        "a.csv",
        "--mapping",
        "m.csv",
        "--port",
        "0",
        "--bind",
        "0.0.0.0",
        "--db",
        "sim.db",
        "--faults",
        "status=503@0.1; max-concurrent=2",
        "--seed",
        "42",
        "--token",
        "0123456789abcdef0123456789ABCDEF:alice:site_a",
        "--token",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "--admin",
        "--title",
        "Trial",
    ])
    .unwrap();
    assert_eq!(
        o.project,
        Some(ProjectFiles {
            project: "p.csv".into(),
            data: Some("d.csv".into()),
            events: Some("e.csv".into()),
            arms: Some("a.csv".into()),
            mapping: Some("m.csv".into()),
        })
    );
    assert_eq!(o.port, 0);
    assert_eq!(o.bind, IpAddr::from([0, 0, 0, 0]));
    assert_eq!(o.database, Database::File("sim.db".into()));
    assert_eq!(o.faults.max_concurrent, Some(2));
    assert_eq!(o.seed, Some(42));
    assert_eq!(
        o.tokens,
        vec![
            ApiUser::new("0123456789abcdef0123456789ABCDEF", "alice", Some("site_a")),
            ApiUser::new("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "api_user", None),
        ]
    );
    assert!(o.admin);
    assert_eq!(o.title.as_deref(), Some("Trial"));
}

#[test]
fn the_demo_needs_nothing_else() {
    let o = run(&["--demo"]).unwrap();
    assert!(o.demo && o.project.is_none());
    assert_eq!(o.port, DEFAULT_PORT);
    assert_eq!(o.seed, None);
    assert!(!o.admin);
}

#[test]
fn mistakes_are_reported_not_guessed() {
    assert!(matches!(run(&[]), Err(CliError::NoProject)));
    assert!(matches!(
        run(&["--demo", "--project", "x.xml"]),
        Err(CliError::DemoAndProject)
    ));
    assert!(matches!(
        run(&["--demo", "--data", "d.csv"]),
        Err(CliError::NeedsProject("--data"))
    ));
    assert!(matches!(
        run(&["--demo", "--port"]),
        Err(CliError::MissingValue(_))
    ));
    assert!(matches!(
        run(&["--demo", "--port", "http"]),
        Err(CliError::BadValue { .. })
    ));
    assert!(matches!(
        run(&["--demo", "--frobnicate"]),
        Err(CliError::Unknown(_))
    ));
    assert!(matches!(
        run(&["--demo", "--faults", "explode"]),
        Err(CliError::Faults(_))
    ));
    assert!(matches!(
        run(&["--demo", "--token", "abc:me"]),
        Err(CliError::Token(TokenError::Malformed(_)))
    ));
}

#[test]
fn help_tells_the_fault_grammar() {
    let Ok(Parsed::Exit(text)) = parse(["--help".to_owned()]) else {
        panic!("--help prints help");
    };
    for word in [
        "latency=",
        "status=",
        "429",
        "hang",
        "reset",
        "truncate",
        "apply-then-drop",
        "record-cost=",
        "rate=",
        "max-concurrent=",
        "next=N",
        "retry-after",
        "content=record",
    ] {
        assert!(text.contains(word), "--help lacks {word}");
    }
}
