//! The `edc-sim` binary's command line: the flags as clap reads them
//! ([`Args`], whose doc comments are the help), and what they ask for
//! ([`Options`]). The help ends with the fault spec grammar; `--help`,
//! `--version` and the errors are clap's.
//!
//! Not here: starting the server (`main.rs` calls the library), the fault
//! spec's parser (`faults`) and the token's (`protocol`).

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Parser};

use crate::faults::FaultSet;
use crate::project::ProjectStatus;
use crate::project::files::ProjectFiles;
use crate::protocol::{ApiUser, redcap_version};
use crate::store::Database;

#[cfg(test)]
mod tests;

/// The port a trainer's simulator listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8765;

/// What `--version` prints after the name.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (REDCap API ",
    redcap_version!(),
    ")"
);

/// What the help says after the flags: the fault spec, and the log's
/// variable.
const AFTER_HELP: &str = "\
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
  slow-commit=2s                    a write, stamped when it started, commits 2s later
  clock-back=60                     the clock steps back 60 minutes (once unless next=N)
  db-error                          answer 200 with a plain-text database error, unprocessed
  max-input-vars=1000               keep a request's first 1000 form variables, as PHP
                                    does (real servers have 1000; off unless given)
  ban=600                           an address's requests beyond 600 get 429 in plain
                                    text, no Retry-After, until DELETE /admin/ban
Conditions: 0.05 or 5% (probability), content=record[/import|export|delete],
  action=import|export|delete, next=N (only N hits), retry-after=N.
Example: --faults \"latency=20..200ms; status=503@0.1; 429@0.05:retry-after=2;
  hang@content=record:next=1; reset@0.02; rate=10/s; max-concurrent=4\"

Token rights: a comma list of words after HEX:USER:DAG:, applied in order
over the default (every right but design):
  design                            Project Design and Setup (design imports)
  site                              start over from a site coordinator's rights:
                                    API export and import, create records, full
                                    data set; no logging, dags, delete, design
  -export -import -logging -dags    take away API Export, API Import/Update,
  -create -delete -design           Logging, Data Access Groups, Create
                                    Records, Delete Records, Design
  export=full|deidentified|no-identifiers|none
                                    the data export right of every form
  export:FORM=full|deidentified|no-identifiers|none
                                    one form's data export right
  form:FORM=edit|view|none          one form's data entry right
Example: --token HEX:site_user:s01:site,form:labs=view

Environment:
  EDC_SIM_LOG          Log filter, e.g. info or edc_sim=debug";

/// A REDCap API server (JSON and CSV) for SiteDesk's demo mode, training and
/// tests. It prints the API URL and the tokens, and serves until Ctrl-C.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "edc-sim",
    version = VERSION,
    override_usage = "edc-sim --demo [OPTIONS]\n       \
        edc-sim --project FILE [--data FILE] [--events FILE --arms FILE] [--mapping FILE] [OPTIONS]",
    after_help = AFTER_HELP,
    // A flag given twice counts once, its last value (`--token` adds up).
    args_override_self = true,
    group(ArgGroup::new("source").required(true).args(["demo", "project"])),
)]
pub struct Args {
    /// The SiteDesk demo study, with a few records of the Hillview Hospital
    /// site and the demo tokens
    #[arg(long, help_heading = "Project")]
    pub demo: bool,

    /// A REDCap project file (ODM project.xml, with its records) or a data
    /// dictionary CSV
    #[arg(long, value_name = "FILE", help_heading = "Project")]
    pub project: Option<PathBuf>,

    /// A flat raw record export (data.csv): the records (replaces those of
    /// a project.xml)
    #[arg(
        long,
        value_name = "FILE",
        requires = "project",
        conflicts_with = "demo",
        help_heading = "Project"
    )]
    pub data: Option<PathBuf>,

    /// event.csv (event_name,arm_num,unique_event_name,...): makes a
    /// dictionary CSV project longitudinal
    #[arg(
        long,
        value_name = "FILE",
        requires = "project",
        conflicts_with = "demo",
        help_heading = "Project"
    )]
    pub events: Option<PathBuf>,

    /// arm.csv (arm_num,name)
    #[arg(
        long,
        value_name = "FILE",
        requires = "project",
        conflicts_with = "demo",
        help_heading = "Project"
    )]
    pub arms: Option<PathBuf>,

    /// Instrument designations (arm_num,unique_event_name,form); without
    /// it, an event has the forms its rows in --data have values for
    /// (every form when it has no rows)
    #[arg(
        long,
        value_name = "FILE",
        requires = "project",
        conflicts_with = "demo",
        help_heading = "Project"
    )]
    pub mapping: Option<PathBuf>,

    /// The project title
    #[arg(long, value_name = "TEXT", help_heading = "Project")]
    pub title: Option<String>,

    /// The project's status: development lets the API change the data
    /// dictionary and the instrument designations [default: production]
    #[arg(long, value_name = "STATUS", help_heading = "Project")]
    pub status: Option<ProjectStatus>,

    /// Port to listen on (0 picks a free one)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PORT, help_heading = "Server")]
    pub port: u16,

    /// Address to listen on
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::from([127, 0, 0, 1]), help_heading = "Server")]
    pub bind: IpAddr,

    /// Keep the records in this SQLite file (created with the project's
    /// records when missing); without it, in memory
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub db: Option<PathBuf>,

    /// An API token (32 hex digits), its user name, the data access group
    /// it is bound to, and its rights (below), e.g. HEX:dm::design or
    /// HEX:site_user:s01:site; repeatable. Without it: the demo tokens the
    /// project's groups allow
    #[arg(
        long = "token",
        value_name = "HEX[:USER[:DAG[:RIGHTS]]]",
        value_parser = ApiUser::parse_spec,
        help_heading = "Server"
    )]
    pub tokens: Vec<ApiUser>,

    /// Serve GET /admin/stats, DELETE /admin/stats, GET and POST
    /// /admin/faults, GET and POST /admin/rights, POST /admin/lock, DELETE
    /// /admin/ban
    #[arg(long, help_heading = "Server")]
    pub admin: bool,

    /// Faults to inject (below)
    #[arg(long, value_name = "SPEC", help_heading = "Server")]
    pub faults: Option<FaultSet>,

    /// Seed of the fault decisions (without it: random, and printed)
    #[arg(long, value_name = "N", help_heading = "Server")]
    pub seed: Option<u64>,
}

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `None` with `demo`.
    pub project: Option<ProjectFiles>,
    pub demo: bool,
    pub title: Option<String>,
    /// `None`: the project's own (production).
    pub status: Option<ProjectStatus>,
    pub bind: IpAddr,
    pub port: u16,
    pub database: Database,
    pub tokens: Vec<ApiUser>,
    pub admin: bool,
    pub faults: FaultSet,
    /// `None`: a random seed, printed at start.
    pub seed: Option<u64>,
}

impl From<Args> for Options {
    fn from(a: Args) -> Options {
        Options {
            project: a.project.map(|project| ProjectFiles {
                project,
                data: a.data,
                events: a.events,
                arms: a.arms,
                mapping: a.mapping,
            }),
            demo: a.demo,
            title: a.title,
            status: a.status,
            bind: a.bind,
            port: a.port,
            database: a.db.map_or(Database::Memory, Database::File),
            tokens: a.tokens,
            admin: a.admin,
            faults: a.faults.unwrap_or_default(),
            seed: a.seed,
        }
    }
}

/// Reads a command line, the program's name first. `--help` and
/// `--version` come back as the error whose `exit` prints them.
pub fn parse<I, T>(args: I) -> Result<Options, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Args::try_parse_from(args).map(Options::from)
}
