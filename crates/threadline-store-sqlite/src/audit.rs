//! The audit trail on SQLite: appended under the writer lock, chained like the ledger.

use rusqlite::{Connection, params};
use threadline_domain::audit::AuditRecord;
use threadline_domain::ledger::{Break, chain_hash};
use threadline_store::audit::{AuditRow, AuditVerifier};
use threadline_store::{AuditEntry, AuditOf, AuditQuery, Page, StoreError};
use uuid::Uuid;

use crate::{db, micros};

pub(crate) fn append(c: &mut Connection, r: &AuditRecord) -> Result<i64, StoreError> {
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    let seq = append_in(&tx, r)?;
    tx.commit().map_err(db)?;
    Ok(seq)
}

/// Appends inside the caller's write transaction, so the record commits with the change it
/// describes or not at all.
pub(crate) fn append_in(tx: &Connection, r: &AuditRecord) -> Result<i64, StoreError> {
    let (seq, prev): (i64, Vec<u8>) = tx
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .map_err(db)?;
    let prev: [u8; 32] = prev
        .try_into()
        .map_err(|_| StoreError::Schema("audit_head.hash is not 32 bytes".into()))?;
    let seq = seq + 1;
    let body = r.body();
    let hash = chain_hash(&prev, seq, body.as_bytes());
    tx.execute(
        "INSERT INTO audit_log (seq, record_id, recorded_at, actor, object, body, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            seq,
            r.id.as_bytes().as_slice(),
            micros(r.recorded_at),
            r.actor,
            r.object,
            body,
            hash.as_slice()
        ],
    )
    .map_err(db)?;
    tx.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![seq, hash.as_slice()],
    )
    .map_err(db)?;
    Ok(seq)
}

/// Appends the record `audit` builds from `answer` (a write's answer) inside the write's
/// transaction.
pub(crate) fn append_of<T>(
    tx: &Connection,
    audit: Option<AuditOf<T>>,
    answer: &T,
) -> Result<(), StoreError> {
    if let Some(build) = audit {
        append_in(tx, &build(answer))?;
    }
    Ok(())
}

/// Runs `write` in one immediate transaction with the record `audit` builds from its answer:
/// both are committed or neither.
pub(crate) fn audited<T>(
    c: &mut Connection,
    audit: Option<AuditOf<T>>,
    write: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    let answer = write(&tx)?;
    append_of(&tx, audit, &answer)?;
    tx.commit().map_err(db)?;
    Ok(answer)
}

pub(crate) fn search(c: &Connection, q: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
    let (sql, args) = threadline_store::audit::search_sql(q, |n| format!("?{n}"));
    let args = args.into_iter().map(|v| match v {
        threadline_store::query::SqlValue::Text(t) => rusqlite::types::Value::Text(t),
        threadline_store::query::SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
    });
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    threadline_store::audit::page(rows, q.limit)
}

/// Walks the audit chain: the records found intact, and the first break.
pub(crate) fn verify(c: &Connection) -> Result<(i64, Option<Break>), StoreError> {
    let mut stmt = c
        .prepare(
            "SELECT seq, body, hash, record_id, recorded_at, actor, object FROM audit_log ORDER BY seq",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut v = AuditVerifier::default();
    while let Some(r) = rows.next().map_err(db)? {
        let body: String = r.get(1).map_err(db)?;
        let hash: Vec<u8> = r.get(2).map_err(db)?;
        let id: Vec<u8> = r.get(3).map_err(db)?;
        let actor: Option<String> = r.get(5).map_err(db)?;
        let object: String = r.get(6).map_err(db)?;
        let row = AuditRow {
            seq: r.get(0).map_err(db)?,
            body: &body,
            hash: &hash,
            record_id: Uuid::from_slice(&id).unwrap_or_default(),
            recorded_at: r.get(4).map_err(db)?,
            actor: actor.as_deref(),
            object: &object,
        };
        if let Err(b) = v.check(row) {
            return Ok((v.count(), Some(b)));
        }
    }
    let (head_seq, head_hash): (i64, Vec<u8>) = c
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db)?;
    Ok((v.count(), v.finish(head_seq, &head_hash).err()))
}
