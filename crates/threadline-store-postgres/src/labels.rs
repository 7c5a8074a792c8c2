//! Label templates on PostgreSQL: plain versioned rows.

use threadline_store::{AuditOf, LabelTemplateRecord, LabelTemplateWrite, StoreError};
use tokio_postgres::Row;

use crate::{PgStore, col, db, from_micros, micros, storable};

const COLUMNS: &str = "name, definition, version, updated_at, updated_by";

fn record(r: &Row) -> Result<LabelTemplateRecord, StoreError> {
    let definition: String = col(r, 1)?;
    let version: i32 = col(r, 2)?;
    Ok(LabelTemplateRecord {
        name: col(r, 0)?,
        definition: serde_json::from_str(&definition)
            .map_err(|e| StoreError::Database(format!("stored label template: {e}")))?,
        version: u32::try_from(version).unwrap_or(0),
        updated_at: from_micros(col(r, 3)?),
        updated_by: col(r, 4)?,
    })
}

impl PgStore {
    pub(crate) async fn labels_list(&self) -> Result<Vec<LabelTemplateRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM label_templates ORDER BY name"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(record).collect()
    }

    pub(crate) async fn labels_get(
        &self,
        name: &str,
    ) -> Result<Option<LabelTemplateRecord>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM label_templates WHERE name = $1"),
                &[&name],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(record).transpose()
    }

    pub(crate) async fn labels_put(
        &self,
        w: LabelTemplateWrite,
        audit: Option<AuditOf<LabelTemplateRecord>>,
    ) -> Result<LabelTemplateRecord, StoreError> {
        if !storable(&w.name) {
            return Err(StoreError::Invalid(vec![
                threadline_domain::FieldError::new(
                    "invalid_name",
                    "a template name cannot contain NUL",
                )
                .at("name"),
            ]));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let body = w.definition.to_string();
        let version = match w.replaces {
            None => {
                let n = tx
                    .execute(
                        "INSERT INTO label_templates (name, definition, version, updated_at, updated_by)
                         VALUES ($1, $2, 1, $3, $4) ON CONFLICT (name) DO NOTHING",
                        &[&w.name, &body, &micros(w.now), &w.actor],
                    )
                    .await
                    .map_err(db)?;
                if n == 0 {
                    return Err(w.taken());
                }
                1
            }
            Some(v) => {
                let expected = i32::try_from(v).unwrap_or(i32::MAX);
                let n = tx
                    .execute(
                        "UPDATE label_templates SET definition = $2, version = version + 1, updated_at = $3, updated_by = $4
                         WHERE name = $1 AND version = $5",
                        &[&w.name, &body, &micros(w.now), &w.actor, &expected],
                    )
                    .await
                    .map_err(db)?;
                if n == 0 {
                    drop(tx);
                    drop(client);
                    return Err(match self.labels_get(&w.name).await? {
                        Some(current) => w.stale(current.version),
                        None => StoreError::NotFound(format!("label template {}", w.name)),
                    });
                }
                v + 1
            }
        };
        let stored = LabelTemplateRecord {
            name: w.name.clone(),
            definition: w.definition.clone(),
            version,
            updated_at: w.now,
            updated_by: w.actor.clone(),
        };
        crate::audit::append_of(&tx, audit, &stored).await?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    pub(crate) async fn labels_delete(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = if storable(name) {
            tx.execute("DELETE FROM label_templates WHERE name = $1", &[&name])
                .await
                .map_err(db)?
        } else {
            0
        };
        if n == 0 {
            return Err(StoreError::NotFound(format!("label template {name}")));
        }
        crate::audit::append_of(&tx, audit, &()).await?;
        tx.commit().await.map_err(db)
    }
}

/// Whether a label of unit `i` was printed: an `OBSERVE` event with business step `encoding`
/// names it (a first print, a reprint, or labels printed elsewhere).
const LABELLED: &str = "EXISTS (SELECT 1 FROM event_items ei JOIN events e ON e.seq = ei.seq
    WHERE ei.item_id = i.id AND e.action = 'OBSERVE' AND e.biz_step = 'encoding')";

impl PgStore {
    /// The label data of `keys`, in their order: one query over the keys as two arrays.
    pub(crate) async fn labels_units(
        &self,
        keys: &[threadline_domain::codes::ItemKey],
    ) -> Result<Vec<Option<threadline_store::LabelUnit>>, StoreError> {
        let mut out = vec![None; keys.len()];
        if keys.is_empty() {
            return Ok(out);
        }
        let index: Vec<i64> = (0..keys.len())
            .map(|i| i64::try_from(i).unwrap_or(i64::MAX))
            .collect();
        let products: Vec<String> = keys.iter().map(|k| k.product.to_string()).collect();
        let serials: Vec<String> = keys.iter().map(|k| k.serial.to_string()).collect();
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT k.n, i.status, i.lot, i.attributes, {LABELLED}
                 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k(n, code, serial)
                 JOIN products p ON p.code = k.code JOIN items i ON i.product_id = p.id AND i.serial = k.serial"),
                &[&index, &products, &serials],
            )
            .await
            .map_err(db)?;
        for r in &rows {
            let n: i64 = col(r, 0)?;
            let status: String = col(r, 1)?;
            let attributes: Option<String> = col(r, 3)?;
            let unit = threadline_store::LabelUnit {
                status: threadline_domain::projection::ItemStatus::parse(&status)
                    .ok_or_else(|| StoreError::Schema(format!("unknown status {status}")))?,
                lot: col(r, 2)?,
                attributes: attributes
                    .map(|a| serde_json::from_str(&a))
                    .transpose()
                    .map_err(|e| StoreError::Schema(e.to_string()))?
                    .unwrap_or_default(),
                labelled: col(r, 4)?,
            };
            if let Some(slot) = usize::try_from(n).ok().and_then(|n| out.get_mut(n)) {
                *slot = Some(unit);
            }
        }
        Ok(out)
    }
}
