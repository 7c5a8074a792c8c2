//! Recall campaigns: plain rows beside the ledger (their holds are ledger events).

use chrono::{DateTime, Utc};
use threadline_domain::projection::Node;
use threadline_store::recall::{already_closed, closed, code_taken, member_columns, member_of};
use threadline_store::{AuditOf, Recall, RecallMember, RecallNarrowing, StoreError};
use tokio_postgres::Row;

use crate::{PgStore, col, db, from_micros, is_unique_violation, micros, storable};

const COLUMNS: &str = "code, reason, severity, scope, opened_seq, created_at, created_by, closed_at, closed_by, close_note";

fn row(r: &Row) -> Result<Recall, StoreError> {
    let scope: String = col(r, 3)?;
    Ok(Recall {
        code: col(r, 0)?,
        reason: col(r, 1)?,
        severity: col(r, 2)?,
        scope: serde_json::from_str(&scope).unwrap_or(serde_json::Value::Null),
        opened_seq: col(r, 4)?,
        created_at: from_micros(col(r, 5)?),
        created_by: col(r, 6)?,
        closed_at: col::<Option<i64>>(r, 7)?.map(from_micros),
        closed_by: col(r, 8)?,
        close_note: col(r, 9)?,
    })
}

/// Locks an open campaign's row for the transaction: `NotFound`, or `if_closed(code)`.
async fn lock_open(
    tx: &tokio_postgres::Transaction<'_>,
    code: &str,
    if_closed: fn(&str) -> StoreError,
) -> Result<Recall, StoreError> {
    let Some(current) = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM recalls WHERE code = $1 FOR UPDATE"),
            &[&code],
        )
        .await
        .map_err(db)?
    else {
        return Err(StoreError::NotFound(format!("recall {code}")));
    };
    let current = row(&current)?;
    if current.closed_at.is_some() {
        return Err(if_closed(code));
    }
    Ok(current)
}

