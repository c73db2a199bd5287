//! What the diagnostics panel shows: the registry of long-lived tasks.
//!
//! Every long-lived task (the writer, the diagnostics publisher, later sync
//! runs, jobs and batches) registers here with a name a user understands, a
//! kind, an optional parent and a state, and holds a [`TaskGuard`] for as
//! long as it runs. The guard records the end when the task finishes or is
//! dropped, so a task cannot vanish from the registry without a final state.
//! Finished tasks are kept for a while, bounded in count.
//!
//! Deliberately absent: metrics history and profiles (they grow here later),
//! and any blocking on the registry's lock beyond a map update.

pub mod logs;
pub mod metrics;
pub mod profile;
mod registry;
#[cfg(test)]
mod tests;

pub use registry::{
    Lint, STUCK_AFTER_CANCEL, TaskGuard, TaskId, TaskKind, TaskRegistry, TaskSnapshot, TaskState,
};
