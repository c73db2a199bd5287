//! `edc-sim`: a server that speaks the REDCap API as SiteDesk uses it
//! (`shared/docs/redcap-api.md`), for the desk's demo mode, for training,
//! and for tests of the sync against a real HTTP server that can be made
//! to fail on purpose.
//!
//! # Library
//!
//! ```no_run
//! # async fn demo() -> Result<(), edc_sim::SimError> {
//! use edc_sim::{Project, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::new(Project::demo())).await?;
//! println!("{} with token {}", sim.api_url(), edc_sim::DEMO_TOKEN);
//! sim.set_faults("status=503@0.1; latency=20..200ms".parse().unwrap());
//! let stats = sim.stats();
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! [`Simulator::start`] binds (`127.0.0.1:0` by default: a free port),
//! loads the project's records into SQLite (in memory, or a file:
//! [`Database`]) and serves until [`RunningSim::shutdown`], which ends every
//! task it spawned (all through one `TaskTracker`) and stops the store
//! thread. The server's clock ([`Clock`]) can be fixed or moved, so that
//! tests of `dateRangeBegin` and the log need no sleeping.
//!
//! # The API
//!
//! `POST /api/` with a form-encoded body, in JSON or CSV (`format=json` or
//! `format=csv`; an import answers in `returnFormat`, errors come in it:
//! `{"error":"message"}`, or with `returnFormat=csv` the message as text).
//! CSV is REDCap's: a header line, a line per row, a cell quoted as PHP's
//! `fputcsv` quotes it. Calls: `version`, `project`, `metadata`,
//! `instrument`, `arm`, `event`, `formEventMapping` (a classic project
//! answers an error: how clients tell it is not longitudinal),
//! `repeatingFormsEvents`, `dag`, `exportFieldNames` (a checkbox as its
//! `field___code` columns), `log`, `generateNextRecordName`, and `record`
//! export (`rawOrLabel=label` gives choice labels, and in CSV
//! `rawOrLabelHeaders=label` the fields' labels), import (`dateFormat`
//! `YMD`, `MDY` or `DMY`) and delete; and, with `data`, the design
//! imports: `metadata` (a new data dictionary) and `formEventMapping` (new
//! instrument designations), which answer the number of fields or
//! designations now in force. Any other `content` or `action`, and XML or
//! ODM, is refused with 400 and words that say it is not simulated
//! (`The content 'file' is not simulated by edc-sim`).
//! Errors are `{"error":"message"}` with a 4xx/5xx status; a missing or
//! unknown token is 403 `You do not have permissions to use the API`.
//! A token may be bound to a data access group: it then sees and writes
//! only that group's records, and the records it creates are the group's.
//!
//! # Rights
//!
//! Each token's user has [`Rights`], checked by REDCap's rules before a
//! call runs (`handlers::access`): API Export for every read
//! ([`NO_EXPORT_RIGHT`], 403), API Import/Update for every write
//! ([`NO_IMPORT_RIGHT`], 403), Logging for `log` ([`NO_LOGGING_RIGHT`],
//! 400), Data Access Groups for `dag` and for `exportDataAccessGroups=true`
//! from a user in no group ([`NO_DAG_RIGHT`], 400; a user in a group has
//! the flag ignored), Delete Records for `record` delete
//! ([`NO_DELETE_RIGHT`], 400), and a data export right other than
//! "No Access" for a record export ([`NO_DATA_EXPORT_RIGHT`], 403).
//! Inside a call: a record export leaves out the columns of forms the
//! user has no access to, or whose data export right is "No Access";
//! "Remove All Identifier Fields" leaves out the fields marked
//! `identifier = y`; "De-Identified" leaves out those and the free text
//! (text without validation, notes) and moves each record's dates back by
//! [`date_shift_days`] (0 to 364, from the record id). Columns left out
//! are absent from the rows, as in REDCap. An import gets one error row
//! per value on a form the user may only view or not access
//! ([`NO_FORM_EDIT_RIGHT`]) or on a form locked for the record at the
//! row's event ([`LOCKED_FORM`]; [`RunningSim::lock_form`], `POST
//! /admin/lock` with `{"record", "event", "form", "locked"}`), and per
//! record it would create without the Create Records right
//! ([`NO_CREATE_RIGHT`]).
//! [`Rights::default`] is every right but design (what the demo tokens
//! and [`ApiUser::new`] have); [`Rights::site_coordinator`] is the narrow
//! token of a site: export, import and create only. Rights are set with
//! [`ApiUser::with_rights`], a `--token` spec's words
//! (`HEX:site_user:s01:site,form:labs=view`; the words are in
//! [`ApiUser::parse_spec`] and `--help`), and while the server runs with
//! [`RunningSim::set_rights`] or `POST /admin/rights`
//! (`{"token": HEX, "spec": "site,-create"}` or `{"token": HEX,
//! "rights": {...}}`; `GET /admin/rights` lists the users).
//!
//! A project is in production unless made with
//! [`Project::with_status`] (or `--status`), or moved with
//! [`RunningSim::set_status`]. As in REDCap, only a project in development
//! takes a design import ([`NOT_IN_DEVELOPMENT`] otherwise), and only from
//! a user with the Project Design and Setup right ([`Rights::design`];
//! [`NO_DESIGN_RIGHT`] otherwise): [`DEMO_TOKEN`] has it, the site
//! coordinators' tokens do not, and `--token HEX:user::design` gives it.
//! The new design is in force for the requests that come next and for as
//! long as the server runs; the records are left as they are (a removed
//! field's values stay stored, hidden, and come back with the field).
//! What imports check, and how, is in `handlers::import` and
//! `project::rows`. Values are checked by REDCap's own rules, not the
//! desk's: a text field's value against the PHP pattern of its validation
//! type, from REDCap's `redcap_validation_types` table (`project::validation`,
//! REDCap 15.7.6's rows), a date in Y-M-D whatever order the field shows;
//! choice codes; a missing-data code in any field. A value outside min and
//! max is taken, as REDCap's import only warns about it. So the desk and
//! the simulator disagree where the desk and REDCap do, and the desk's
//! tests see REDCap's refusals.
//!
//! Deliberate simplifications: calculated fields are not recomputed on
//! import (they cannot be imported; a project's own data keeps its
//! values); files cannot be uploaded (a
//! project file's stored files show by their names); `exportDataAccessGroups`
//! is ignored for a token in a group, as REDCap ignores it.
//!
//! # Modules
//!
//! In layers, each importing only the ones below it: `rights` (what a
//! user may do), `protocol` (the API's parameters, error answers and
//! users), with `clock`, `faults` and `stats` beside it; `project` (the project model: its flat-row layout,
//! REDCap's validation types, `Project`, the row checks, the project file,
//! CSV and demo sources, and design changes);
//! `store` (SQLite and its thread); `handlers` (the API calls, and in
//! `handlers::access` the rights each needs and REDCap's words); `server`
//! (tokens, the accept loop, faults carried out); and `cli` for the
//! binary.
//!
//! # Faults
//!
//! Faults are a [`FaultSet`]: from the binary's `--faults SPEC`, from
//! [`RunningSim::set_faults`], or from `POST /admin/faults` (admin routes
//! are served only when [`SimConfig::admin`] is set) with `{"spec": SPEC}`
//! or the set's JSON. Decisions come from a random number generator seeded
//! with [`SimConfig::seed`]: the same seed and the same sequence of
//! requests give the same faults. Counters are in [`Stats`]
//! (`GET /admin/stats`, [`RunningSim::stats`]).
//!
//! The spec grammar (whitespace around tokens is ignored; blank rules are
//! skipped):
//!
//! ```text
//! spec      = rule *( ";" rule )
//! rule      = fault [ ("@" | ":") cond *( ":" cond ) ]
//! fault     = "latency=" delay          ; wait before processing (latencies add up)
//!           | "status=" 500..599         ; answer this status, unprocessed
//!           | "429" | "status=429"       ; answer 429 with Retry-After (see retry-after)
//!           | "hang"                     ; never answer; hold until shutdown (or 10 min), then close
//!           | "reset"                    ; process, send half the answer, TCP reset
//!           | "truncate"                 ; process, announce the full Content-Length, send half, close
//!           | "apply-then-drop"          ; process (an import commits), reset before answering
//!           | "record-cost=" duration    ; wait per record row imported or exported
//!           | "rate=" count "/" ("s"|"m") [ "@retry-after=" seconds ]
//!                                        ; per-token token bucket of `count`; 429 beyond it
//!           | "max-concurrent=" count    ; at most this many requests processed at once; the rest wait
//!           | "slow-commit=" duration    ; a write (record import, delete) stamped when it started
//!                                        ; commits this much later (slow commits add up)
//!           | "clock-back=" minutes      ; the clock steps back before the request is stamped;
//!                                        ; once unless next= says more
//!           | "db-error"                 ; answer 200 with a plain-text database error, unprocessed
//!           | "max-input-vars=" count    ; keep a request's first `count` form variables, as PHP's
//!                                        ; max_input_vars does (real servers: 1000); off by default
//!           | "ban=" count               ; an address's requests beyond `count` are banned: 429 in
//!                                        ; plain text, no Retry-After, until the ban is lifted
//! cond      = probability                ; "0.05" or "5%" (also "p=0.05"): hit with this chance
//!           | "content=" name [ "/" action ]  ; only this content (record, metadata, log, ...)
//!           | "action=" action           ; import | export (every read) | delete
//!           | "next=" count              ; only the next `count` hits, then the rule is spent
//!           | "retry-after=" seconds     ; the 429's Retry-After (default 1)
//! delay     = duration | duration ".." duration   ; "20..200ms": uniform in the range
//! duration  = number ("ms" | "s")        ; a range bound without a unit takes the other's
//! ```
//!
//! Example: `latency=20..200ms; status=503@0.1; 429@0.05:retry-after=2;
//! hang@content=record:next=1; reset@0.02; truncate@0.02;
//! apply-then-drop@content=record/import:0.05; rate=10/s; record-cost=2ms;
//! max-concurrent=4; slow-commit=2s@content=record/import:next=1;
//! clock-back=60; db-error@0.01; max-input-vars=1000; ban=600`.
//!
//! Rules are tried in order; all conditions of a rule must hold. A rule
//! without a probability always hits (while its `next` lasts). Latencies,
//! record costs, slow commits and clock steps add up; of the faults that
//! change the answer (status, 429, hang, reset, truncate,
//! apply-then-drop, db-error) the first that hits wins and later ones are
//! not tried. A request's order: `max-input-vars` (PHP cuts the variables
//! before REDCap reads them), a ban, the rate limit, wait for a slot under
//! `max-concurrent`, `clock-back`, the request's stamp, latency, an
//! injected status, database error or hang, the rights, a write's slow
//! commit, the call itself, the record cost, then the answer (or its
//! reset, truncation, or drop). A ban lasts across new fault sets until
//! [`RunningSim::lift_ban`] or `DELETE /admin/ban`;
//! [`RunningSim::fault_seen`] awaits a fault's count, a test's signal that
//! a request has reached it.
//!
//! # Time
//!
//! As REDCap stamps its log with the time its PHP request started, every
//! change a request makes is stamped with the server's clock when the
//! request began to be processed (after waiting for a slot), not when it
//! commits; stamps are kept to the second, and `dateRangeBegin`,
//! `dateRangeEnd`, `beginTime` and `endTime` filter on them. The `log`
//! export gives them to the minute ([`LOG_TIMESTAMP`]), as REDCap's does.

