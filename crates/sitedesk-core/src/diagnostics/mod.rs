//! What the diagnostics panel shows besides the task tree (`crate::tasks`,
//! re-exported here): the redacted log ring (`logs`), the 15-minute history
//! of vital signs and the sampler that fills it (`metrics`), and CPU
//! profiles (`profile`).
//!
//! Above the store (the sampler reads the writer's metrics and the file
//! sizes); nothing below it imports it. Deliberately absent: the task
//! registry itself, which the store needs and so lives below it.

pub mod logs;
pub mod metrics;
pub mod profile;
#[cfg(test)]
mod tests;

pub use crate::tasks::{
    Lint, STUCK_AFTER_CANCEL, TaskError, TaskGuard, TaskId, TaskKind, TaskRegistry, TaskSnapshot,
    TaskState,
};
