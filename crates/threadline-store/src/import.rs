//! A bulk import recorded a chunk at a time inside one transaction, so that a file of a
//! million rows is checked and recorded in bounded memory and still commits all or nothing.
//!
//! An engine opens the transaction (holding the ledger's head, as a capture does) on a task of
//! its own and hands back an [`ImportSession`]: chunks go to that task over a channel and are
//! projected there; [`ImportSession::commit`] keeps everything, [`ImportSession::rollback`]
//! (or dropping the session) keeps nothing. A chunk that has refused rows still records its
//! good ones (inside the transaction, under a savepoint), so later chunks are judged after
//! them as a single batch would be; a session that refused anything cannot commit.

use std::collections::BTreeSet;

use async_trait::async_trait;
use threadline_domain::audit::AuditRecord;
use threadline_domain::error::{FieldError, Violations};
use threadline_domain::event::Event;
use tokio::sync::{mpsc, oneshot};

use crate::{MasterWrite, Receipt, Result, StoreError};

/// How a bulk import began.
pub enum ImportStart {
    /// The idempotency key was seen before: these are the first commit's remembered receipts,
    /// and no transaction is open.
    Replayed(Vec<Receipt>),
    /// A write transaction is open, ready for chunks.
    Open(Box<dyn ImportSession>),
}

/// An open bulk import: one write transaction, fed a chunk at a time.
#[async_trait]
pub trait ImportSession: Send {
    /// Checks `events` against the state left by the earlier chunks and records them after
    /// those. A refusal names its event's index within this chunk (`events[3].items[0]`); the
    /// chunk's other events are recorded all the same (the transaction will not commit).
    async fn events(&mut self, events: Vec<Event>) -> Result<Vec<Receipt>>;
    /// As [`ImportSession::events`], for master-data writes (refusals `[3].parent`).
    async fn masters(&mut self, writes: Vec<MasterWrite>) -> Result<Vec<Receipt>>;
    /// Commits: keeps the idempotency key given at the start with `remember` (what a retry is
    /// answered with) and appends `audit`. Refused once any chunk was refused.
    async fn commit(
        self: Box<Self>,
        remember: Vec<Receipt>,
        audit: Option<AuditRecord>,
    ) -> Result<()>;
    /// Rolls everything back.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// What the caller of an engine's import task asks of it.
pub enum Command {
    Events(Vec<Event>, oneshot::Sender<Result<Vec<Receipt>>>),
    Masters(Vec<MasterWrite>, oneshot::Sender<Result<Vec<Receipt>>>),
    Commit(
        Vec<Receipt>,
        Option<Box<AuditRecord>>,
        oneshot::Sender<Result<()>>,
    ),
    Rollback(oneshot::Sender<Result<()>>),
}

/// The session both engines hand out: commands to the task that owns the transaction.
pub struct Channel {
    commands: mpsc::Sender<Command>,
}

impl Channel {
    /// A session over `commands`, and the receiving end for the engine's task.
    pub fn new() -> (Channel, mpsc::Receiver<Command>) {
        let (commands, rx) = mpsc::channel(1);
        (Channel { commands }, rx)
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }
}

fn ended() -> StoreError {
    StoreError::Database("the import's transaction ended unexpectedly".into())
}

#[async_trait]
impl ImportSession for Channel {
    async fn events(&mut self, events: Vec<Event>) -> Result<Vec<Receipt>> {
        self.ask(|r| Command::Events(events, r)).await
    }

    async fn masters(&mut self, writes: Vec<MasterWrite>) -> Result<Vec<Receipt>> {
        self.ask(|r| Command::Masters(writes, r)).await
    }

    async fn commit(
        self: Box<Self>,
        remember: Vec<Receipt>,
        audit: Option<AuditRecord>,
    ) -> Result<()> {
        self.ask(|r| Command::Commit(remember, audit.map(Box::new), r))
            .await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.ask(Command::Rollback).await
    }
}

/// The refusal of a commit after a chunk was refused.
pub fn refused_commit() -> StoreError {
    StoreError::Database("an import with refused rows cannot be committed".into())
}

/// The indexes of the events `refusals` name (`events[3]…`), or `None` when one names none.
pub fn refused_events(refusals: &[FieldError]) -> Option<BTreeSet<usize>> {
    refusals
        .iter()
        .map(|e| {
            e.field
                .as_deref()?
                .strip_prefix("events[")?
                .split(']')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `refusals` about a part of a chunk (event `i` being the chunk's `positions[i]`), renamed
/// after the chunk's own indexes.
pub fn renumber(refusals: Violations, positions: &[usize]) -> Violations {
    refusals
        .into_iter()
        .map(|mut e| {
            if let Some(f) = e.field.take() {
                let renamed = f
                    .strip_prefix("events[")
                    .and_then(|rest| rest.split_once(']'))
                    .and_then(|(i, rest)| {
                        let i: usize = i.parse().ok()?;
                        Some(format!("events[{}]{rest}", positions.get(i)?))
                    });
                e.field = Some(renamed.unwrap_or(f));
            }
            e
        })
        .collect()
}

/// How an engine records one chunk of events under a savepoint: `project` the events still
/// in play; when it refuses some, roll back to the savepoint and project the others again,
/// so the chunk's good events are recorded and later chunks are judged after them. Every
/// refusal is returned, named by the chunk's indexes. At most three passes; after that the
/// chunk is left out.
pub struct ChunkPlan {
    pub events: Vec<Event>,
    pub positions: Vec<usize>,
    pub refused: Violations,
    passes: u8,
}

impl ChunkPlan {
    pub fn new(events: Vec<Event>) -> ChunkPlan {
        ChunkPlan {
            positions: (0..events.len()).collect(),
            events,
            refused: Vec::new(),
            passes: 0,
        }
    }

    /// Takes a pass's refusals; answers whether another pass should be made with the events
    /// left.
    pub fn refused(&mut self, refusals: Violations) -> bool {
        self.passes += 1;
        let bad = refused_events(&refusals);
        self.refused.extend(renumber(refusals, &self.positions));
        let Some(bad) = bad else {
            return false;
        };
        let mut i = 0;
        self.events.retain(|_| {
            let keep = !bad.contains(&i);
            i += 1;
            keep
        });
        let mut i = 0;
        self.positions.retain(|_| {
            let keep = !bad.contains(&i);
            i += 1;
            keep
        });
        !self.events.is_empty() && self.passes < 3
    }

    /// The answer of a chunk whose last pass recorded `receipts`.
    pub fn answer(self, receipts: Vec<Receipt>) -> Result<Vec<Receipt>> {
        if self.refused.is_empty() {
            Ok(receipts)
        } else {
            Err(StoreError::Invalid(self.refused))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_renumbered_after_the_chunk() {
        let v = vec![
            FieldError::new("x", "m").at("events[0].items[0]"),
            FieldError::new("y", "m").at("events[2]"),
        ];
        assert_eq!(refused_events(&v), Some(BTreeSet::from([0, 2])));
        let r = renumber(v, &[1, 4, 7]);
        assert_eq!(r[0].field.as_deref(), Some("events[1].items[0]"));
        assert_eq!(r[1].field.as_deref(), Some("events[7]"));
        assert_eq!(refused_events(&[FieldError::new("z", "m")]), None);
    }
}
