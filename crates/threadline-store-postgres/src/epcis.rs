//! EPCIS capture jobs and named queries on PostgreSQL: plain rows.

use threadline_store::{AuditOf, CaptureJob, NamedQuery, StoreError};
use tokio_postgres::Row;

use crate::{PgStore, col, db, from_micros, micros, storable};

impl PgStore {
    pub(crate) async fn put_job(&self, job: &CaptureJob) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO epcis_capture_jobs (id, created_at, actor, site, job) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET job = excluded.job",
                &[
                    &job.id,
                    &micros(job.created_at),
                    &job.actor,
                    &job.site,
                    &job.job.to_string(),
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let client = self.client().await?;
        let Some(r) = client
            .query_opt(
                "SELECT created_at, actor, site, job FROM epcis_capture_jobs WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let job: String = col(&r, 3)?;
        Ok(Some(CaptureJob {
            id: id.to_owned(),
            created_at: from_micros(col(&r, 0)?),
            actor: col(&r, 1)?,
            site: col(&r, 2)?,
            job: serde_json::from_str(&job)
                .map_err(|e| StoreError::Database(format!("stored capture job: {e}")))?,
        }))
    }

    pub(crate) async fn create_query(
        &self,
        q: &NamedQuery,
        audit: Option<AuditOf<NamedQuery>>,
    ) -> Result<(), StoreError> {
        if !storable(&q.name) {
            return Err(q.taken());
        }
        let query = serde_json::to_string(&q.query).map_err(StoreError::db)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "INSERT INTO epcis_queries (name, query, created_at, created_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&q.name, &query, &micros(q.created_at), &q.created_by],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(q.taken());
        }
        crate::audit::append_of(&tx, audit, q).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn queries(&self, name: Option<&str>) -> Result<Vec<NamedQuery>, StoreError> {
        if name.is_some_and(|n| !storable(n)) {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, query, created_at, created_by FROM epcis_queries
                 WHERE $1::text IS NULL OR name = $1 ORDER BY name",
                &[&name],
            )
            .await
            .map_err(db)?;
        rows.iter().map(named).collect()
    }
}

fn named(r: &Row) -> Result<NamedQuery, StoreError> {
    let query: String = col(r, 1)?;
    Ok(NamedQuery {
        name: col(r, 0)?,
        query: serde_json::from_str(&query)
            .map_err(|e| StoreError::Database(format!("stored named query: {e}")))?,
        created_at: from_micros(col(r, 2)?),
        created_by: col(r, 3)?,
    })
}

/// Writes the vocabulary elements of a capture's header in the capture's transaction, each
/// replacing what was stored under its type and key (the latest header wins).
pub(crate) async fn put_vocabulary(
    tx: &deadpool_postgres::Transaction<'_>,
    master: &threadline_store::epcis::MasterData,
) -> Result<(), StoreError> {
    if master.elements.is_empty() {
        return Ok(());
    }
    let st = tx
        .prepare_cached(
            "INSERT INTO epcis_vocabulary (vtype, key, id, attributes, children, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (vtype, key) DO UPDATE SET id = excluded.id,
               attributes = excluded.attributes, children = excluded.children,
               recorded_at = excluded.recorded_at",
        )
        .await
        .map_err(db)?;
    let at = micros(master.recorded_at);
    for e in &master.elements {
        let attributes = serde_json::to_string(&e.attributes).map_err(StoreError::db)?;
        let children = serde_json::to_string(&e.children).map_err(StoreError::db)?;
        if !storable(&e.vtype) || !storable(&e.id) {
            return Err(StoreError::Invalid(vec![
                threadline_domain::FieldError::new(
                    "invalid_value",
                    "a vocabulary element's type or id holds a NUL character",
                ),
            ]));
        }
        tx.execute(
            &st,
            &[&e.vtype, &e.key(), &e.id, &attributes, &children, &at],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

impl PgStore {
    pub(crate) async fn vocabulary_of(
        &self,
        vtype: &str,
        keys: &[String],
    ) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
        let keys: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| storable(k))
            .collect();
        if keys.is_empty() || !storable(vtype) {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, attributes, children, recorded_at FROM epcis_vocabulary
                 WHERE vtype = $1 AND key = ANY($2)",
                &[&vtype, &keys],
            )
            .await
            .map_err(db)?;
        stored_rows(vtype, &rows)
    }

    /// The stored vocabulary elements of `vtype` in key order, at most `limit` after `after`.
    pub(crate) async fn vocabulary_list(
        &self,
        vtype: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
        if !storable(vtype) || after.is_some_and(|a| !storable(a)) {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, attributes, children, recorded_at FROM epcis_vocabulary
                 WHERE vtype = $1 AND ($2::TEXT IS NULL OR key > $2) ORDER BY key LIMIT $3",
                &[&vtype, &after, &i64::from(limit)],
            )
            .await
            .map_err(db)?;
        stored_rows(vtype, &rows)
    }
}

fn stored_rows(
    vtype: &str,
    rows: &[Row],
) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
    let bad =
        |e: serde_json::Error| StoreError::Database(format!("stored vocabulary element: {e}"));
    rows.iter()
        .map(|r| {
            let attributes: String = col(r, 1)?;
            let children: String = col(r, 2)?;
            Ok(threadline_store::epcis::StoredVocabulary {
                element: threadline_store::epcis::VocabularyElement {
                    vtype: vtype.to_owned(),
                    id: col(r, 0)?,
                    attributes: serde_json::from_str(&attributes).map_err(bad)?,
                    children: serde_json::from_str(&children).map_err(bad)?,
                },
                recorded_at: from_micros(col(r, 3)?),
            })
        })
        .collect()
}
