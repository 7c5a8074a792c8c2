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
