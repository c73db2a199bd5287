//! SiteDesk's core: everything a site desk knows and does, without a window.
//!
//! - [`domain`]: studies, sites, subjects, the enrollment lifecycle and the
//!   screening-log checks. Pure functions over values; no I/O.
//! - [`store`]: the SQLite file. One writer thread owns the only writable
//!   connection; every mutation is committed together with its audit row and
//!   its sync-outbox row. Reads go through read-only connections. With the
//!   data key the file is encrypted (SQLCipher).
//! - [`histogram`]: latency and size histograms, for the writer and the
//!   EDC client alike.
//! - [`diagnostics`]: the registry of long-lived tasks that the diagnostics
//!   panel shows.
//! - [`metadata`]: the study's REDCap data dictionary, read from its CSV
//!   file or the API's JSON, with a version hash and field-by-field diffs.
//! - [`edc`]: the REDCap API client, with typed errors and a secret token.
//! - [`forms`]: case report forms as a CRC fills them: the safe form view,
//!   live branching, calculations and validation, what a save writes, and
//!   the visit grid. Pure functions; the UI asks, never decides.
//! - [`sync`]: sync runs with the EDC: pull, three-way compare, push, with
//!   retries, a breaker and cancellation.
//! - [`desk`]: a desk as the app opens it: the store, the EDC in use
//!   (demo or real), the sync scheduler and the diagnostics sampler, and
//!   an orderly shutdown.
//! - [`vault`]: the database's data key, wrapped in a key file beside it
//!   for each person's password and for a recovery key.
//! - [`instance`]: one SiteDesk per data folder (an OS lock held while a
//!   desk or a command has it open), and the folder's private modes.
//! - [`i18n`]: the languages and the word catalogs (`locales/*.json`,
//!   embedded): errors describe themselves as a catalog key with
//!   parameters, rendered in the user's language.
//!
//! Deliberately absent: Tauri, windows, HTTP. The desktop shell (`sitedesk`)
//! and the tests drive this crate through its public API.

pub mod desk;
pub mod diagnostics;
pub mod domain;
pub mod edc;
pub mod forms;
pub mod histogram;
pub mod i18n;
pub mod instance;
pub mod metadata;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod vault;
