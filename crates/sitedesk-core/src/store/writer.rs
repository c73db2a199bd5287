//! The writer actor: a named thread that owns the only writable connection.
//!
//! Callers hold a cloneable [`WriterHandle`] and send typed [`Command`]s
//! over a bounded channel; each command carries a oneshot reply that is sent
//! only after its transaction has committed (or rolled back, with the
//! error). Commands run one at a time, in arrival order, so a read-modify-
//! write inside a command (the subject-id sequence, a status check) can
//! never interleave with another: lost updates are impossible by
//! construction, not by locking discipline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use ts_rs::TS;

use super::write::{self, Now};
use super::{Result, StoreError};
use crate::diagnostics::{TaskKind, TaskRegistry, TaskState};
use crate::domain::{Action, Actor, Criterion, ScreeningInput, Site, Study, Subject};
use crate::i18n::Lang;

/// A request to the writer. Private: callers use [`WriterHandle`]'s methods.
enum Command {
    ConfigureStudy {
        study: Study,
        sites: Vec<Site>,
        criteria: Vec<Criterion>,
        desk_site_id: String,
        actor: Actor,
        reply: oneshot::Sender<Result<bool>>,
    },
    ScreenSubject {
        input: ScreeningInput,
        actor: Actor,
        reply: oneshot::Sender<Result<Subject>>,
    },
    EditScreening {
        subject_id: String,
        input: ScreeningInput,
        reason: Option<String>,
        actor: Actor,
        reply: oneshot::Sender<Result<Subject>>,
    },
    ApplyAction {
        subject_id: String,
        action: Action,
        actor: Actor,
        reply: oneshot::Sender<Result<Subject>>,
    },
    SetPreferences {
        display_name: String,
        language: Lang,
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Stop after the commands queued before this one.
    Close { reply: oneshot::Sender<()> },
}

/// Counters the diagnostics panel shows. Written by the writer thread only.
#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    rollbacks: AtomicU64,
}

/// A snapshot of the writer's state for the diagnostics panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct WriterStats {
    /// Commands waiting in the channel.
    pub queue_depth: u32,
    pub queue_capacity: u32,
    /// Transactions committed since the app started.
    #[ts(type = "number")]
    pub commits: u64,
    /// Commands that failed and were rolled back.
    #[ts(type = "number")]
    pub rollbacks: u64,
}

/// A cloneable way to send commands to the writer.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<(tracing::Span, Command)>,
    counters: Arc<Counters>,
}

pub(super) fn spawn(
    conn: Connection,
    capacity: usize,
    registry: &TaskRegistry,
) -> Result<(WriterHandle, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(capacity);
    let counters = Arc::new(Counters::default());
    let task = registry.register("SQLite writer", TaskKind::Writer, None);
    let thread_counters = counters.clone();
    let join = std::thread::Builder::new()
        .name("sitedesk-writer".into())
        .spawn(move || {
            task.set_state(TaskState::Running);
            run(conn, rx, &thread_counters);
            task.finish(TaskState::Done);
        })
        .map_err(|e| StoreError::Corrupt {
            what: "writer thread",
            value: e.to_string(),
        })?;
    Ok((WriterHandle { tx, counters }, join))
}

/// The writer loop. Ends on `Close` or when every handle has been dropped;
/// dropping `conn` then closes the file.
fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<(tracing::Span, Command)>,
    counters: &Counters,
) {
    while let Some((span, command)) = rx.blocking_recv() {
        let _entered = span.enter();
        if let Command::Close { reply } = command {
            rx.close();
            // Commands that raced in before `close()` took effect still get
            // their answer: they are applied, not dropped.
            while let Ok((_, command)) = rx.try_recv() {
                execute(&mut conn, command, counters);
            }
            let _ = reply.send(());
            return;
        }
        execute(&mut conn, command, counters);
    }
}

