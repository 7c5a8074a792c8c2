//! A bulk import's transaction ([`threadline_store::import`]): the writer connection is held by
//! one blocking task for the whole import, which projects each chunk as it arrives.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use threadline_domain::audit::AuditRecord;
use threadline_domain::event::Event;
use threadline_store::import::{ChunkPlan, Command, ImportStart, refused_commit};
use threadline_store::{IdempotencyKey, MasterWrite, Receipt, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::{audit, capture, db, master, read};

/// Opens the import's transaction on a blocking task and answers once it is open (or the key
/// replays).
pub(crate) async fn begin(
    writer: Arc<Mutex<Connection>>,
    idempotency: Option<IdempotencyKey>,
) -> Result<ImportStart, StoreError> {
    let (session, commands) = threadline_store::import::Channel::new();
    let (ready, opened) = oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let mut c = match writer.lock() {
            Ok(c) => c,
            Err(_) => {
                let _ = ready.send(Err(StoreError::Database(
                    "writer connection poisoned".into(),
                )));
                return;
            }
        };
        serve(&mut c, idempotency, ready, commands);
    });
    match opened.await {
        Ok(Ok(Some(prior))) => Ok(ImportStart::Replayed(prior)),
        Ok(Ok(None)) => Ok(ImportStart::Open(Box::new(session))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StoreError::Database("the import task failed".into())),
    }
}

type Ready = oneshot::Sender<Result<Option<Vec<Receipt>>, StoreError>>;

fn serve(
    c: &mut Connection,
    idempotency: Option<IdempotencyKey>,
    ready: Ready,
    mut commands: mpsc::Receiver<Command>,
) {
    let tx = match c.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err(db(e)));
            return;
        }
    };
    if let Some(k) = &idempotency {
        match read::idempotent_replay(&tx, k) {
            Ok(None) => {}
            other => {
                let _ = ready.send(other);
                return;
            }
        }
    }
    if ready.send(Ok(None)).is_err() {
        return;
    }
    let mut refused = false;
    // The transaction rolls back when it is dropped: on a rollback, or when the session is
    // dropped and the channel closes.
    while let Some(command) = commands.blocking_recv() {
        match command {
            Command::Events(events, reply) => {
                let r = events_chunk(&tx, events);
                refused |= r.is_err();
                let _ = reply.send(r);
            }
            Command::Masters(writes, reply) => {
                let r = masters_chunk(&tx, writes);
                refused |= r.is_err();
                let _ = reply.send(r);
            }
            Command::Commit(remember, record, reply) => {
                let r = if refused {
                    Err(refused_commit())
                } else {
                    commit(tx, idempotency.as_ref(), &remember, record.as_deref())
                };
                let _ = reply.send(r);
                return;
            }
            Command::Rollback(reply) => {
                let _ = reply.send(tx.rollback().map_err(db));
                return;
            }
        }
    }
}

fn commit(
    tx: Transaction,
    idempotency: Option<&IdempotencyKey>,
    remember: &[Receipt],
    record: Option<&AuditRecord>,
) -> Result<(), StoreError> {
    if let Some(k) = idempotency {
        read::remember(&tx, k, remember)?;
    }
    if let Some(r) = record {
        audit::append_in(&tx, r)?;
    }
    tx.commit().map_err(db)
}

/// One chunk of events under a savepoint; see [`ChunkPlan`].
fn events_chunk(tx: &Transaction, events: Vec<Event>) -> Result<Vec<Receipt>, StoreError> {
    let mut plan = ChunkPlan::new(events);
    loop {
        tx.execute_batch("SAVEPOINT import_chunk").map_err(db)?;
        let projected = capture::head(tx).and_then(|mut head| {
            capture::project_events(tx, &mut plan.events, Some(&mut head), &[], true)
        });
        match projected {
            Ok(receipts) => {
                tx.execute_batch("RELEASE import_chunk").map_err(db)?;
                return plan.answer(receipts);
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO import_chunk; RELEASE import_chunk")
                    .map_err(db)?;
                let StoreError::Invalid(v) = e else {
                    return Err(e);
                };
                if !plan.refused(v) {
                    return plan.answer(Vec::new());
                }
            }
        }
    }
}

/// One chunk of master-data writes, each checked after the ones before it.
fn masters_chunk(tx: &Transaction, writes: Vec<MasterWrite>) -> Result<Vec<Receipt>, StoreError> {
    let mut receipts = Vec::with_capacity(writes.len());
    let mut refused = Vec::new();
    for (i, w) in writes.into_iter().enumerate() {
        match master::put(tx, w) {
            Ok(r) => receipts.push(r),
            Err(e) => threadline_store::refusal_at(i, e, &mut refused)?,
        }
    }
    if refused.is_empty() {
        Ok(receipts)
    } else {
        Err(StoreError::Invalid(refused))
    }
}
