//! Recall campaigns: plain rows beside the ledger (their holds are ledger events).

use chrono::{DateTime, Utc};
use threadline_store::recall::{already_closed, code_taken, member_columns, member_of};
use threadline_store::{Recall, RecallMember, StoreError};
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

impl PgStore {
    pub(crate) async fn recall_create(
        &self,
        r: Recall,
        members: Vec<RecallMember>,
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
                "SELECT node_type, product, code, depth, held FROM recall_members WHERE recall = $1 ORDER BY ord",
                &[&code],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let (t, p, c): (String, String, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
                member_of(&t, &p, &c, i64::from(col::<i32>(r, 3)?), col(r, 4)?)
            })
            .collect()
    }

    pub(crate) async fn recall_close(
        &self,
        code: &str,
        by: String,
        at: DateTime<Utc>,
        note: Option<String>,
    ) -> Result<Recall, StoreError> {
        if !storable(code) {
            return Err(StoreError::NotFound(format!("recall {code}")));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
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
        if row(&current)?.closed_at.is_some() {
            return Err(already_closed(code));
        }
        let r = tx
            .query_one(
                &format!("UPDATE recalls SET closed_at = $2, closed_by = $3, close_note = $4 WHERE code = $1 RETURNING {COLUMNS}"),
                &[&code, &micros(at), &by, &note],
            )
            .await
            .map_err(db)?;
        let closed = row(&r)?;
        tx.commit().await.map_err(db)?;
        Ok(closed)
    }
}
