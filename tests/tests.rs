//! One test binary for the suites that cross crates or drive the real app:
//!
//! - `concurrency`: many callers enrolling at once through the one writer.
//! - `crash`: SIGKILL a writing process at random moments; nothing
//!   acknowledged is lost.
//! - `edc`: the EDC client against the REDCap-compatible simulator: every
//!   call, typed refusals, and each kind of injected fault.
//! - `sync`: sync runs against the simulator: convergence under faults and
//!   cancels, conflicts, cancellation and bounded concurrency.
//! - `instance`: one SiteDesk per data folder: the real `sitedesk` binary
//!   (app and commands) refused on a folder a desk holds.
//! - `onboard`: a desk probes its study's REDCap project and binds to it.
//! - `real_server`: sync against REDCap as it is: a site's narrow token,
//!   log stamps below the cursor, pulls cut part-way, a banned address.
//! - `e2e` (feature `e2e`): the built desktop app driven through WebDriver.

mod concurrency;
mod crash;
#[cfg(feature = "e2e")]
mod e2e;
mod edc;
mod instance;
mod onboard;
mod real_server;
mod sync;
