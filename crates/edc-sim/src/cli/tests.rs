use clap::CommandFactory as _;
use clap::error::ErrorKind;

use super::*;
use crate::protocol::{REDCAP_VERSION, TokenError};
use crate::rights::Rights;

fn run(args: &[&str]) -> Result<Options, clap::Error> {
    parse(std::iter::once("edc-sim").chain(args.iter().copied()))
}

/// The error's kind and its text as the binary prints it.
fn refused(args: &[&str]) -> (ErrorKind, String) {
    let e = run(args).expect_err("the command line is refused");
    (e.kind(), e.render().to_string())
}

#[test]
fn the_flags_are_declared_consistently() {
    Args::command().debug_assert();
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
        "--token",
        "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE:dm::design",
        "--admin",
        "--title",
        "Trial",
        "--status",
        "development",
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
    assert!(!o.demo);
    assert_eq!(o.port, 0);
    assert_eq!(o.bind, IpAddr::from([0, 0, 0, 0]));
    assert_eq!(o.database, Database::File("sim.db".into()));
    assert_eq!(
        o.faults,
        "status=503@0.1; max-concurrent=2".parse().unwrap()
    );
    assert_eq!(o.seed, Some(42));
    assert_eq!(
        o.tokens,
        vec![
            ApiUser::new("0123456789abcdef0123456789ABCDEF", "alice", Some("site_a")),
            ApiUser::new("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "api_user", None),
            ApiUser::new("EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE", "dm", None).with_design(true),
        ]
    );
    assert!(o.admin);
    assert_eq!(o.title.as_deref(), Some("Trial"));
    assert_eq!(o.status, Some(ProjectStatus::Development));
}

#[test]
fn a_token_spec_may_make_a_site_coordinator() {
    let o = run(&[
        "--demo",
        "--token",
        "0123456789ABCDEF0123456789ABCDEF:site_user:s01:site",
        "--token",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:crc:s02:site,form:labs=view,export=no-identifiers",
    ])
    .unwrap();
    assert_eq!(
        o.tokens[0],
        ApiUser::new("0123456789ABCDEF0123456789ABCDEF", "site_user", Some("s01"))
            .with_rights(Rights::site_coordinator())
    );
    let r = &o.tokens[1].rights;
    assert!(!r.logging && !r.dags && !r.delete && r.create);
    assert_eq!(r.form("labs"), crate::rights::FormRight::View);
    assert_eq!(r.data_export, crate::rights::DataExport::NoIdentifiers);
}

#[test]
fn the_demo_needs_nothing_else() {
    let o = run(&["--demo"]).unwrap();
    assert!(o.demo && o.project.is_none());
    assert_eq!(o.port, DEFAULT_PORT);
    assert_eq!(o.bind, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(o.database, Database::Memory);
    assert_eq!(o.faults, FaultSet::default());
    assert!(o.tokens.is_empty());
    assert_eq!(o.seed, None);
    assert_eq!(o.status, None);
    assert!(!o.admin);
}

#[test]
fn a_flag_given_twice_takes_its_last_value() {
    let o = run(&["--demo", "--port", "1", "--port", "2", "--demo"]).unwrap();
    assert_eq!(o.port, 2);
}

#[test]
fn mistakes_are_reported_not_guessed() {
    let (kind, text) = refused(&[]);
    assert_eq!(kind, ErrorKind::MissingRequiredArgument);
    assert!(
        text.contains("--demo") && text.contains("--project"),
        "{text}"
    );

    let (kind, _) = refused(&["--demo", "--project", "x.xml"]);
    assert_eq!(kind, ErrorKind::ArgumentConflict);

    for flag in ["--data", "--events", "--arms", "--mapping"] {
        let (kind, text) = refused(&["--demo", flag, "f.csv"]);
        assert_eq!(kind, ErrorKind::ArgumentConflict, "{flag}");
        assert!(text.contains(flag) && text.contains("--demo"), "{text}");
        let (kind, text) = refused(&[flag, "f.csv"]);
        assert_eq!(kind, ErrorKind::MissingRequiredArgument, "{flag}");
        assert!(text.contains("--project"), "{flag}: {text}");
    }

    let (kind, _) = refused(&["--demo", "--port"]);
    assert_eq!(kind, ErrorKind::InvalidValue);

    let (kind, text) = refused(&["--demo", "--port", "http"]);
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(text.contains("--port"), "{text}");

    let (kind, text) = refused(&["--demo", "--bind", "localhost"]);
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(text.contains("--bind"), "{text}");

    let (kind, _) = refused(&["--demo", "--seed", "-1"]);
    assert!(
        matches!(
            kind,
            ErrorKind::ValueValidation | ErrorKind::UnknownArgument
        ),
        "{kind:?}"
    );

    let (kind, text) = refused(&["--demo", "--frobnicate"]);
    assert_eq!(kind, ErrorKind::UnknownArgument);
    assert!(text.contains("--frobnicate"), "{text}");

    let (kind, text) = refused(&["--demo", "--faults", "explode"]);
    assert_eq!(kind, ErrorKind::ValueValidation);
    let spec_error = "explode".parse::<FaultSet>().unwrap_err().to_string();
    assert!(text.contains(&spec_error), "{text}");

    let (kind, text) = refused(&["--demo", "--token", "abc:me"]);
    assert_eq!(kind, ErrorKind::ValueValidation);
    let token_error = TokenError::Malformed("abc".into()).to_string();
    assert!(text.contains(&token_error), "{text}");

    let (kind, text) = refused(&[
        "--demo",
        "--token",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:me::design,admin",
    ]);
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(text.contains("\"admin\" is not a right"), "{text}");
}

#[test]
fn help_tells_the_fault_grammar() {
    for flag in ["-h", "--help"] {
        let (kind, text) = refused(&[flag]);
        assert_eq!(kind, ErrorKind::DisplayHelp);
        for word in [
            "--demo",
            "--project",
            "--token",
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
            "slow-commit=",
            "clock-back=",
            "db-error",
            "max-input-vars=",
            "ban=",
            "form:FORM=",
            "export=full",
            "-logging",
            "next=N",
            "retry-after",
            "content=record",
            "EDC_SIM_LOG",
        ] {
            assert!(text.contains(word), "{flag} lacks {word}");
        }
    }
}

#[test]
fn the_version_names_the_redcap_api_it_speaks() {
    let (kind, text) = refused(&["--version"]);
    assert_eq!(kind, ErrorKind::DisplayVersion);
    assert_eq!(
        text.trim(),
        format!(
            "edc-sim {} (REDCap API {REDCAP_VERSION})",
            env!("CARGO_PKG_VERSION")
        )
    );
}