impl PgStore {
    pub(crate) async fn recall_create(
        &self,
        r: Recall,
        members: Vec<RecallMember>,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(
            &format!("INSERT INTO recalls ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL)"),
            &[
                &r.code,
                &r.reason,
                &r.severity,
                &r.scope.to_string(),
                &r.opened_seq,
                &micros(r.created_at),
                &r.created_by,
            ],
        )
        .await
        .map_err(|e| if is_unique_violation(&e) { code_taken(&r.code) } else { db(e) })?;
        let (mut ord, mut types, mut products, mut codes, mut depths, mut held) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (i, m) in members.iter().enumerate() {
            let (t, p, c) = member_columns(&m.node);
            ord.push(i32::try_from(i).map_err(|e| StoreError::Database(e.to_string()))?);
            types.push(t);
            products.push(p);
            codes.push(c);
            depths.push(i32::try_from(m.depth).map_err(|e| StoreError::Database(e.to_string()))?);
            held.push(m.held);
        }
        tx.execute(
            "INSERT INTO recall_members (recall, ord, node_type, product, code, depth, held)
             SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bool[])",
            &[&r.code, &ord, &types, &products, &codes, &depths, &held],
        )
        .await
        .map_err(db)?;
        crate::audit::append_of(&tx, audit, &()).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn recall_one(&self, code: &str) -> Result<Option<Recall>, StoreError> {
        if !storable(code) {
            return Ok(None);
        }
        let client = self.client().await?;
        let r = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM recalls WHERE code = $1"),
                &[&code],
            )
            .await
            .map_err(db)?;
        r.as_ref().map(row).transpose()
    }

    pub(crate) async fn recall_all(&self) -> Result<Vec<Recall>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM recalls ORDER BY created_at DESC, code"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(row).collect()
    }

    pub(crate) async fn recall_members_of(
        &self,
        code: &str,
    ) -> Result<Vec<RecallMember>, StoreError> {
        if !storable(code) {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT node_type, product, code, depth, held, dropped FROM recall_members WHERE recall = $1 ORDER BY ord",
                &[&code],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let (t, p, c): (String, String, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
                member_of(
                    &t,
                    &p,
                    &c,
                    i64::from(col::<i32>(r, 3)?),
                    col(r, 4)?,
                    col::<Option<i32>>(r, 5)?.map(i64::from),
                )
            })
            .collect()
    }

    pub(crate) async fn recall_close(
        &self,
        code: &str,
        by: String,
        at: DateTime<Utc>,
        note: Option<String>,
        audit: Option<AuditOf<Recall>>,
    ) -> Result<Recall, StoreError> {
        if !storable(code) {
            return Err(StoreError::NotFound(format!("recall {code}")));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        lock_open(&tx, code, already_closed).await?;
        let r = tx
            .query_one(
                &format!("UPDATE recalls SET closed_at = $2, closed_by = $3, close_note = $4 WHERE code = $1 RETURNING {COLUMNS}"),
                &[&code, &micros(at), &by, &note],
            )
            .await
            .map_err(db)?;
        let closed = row(&r)?;
        crate::audit::append_of(&tx, audit, &closed).await?;
        tx.commit().await.map_err(db)?;
        Ok(closed)
    }

    pub(crate) async fn recall_narrow(
        &self,
        code: &str,
        mut narrowing: RecallNarrowing,
        removed: Vec<Node>,
        audit: Option<AuditOf<RecallNarrowing>>,
    ) -> Result<RecallNarrowing, StoreError> {
        if !storable(code) {
            return Err(StoreError::NotFound(format!("recall {code}")));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        lock_open(&tx, code, closed).await?;
        let last: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(n), 0) FROM recall_narrowings WHERE recall = $1",
                &[&code],
            )
            .await
            .map_err(db)?
            .get(0);
        let n = last + 1;
        narrowing.n = u32::try_from(n).map_err(|e| StoreError::Database(e.to_string()))?;
        let (mut types, mut products, mut codes) = (Vec::new(), Vec::new(), Vec::new());
        for node in &removed {
            let (t, p, c) = member_columns(node);
            types.push(t);
            products.push(p);
            codes.push(c);
        }
        tx.execute(
            "UPDATE recall_members m SET dropped = $2
             FROM unnest($3::text[], $4::text[], $5::text[]) AS r(node_type, product, code)
             WHERE m.recall = $1 AND m.node_type = r.node_type AND m.product = r.product
               AND m.code = r.code AND m.dropped IS NULL",
            &[&code, &n, &types, &products, &codes],
        )
        .await
        .map_err(db)?;
        let count = |v: usize| i32::try_from(v).map_err(|e| StoreError::Database(e.to_string()));
        tx.execute(
            &format!("INSERT INTO recall_narrowings (recall, {NARROWING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            &[
                &code,
                &n,
                &micros(narrowing.at),
                &narrowing.by,
                &narrowing.reason,
                &narrowing.scope.to_string(),
                &count(narrowing.removed_units)?,
                &count(narrowing.removed_lots)?,
                &count(narrowing.released)?,
            ],
        )
        .await
        .map_err(db)?;
        crate::audit::append_of(&tx, audit, &narrowing).await?;
        tx.commit().await.map_err(db)?;
        Ok(narrowing)
    }

    pub(crate) async fn recall_narrowings_of(
        &self,
        code: &str,
    ) -> Result<Vec<RecallNarrowing>, StoreError> {
        if !storable(code) {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {NARROWING_COLUMNS} FROM recall_narrowings WHERE recall = $1 ORDER BY n"
                ),
                &[&code],
            )
            .await
            .map_err(db)?;
        let count = |r: &Row, i: usize| -> Result<usize, StoreError> {
            usize::try_from(col::<i32>(r, i)?).map_err(|e| StoreError::Schema(e.to_string()))
        };
        rows.iter()
            .map(|r| {
                Ok(RecallNarrowing {
                    n: u32::try_from(col::<i32>(r, 0)?)
                        .map_err(|e| StoreError::Schema(e.to_string()))?,
                    at: from_micros(col(r, 1)?),
                    by: col(r, 2)?,
                    reason: col(r, 3)?,
                    scope: serde_json::from_str(&col::<String>(r, 4)?)
                        .unwrap_or(serde_json::Value::Null),
                    removed_units: count(r, 5)?,
                    removed_lots: count(r, 6)?,
                    released: count(r, 7)?,
                })
            })
            .collect()
    }
}

const NARROWING_COLUMNS: &str =
    "n, at, actor, reason, scope, removed_units, removed_lots, released";
