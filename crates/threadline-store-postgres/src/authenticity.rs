//! Authenticity checks: plain rows beside the ledger.

use threadline_store::StoreError;
use threadline_store::authenticity::{
    AuthenticityCheck, CheckHistory, CheckQuery, reasons_column, reasons_of_column,
};

use crate::{PgStore, col, db, from_micros, micros};

impl PgStore {
    /// Records a check and, in the same transaction, the webhook deliveries it calls for.
    pub(crate) async fn check_record(&self, k: AuthenticityCheck) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let row = tx
            .query_one(
                "INSERT INTO authenticity_checks (at, code, product, serial, region, channel, verdict, reasons, actor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    &micros(k.at),
                    &k.code,
                    &k.product,
                    &k.serial,
                    &k.region,
                    &k.channel,
                    &k.verdict,
                    &reasons_column(&k.reasons),
                    &k.actor,
                ],
            )
            .await
            .map_err(db)?;
        let id: i64 = col(&row, 0)?;
        if k.is_alert() {
            crate::webhook::enqueue_check(&tx, &k, id).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    pub(crate) async fn check_one(&self, id: i64) -> Result<Option<AuthenticityCheck>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {CHECK_COLUMNS} FROM authenticity_checks WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(check_row).transpose()
    }

    pub(crate) async fn check_history_of(
        &self,
        product: &str,
        serial: &str,
    ) -> Result<CheckHistory, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_one(
                "SELECT COUNT(*), MIN(at) FROM authenticity_checks WHERE product = $1 AND serial = $2",
                &[&product, &serial],
            )
            .await
            .map_err(db)?;
        let (checks, first): (i64, Option<i64>) = (col(&r, 0)?, col(&r, 1)?);
        let regions = client
            .query(
                "SELECT DISTINCT region FROM authenticity_checks
                 WHERE product = $1 AND serial = $2 AND region IS NOT NULL ORDER BY region",
                &[&product, &serial],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| col::<String>(r, 0))
            .collect::<Result<_, _>>()?;
        Ok(CheckHistory {
            checks: u64::try_from(checks).unwrap_or(0),
            first_at: first.map(from_micros),
            regions,
        })
    }

    pub(crate) async fn checks_in(
        &self,
        q: &CheckQuery,
    ) -> Result<Vec<AuthenticityCheck>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CHECK_COLUMNS}
                 FROM authenticity_checks
                 WHERE at >= $1 AND at < $2 AND (cardinality($3::text[]) = 0 OR verdict = ANY($3))
                 ORDER BY at DESC, id DESC LIMIT $4"
                ),
                &[
                    &micros(q.from),
                    &micros(q.to),
                    &q.verdicts,
                    &i64::from(q.limit),
                ],
            )
            .await
            .map_err(db)?;
        rows.iter().map(check_row).collect()
    }
}

const CHECK_COLUMNS: &str =
    "id, at, code, product, serial, region, channel, verdict, reasons, actor";

fn check_row(r: &tokio_postgres::Row) -> Result<AuthenticityCheck, StoreError> {
    Ok(AuthenticityCheck {
        id: Some(col(r, 0)?),
        at: from_micros(col(r, 1)?),
        code: col(r, 2)?,
        product: col(r, 3)?,
        serial: col(r, 4)?,
        region: col(r, 5)?,
        channel: col(r, 6)?,
        verdict: col(r, 7)?,
        reasons: reasons_of_column(&col::<String>(r, 8)?),
        actor: col(r, 9)?,
    })
}
