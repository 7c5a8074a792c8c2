//! The audit trail on PostgreSQL: every append locks the audit head, so appends from several
//! processes queue up and the chain never forks.

use deadpool_postgres::Transaction;
use threadline_domain::audit::AuditRecord;
use threadline_domain::ledger::{Break, chain_hash};
use threadline_store::audit::{AuditRow, AuditVerifier};
use threadline_store::{AuditEntry, AuditOf, AuditQuery, Page, StoreError};
use tokio_postgres::types::ToSql;

use crate::{PgStore, col, db, micros, storable};

/// Audit rows fetched per round trip while verifying.
const CHUNK: i32 = 2000;

impl PgStore {
    pub(crate) async fn audit_append(&self, r: &AuditRecord) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let seq = append_in(&tx, r).await?;
        tx.commit().await.map_err(db)?;
        Ok(seq)
    }

    pub(crate) async fn audit_search(
        &self,
        q: &AuditQuery,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let texts = [q.actor.as_deref(), q.object.as_deref()];
        if texts.into_iter().flatten().any(|t| !storable(t)) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let (sql, args) = threadline_store::audit::search_sql(q, |n| format!("${n}"));
        let args = crate::read::boxed(args);
        let params: Vec<&(dyn ToSql + Sync)> = args
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.client().await?;
        let rows = client.query(&sql, &params).await.map_err(db)?;
        let rows = rows
            .iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        threadline_store::audit::page(rows, q.limit)
    }
}

/// Appends inside the caller's transaction, so the record commits with the change it
/// describes or not at all. The audit head is locked until that transaction ends.
pub(crate) async fn append_in(tx: &Transaction<'_>, r: &AuditRecord) -> Result<i64, StoreError> {
    let (actor, object) = (r.actor.as_deref().unwrap_or(""), r.object.as_str());
    if !storable(actor) || !storable(object) {
        return Err(StoreError::Database(
            "an audit record's actor or object contains NUL".into(),
        ));
    }
    let head = tx
        .query_one(
            "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(db)?;
    let seq: i64 = col(&head, 0)?;
    let prev: Vec<u8> = col(&head, 1)?;
    let prev: [u8; 32] = prev
        .try_into()
        .map_err(|_| StoreError::Schema("audit_head.hash is not 32 bytes".into()))?;
    let seq = seq + 1;
    let body = r.body();
    let hash = chain_hash(&prev, seq, body.as_bytes());
    tx.execute(
        "INSERT INTO audit_log (seq, record_id, recorded_at, actor, object, body, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &seq,
            &r.id,
            &micros(r.recorded_at),
            &r.actor,
            &object,
            &body,
            &hash.as_slice(),
        ],
    )
    .await
    .map_err(db)?;
    tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&seq, &hash.as_slice()],
    )
    .await
    .map_err(db)?;
    Ok(seq)
}

/// Appends the record `audit` builds from `answer` (a write's answer) inside the write's
/// transaction.
pub(crate) async fn append_of<T>(
    tx: &Transaction<'_>,
    audit: Option<AuditOf<T>>,
    answer: &T,
) -> Result<(), StoreError> {
    if let Some(build) = audit {
        append_in(tx, &build(answer)).await?;
    }
    Ok(())
}

/// Walks the audit chain in the caller's read transaction: the records found intact, and the
/// first break.
pub(crate) async fn verify(tx: &Transaction<'_>) -> Result<(i64, Option<Break>), StoreError> {
    let stmt = tx
        .prepare(
            "SELECT seq, body, hash, record_id, recorded_at, actor, object FROM audit_log ORDER BY seq",
        )
        .await
        .map_err(db)?;
    let portal = tx.bind(&stmt, &[]).await.map_err(db)?;
    let mut v = AuditVerifier::default();
    loop {
        let rows = tx.query_portal(&portal, CHUNK).await.map_err(db)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let row = AuditRow {
                seq: col(r, 0)?,
                body: col(r, 1)?,
                hash: col(r, 2)?,
                record_id: col(r, 3)?,
                recorded_at: col(r, 4)?,
                actor: col(r, 5)?,
                object: col(r, 6)?,
            };
            if let Err(b) = v.check(row) {
                return Ok((v.count(), Some(b)));
            }
        }
    }
    let head = tx
        .query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
        .await
        .map_err(db)?;
    let head_seq: i64 = col(&head, 0)?;
    let head_hash: Vec<u8> = col(&head, 1)?;
    Ok((v.count(), v.finish(head_seq, &head_hash).err()))
}
