//! The `edc-sim` binary's command line: flags into [`Options`], and the
//! help text (which carries the fault spec grammar).
//!
//! Not here: starting the server (`main.rs` calls the library).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::faults::{FaultSet, SpecError};
use crate::project::files::ProjectFiles;
use crate::protocol::{ApiUser, TokenError};
use crate::store::Database;

#[cfg(test)]
mod tests;

/// The port a trainer's simulator listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8765;

pub const USAGE: &str = "\
Usage: edc-sim --demo [options]
       edc-sim --project FILE [--data FILE] [--events FILE --arms FILE] [--mapping FILE] [options]

A REDCap API server (JSON only) for SiteDesk's demo mode, training and tests.
It prints the API URL and the tokens, and serves until Ctrl-C.

Project:
  --demo               The SiteDesk demo study, with a few records of the
                       Hillview Hospital site and the demo tokens
  --project FILE       A REDCap project file (ODM project.xml, with its
                       records) or a data dictionary CSV
  --data FILE          A flat raw record export (data.csv): the records
                       (replaces those of a project.xml)
  --events FILE        event.csv (event_name,arm_num,unique_event_name,...):
                       makes a dictionary CSV project longitudinal
  --arms FILE          arm.csv (arm_num,name)
  --mapping FILE       Instrument designations (arm_num,unique_event_name,form);
                       without it, an event has the forms its rows in --data
                       have values for (every form when it has no rows)
  --title TEXT         The project title

Server:
  --port N             Port to listen on (default 8765; 0 picks a free one)
  --bind ADDR          Address to listen on (default 127.0.0.1)
  --db FILE            Keep the records in this SQLite file (created with the
                       project's records when missing); default: in memory
  --token HEX[:USER[:DAG]]
                       An API token (32 hex digits), its user name, and the
                       data access group it is bound to; repeatable. Default:
                       the demo tokens the project's groups allow
  --admin              Serve GET /admin/stats, DELETE /admin/stats,
                       GET and POST /admin/faults
  --faults SPEC        Faults to inject (below)
  --seed N             Seed of the fault decisions (default: random, printed)
  -h, --help           Print this help
  -V, --version        Print the version

Fault spec: rules separated by ';', each FAULT[@COND][:COND]...
  latency=50ms | latency=20..200ms   wait before processing
  status=503                        answer 500-599 without processing
  429                               answer 429 with Retry-After (retry-after=N)
  hang                              never answer (until shutdown), then close
  reset                             send half the answer, then a TCP reset
  truncate                          announce the full length, send half, close
  apply-then-drop                   process (commit an import), reset unanswered
  record-cost=2ms                   wait per record row imported or exported
                                    (fractions and us too: 0.1ms, 100us)
  rate=10/s | rate=30/m             per-token limit; 429 beyond it (@retry-after=N)
  max-concurrent=4                  process at most 4 requests at once
Conditions: 0.05 or 5% (probability), content=record[/import|export|delete],
  action=import|export|delete, next=N (only N hits), retry-after=N.
Example: --faults \"latency=20..200ms; status=503@0.1; 429@0.05:retry-after=2;
  hang@content=record:next=1; reset@0.02; rate=10/s; max-concurrent=4\"

Environment:
  EDC_SIM_LOG          Log filter, e.g. info or edc_sim=debug";

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `None` with `demo`.
    pub project: Option<ProjectFiles>,
    pub demo: bool,
    pub title: Option<String>,
    pub bind: IpAddr,
    pub port: u16,
    pub database: Database,
    pub tokens: Vec<ApiUser>,
    pub admin: bool,
    pub faults: FaultSet,
    /// `None`: a random seed, printed at start.
    pub seed: Option<u64>,
}

pub enum Parsed {
    Run(Box<Options>),
    /// Print this and exit (help, version).
    Exit(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("unknown option {0}")]
    Unknown(String),
    #[error("{flag}: {value:?} is not valid")]
    BadValue { flag: String, value: String },
    #[error("--faults: {0}")]
    Faults(#[from] SpecError),
    #[error("--token: {0}")]
    Token(#[from] TokenError),
    #[error("give --project FILE or --demo")]
    NoProject,
    #[error("--demo and --project exclude each other")]
    DemoAndProject,
    #[error("{0} needs --project")]
    NeedsProject(&'static str),
}

/// Reads the flags (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, CliError> {
    let mut args = args.into_iter();
    let mut project: Option<PathBuf> = None;
    let mut data = None;
    let mut events = None;
    let mut arms = None;
    let mut mapping = None;
    let mut o = Options {
        project: None,
        demo: false,
        title: None,
        bind: IpAddr::from([127, 0, 0, 1]),
        port: DEFAULT_PORT,
        database: Database::Memory,
        tokens: Vec::new(),
        admin: false,
        faults: FaultSet::default(),
        seed: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| CliError::MissingValue(flag.clone()))
        };
        let bad = |v: &str| CliError::BadValue {
            flag: flag.clone(),
            value: v.to_owned(),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Exit(USAGE.to_owned())),
            "-V" | "--version" => {
                return Ok(Parsed::Exit(format!(
                    "edc-sim {} (REDCap API {})",
                    env!("CARGO_PKG_VERSION"),
                    crate::protocol::REDCAP_VERSION
                )));
            }
            "--demo" => o.demo = true,
            "--admin" => o.admin = true,
            "--project" => project = Some(PathBuf::from(value()?)),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--events" => events = Some(PathBuf::from(value()?)),
            "--arms" => arms = Some(PathBuf::from(value()?)),
            "--mapping" => mapping = Some(PathBuf::from(value()?)),
            "--title" => o.title = Some(value()?),
            "--db" => o.database = Database::File(PathBuf::from(value()?)),
            "--port" => {
                let v = value()?;
                o.port = v.parse().map_err(|_| bad(&v))?;
            }
            "--bind" => {
                let v = value()?;
                o.bind = v.parse().map_err(|_| bad(&v))?;
            }
            "--seed" => {
                let v = value()?;
                o.seed = Some(v.parse().map_err(|_| bad(&v))?);
            }
            "--faults" => o.faults = value()?.parse()?,
            "--token" => o.tokens.push(ApiUser::parse_spec(&value()?)?),
            other => return Err(CliError::Unknown(other.to_owned())),
        }
    }
    match (&project, o.demo) {
        (Some(_), true) => return Err(CliError::DemoAndProject),
        (None, false) => return Err(CliError::NoProject),
        (None, true) => {
            for (given, flag) in [
                (data.is_some(), "--data"),
                (events.is_some(), "--events"),
                (arms.is_some(), "--arms"),
                (mapping.is_some(), "--mapping"),
            ] {
                if given {
                    return Err(CliError::NeedsProject(flag));
                }
            }
        }
        (Some(_), false) => {}
    }
    o.project = project.map(|project| ProjectFiles {
        project,
        data,
        events,
        arms,
        mapping,
    });
    Ok(Parsed::Run(Box::new(o)))
}
