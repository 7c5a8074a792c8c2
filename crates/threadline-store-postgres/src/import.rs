//! A bulk import's transaction ([`threadline_store::import`]): one pooled connection is held by
//! a task for the whole import, with the ledger's head locked, and each chunk is projected
//! there as it arrives — as on SQLite.

use deadpool_postgres::{Object, Transaction};
use threadline_domain::audit::AuditRecord;
use threadline_domain::event::Event;
use threadline_store::import::{ChunkPlan, Command, ImportStart, refused_commit};
use threadline_store::{IdempotencyKey, MasterWrite, Receipt, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::{audit, capture, db, master, read};

/// Opens the import's transaction on a task of its own and answers once it is open (or the
/// key replays).
pub(crate) async fn begin(
    client: Object,
    idempotency: Option<IdempotencyKey>,
) -> Result<ImportStart, StoreError> {
    let (session, commands) = threadline_store::import::Channel::new();
    let (ready, opened) = oneshot::channel();
    tokio::spawn(async move {
        let mut client = client;
        serve(&mut client, idempotency, ready, commands).await;
    });
    match opened.await {
        Ok(Ok(Some(prior))) => Ok(ImportStart::Replayed(prior)),
        Ok(Ok(None)) => Ok(ImportStart::Open(Box::new(session))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StoreError::Database("the import task failed".into())),
    }
}

type Ready = oneshot::Sender<Result<Option<Vec<Receipt>>, StoreError>>;

async fn serve(
    client: &mut Object,
    idempotency: Option<IdempotencyKey>,
    ready: Ready,
    mut commands: mpsc::Receiver<Command>,
) {
    let tx = match client.transaction().await {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err(db(e)));
            return;
        }
    };
    // The key is judged with the chain head locked, as in `capture`: a retry sent while the
    // first attempt was being recorded waits here and finds what it remembered.
    if let Err(e) = capture::lock_head(&tx).await {
        let _ = ready.send(Err(e));
        return;
    }
    if let Some(k) = &idempotency {
        match read::idempotent_replay(&tx, k).await {
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
    while let Some(command) = commands.recv().await {
        match command {
            Command::Events(events, reply) => {
                let r = events_chunk(&tx, events).await;
                refused |= r.is_err();
                let _ = reply.send(r);
            }
            Command::Masters(writes, reply) => {
                let r = masters_chunk(&tx, writes).await;
                refused |= r.is_err();
                let _ = reply.send(r);
            }
            Command::Commit(remember, record, reply) => {
                let r = if refused {
                    Err(refused_commit())
                } else {
                    commit(tx, idempotency.as_ref(), &remember, record.as_deref()).await
                };
                let _ = reply.send(r);
                return;
            }
            Command::Rollback(reply) => {
                let _ = reply.send(tx.rollback().await.map_err(db));
                return;
            }
        }
    }
}

async fn commit(
    tx: Transaction<'_>,
    idempotency: Option<&IdempotencyKey>,
    remember: &[Receipt],
    record: Option<&AuditRecord>,
) -> Result<(), StoreError> {
    if let Some(k) = idempotency {
        read::remember(&tx, k, remember).await?;
    }
    if let Some(r) = record {
        audit::append_in(&tx, r).await?;
    }
    tx.commit().await.map_err(db)
}

/// One chunk of events under a savepoint; see [`ChunkPlan`].
async fn events_chunk(
    tx: &Transaction<'_>,
    events: Vec<Event>,
) -> Result<Vec<Receipt>, StoreError> {
    let mut plan = ChunkPlan::new(events);
    loop {
        tx.batch_execute("SAVEPOINT import_chunk")
            .await
            .map_err(db)?;
        let projected = match capture::lock_head(tx).await {
            Ok(mut head) => {
                capture::project_events(tx, &mut plan.events, Some(&mut head), &[], true).await
            }
            Err(e) => Err(e),
        };
        match projected {
            Ok(receipts) => {
                tx.batch_execute("RELEASE import_chunk").await.map_err(db)?;
                return plan.answer(receipts);
            }
            Err(e) => {
                tx.batch_execute("ROLLBACK TO import_chunk; RELEASE import_chunk")
                    .await
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
async fn masters_chunk(
    tx: &Transaction<'_>,
    writes: Vec<MasterWrite>,
) -> Result<Vec<Receipt>, StoreError> {
    let mut receipts = Vec::with_capacity(writes.len());
    let mut refused = Vec::new();
    for (i, w) in writes.into_iter().enumerate() {
        match master::put(tx, w).await {
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