fn execute(conn: &mut Connection, command: Command, counters: &Counters) {
    let now = Now::current();
    match command {
        Command::ConfigureStudy {
            study,
            sites,
            criteria,
            desk_site_id,
            actor,
            reply,
        } => {
            let r = transact(conn, counters, |tx| {
                write::configure_study(tx, &now, &actor, &study, &sites, &criteria, &desk_site_id)
            });
            let _ = reply.send(r);
        }
        Command::ScreenSubject {
            input,
            actor,
            reply,
        } => {
            let r = transact(conn, counters, |tx| {
                write::screen_subject(tx, &now, &actor, &input)
            });
            let _ = reply.send(r);
        }
        Command::EditScreening {
            subject_id,
            input,
            reason,
            actor,
            reply,
        } => {
            let r = transact(conn, counters, |tx| {
                write::edit_screening(tx, &now, &actor, &subject_id, &input, reason.as_deref())
            });
            let _ = reply.send(r);
        }
        Command::ApplyAction {
            subject_id,
            action,
            actor,
            reply,
        } => {
            let r = transact(conn, counters, |tx| {
                write::apply_action(tx, &now, &actor, &subject_id, &action)
            });
            let _ = reply.send(r);
        }
        Command::SetPreferences {
            display_name,
            language,
            actor,
            reply,
        } => {
            let r = transact(conn, counters, |tx| {
                write::set_preferences(tx, &now, &actor, &display_name, language)
            });
            let _ = reply.send(r);
        }
        Command::Close { reply } => {
            let _ = reply.send(());
        }
    }
}

/// Runs `f` in an IMMEDIATE transaction and commits it; any error rolls the
/// whole transaction back, so a failed command leaves nothing behind.
fn transact<T>(
    conn: &mut Connection,
    counters: &Counters,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let result = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    })();
    match &result {
        Ok(_) => counters.commits.fetch_add(1, Ordering::Relaxed),
        Err(e) => {
            tracing::debug!(error = %e, "command rolled back");
            counters.rollbacks.fetch_add(1, Ordering::Relaxed)
        }
    };
    result
}

impl WriterHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((tracing::Span::current(), make(reply)))
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        rx.await.map_err(|_| StoreError::WriterClosed)?
    }

    /// Sets up the study, its sites and criteria, and this desk's site, if
    /// no study is set up yet. Returns whether it did.
    pub async fn configure_study(
        &self,
        actor: Actor,
        study: Study,
        sites: Vec<Site>,
        criteria: Vec<Criterion>,
        desk_site_id: String,
    ) -> Result<bool> {
        self.call(|reply| Command::ConfigureStudy {
            study,
            sites,
            criteria,
            desk_site_id,
            actor,
            reply,
        })
        .await
    }

    /// Registers a new subject in screening at this desk's site, with a
    /// freshly assigned id.
    pub async fn screen_subject(&self, actor: Actor, input: ScreeningInput) -> Result<Subject> {
        self.call(|reply| Command::ScreenSubject {
            input,
            actor,
            reply,
        })
        .await
    }

    /// Corrects a subject's screening log; `reason` is required when a saved
    /// value changes.
    pub async fn edit_screening(
        &self,
        actor: Actor,
        subject_id: String,
        input: ScreeningInput,
        reason: Option<String>,
    ) -> Result<Subject> {
        self.call(|reply| Command::EditScreening {
            subject_id,
            input,
            reason,
            actor,
            reply,
        })
        .await
    }

    /// Moves a subject through the enrollment lifecycle.
    pub async fn apply_action(
        &self,
        actor: Actor,
        subject_id: String,
        action: Action,
    ) -> Result<Subject> {
        self.call(|reply| Command::ApplyAction {
            subject_id,
            action,
            actor,
            reply,
        })
        .await
    }

    /// Saves the user's display name and language.
    pub async fn set_preferences(
        &self,
        actor: Actor,
        display_name: String,
        language: Lang,
    ) -> Result<()> {
        self.call(|reply| Command::SetPreferences {
            display_name,
            language,
            actor,
            reply,
        })
        .await
    }

    /// Asks the writer to stop once the commands queued so far are done.
    pub(super) async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send((tracing::Span::current(), Command::Close { reply }))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    pub fn stats(&self) -> WriterStats {
        let capacity = self.tx.max_capacity();
        WriterStats {
            queue_depth: (capacity - self.tx.capacity()) as u32,
            queue_capacity: capacity as u32,
            commits: self.counters.commits.load(Ordering::Relaxed),
            rollbacks: self.counters.rollbacks.load(Ordering::Relaxed),
        }
    }
}