mod clock;
mod faults;
mod handlers;
mod project;
mod protocol;
mod rights;
mod server;
mod stats;
mod store;

pub mod cli;

pub use clock::{Clock, LOG_TIMESTAMP, TIMESTAMP, parse_timestamp};
pub use faults::{
    Action, BANNED, DB_ERROR, DEFAULT_RETRY_AFTER_S, Fault, FaultSet, HANG_LIMIT,
    PHP_MAX_INPUT_VARS, RateLimit, Rule, SpecError, When,
};
pub use handlers::access::{
    LOCKED_FORM, NO_CREATE_RIGHT, NO_DAG_RIGHT, NO_DATA_EXPORT_RIGHT, NO_DELETE_RIGHT,
    NO_EXPORT_RIGHT, NO_FORM_EDIT_RIGHT, NO_IMPORT_RIGHT, NO_LOGGING_RIGHT,
};
pub use handlers::design::{NO_DESIGN_RIGHT, NOT_IN_DEVELOPMENT};
pub use handlers::import::SEED_USER;
pub use handlers::records::date_shift_days;
pub use project::demo::{
    DEMO_TOKEN, DEMO_TOKEN_HILLVIEW, DEMO_TOKEN_RIVERSIDE, HILLVIEW, RIVERSIDE, demo_users,
};
pub use project::files::{CsvFiles, ProjectFiles};
pub use project::layout::checkbox_column;
pub use project::{METADATA_COLUMNS, MetadataRow, Project, ProjectError, ProjectStatus};
pub use protocol::{ApiUser, NO_PERMISSION, REDCAP_VERSION, TokenError};
pub use rights::{DataExport, FormRight, RIGHT_WORDS, Rights};
pub use server::{LockError, RunningSim, SimConfig, SimError, Simulator};
pub use stats::Stats;
pub use store::Database;
