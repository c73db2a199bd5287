//! One test binary for the suites that cross crates or drive the real app:
//!
//! - `concurrency`: many callers enrolling at once through the one writer.
//! - `crash`: SIGKILL a writing process at random moments; nothing
//!   acknowledged is lost.
//! - `e2e` (feature `e2e`): the built desktop app driven through WebDriver.

mod concurrency;
mod crash;
#[cfg(feature = "e2e")]
mod e2e;
