//! edc-sim against real HTTP: every server here listens on 127.0.0.1:0
//! and is spoken to with reqwest, as the desk's client speaks to REDCap.
//!
//! - `api`: each call's answer, DAG scoping, import checks and errors,
//!   upserts, autonumbering, blanks, `dateRangeBegin`, delete, admin.
//! - `compat`: every REDCap fixture project (`shared/fixtures/redcap`),
//!   loaded from its project file and from its CSV files, gives back its
//!   data dictionary and its records.
//! - `faults`: what a client sees of each injected fault.
//! - `formats`: CSV records and data dictionary, label exports,
//!   `exportFieldNames`, and what is not simulated.
//! - `redcap_rules`: imported values checked by REDCap's rules, where the
//!   desk's own checks disagree with them.
//! - `rights`: each right's refusal, in REDCap's status and words, and
//!   that a refused call changes nothing.

mod api;
mod common;
mod compat;
mod faults;
mod formats;
mod redcap_rules;
mod rights;
