//! The dashboards' figures on PostgreSQL: the shared statements of
//! [`threadline_store::dashboard`] in this engine's dialect.

use threadline_store::StoreError;
use threadline_store::dashboard::{
    self as d, Channel, Count, Dialect, Holding, QcBy, QcRow, Sale, ServiceStats, Turnaround,
    UnitCounts, Window,
};
use tokio_postgres::types::ToSql;

use crate::{PgStore, col, db, micros};

fn bounds(w: &Window) -> (i64, i64) {
    (micros(w.from), micros(w.to))
}

impl PgStore {
    pub(crate) async fn rows(
        &self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        client.query(&stmt, args).await.map_err(db)
    }

    async fn counts(
        &self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Count>, StoreError> {
        self.rows(sql, args)
            .await?
            .iter()
            .map(|r| {
                Ok(Count {
                    key: col(r, 0)?,
                    count: col(r, 1)?,
                })
            })
            .collect()
    }

    pub(crate) async fn dashboard_qc(
        &self,
        by: QcBy,
        w: &Window,
    ) -> Result<Vec<QcRow>, StoreError> {
        let (from, to) = bounds(w);
        self.rows(&d::qc_sql(Dialect::Postgres, by, w), &[&from, &to])
            .await?
            .iter()
            .map(|r| {
                Ok(QcRow {
                    group: col(r, 0)?,
                    period: col(r, 1)?,
                    first_inspected: col(r, 2)?,
                    first_passed: col(r, 3)?,
                    inspections: col(r, 4)?,
                    failed: col(r, 5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn dashboard_units(
        &self,
        places: Option<&[String]>,
    ) -> Result<UnitCounts, StoreError> {
        Ok(UnitCounts {
            by_status: self.counts(&d::units_by_status_sql(places), &[]).await?,
            by_location: self.counts(&d::units_by_location_sql(places), &[]).await?,
        })
    }

    pub(crate) async fn dashboard_channel(&self, w: &Window) -> Result<Channel, StoreError> {
        let (from, to) = bounds(w);
        let holdings = self
            .rows(d::HOLDINGS, &[])
            .await?
            .iter()
            .map(|r| {
                let def: String = col(r, 2)?;
                Ok(Holding {
                    distributor: col(r, 0)?,
                    name: col(r, 1)?,
                    regions: d::regions_of(&def),
                    in_transit: col(r, 3)?,
                    in_stock: col(r, 4)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let sales = self
            .rows(&d::sales_sql(Dialect::Postgres), &[&from, &to])
            .await?
            .iter()
            .map(|r| {
                Ok(Sale {
                    seller: col(r, 0)?,
                    region: col(r, 1)?,
                    units: col(r, 2)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Channel { holdings, sales })
    }

    pub(crate) async fn dashboard_service(
        &self,
        w: &Window,
        top: u32,
    ) -> Result<ServiceStats, StoreError> {
        let (from, to) = bounds(w);
        let turnaround = self
            .rows(&d::turnaround_sql(w, Dialect::Postgres), &[&from, &to])
            .await?
            .iter()
            .map(|r| {
                Ok(Turnaround {
                    period: col(r, 0)?,
                    completed: col(r, 1)?,
                    total_us: col(r, 2)?,
                    max_us: col(r, 3)?,
                    within_day: col(r, 4)?,
                    within_3_days: col(r, 5)?,
                    within_week: col(r, 6)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let top = i64::from(top);
        Ok(ServiceStats {
            turnaround,
            faults: self
                .counts(&d::faults_sql(Dialect::Postgres, w), &[&from, &to, &top])
                .await?,
            defects: self
                .counts(&d::defects_sql(Dialect::Postgres, w), &[&from, &to, &top])
                .await?,
        })
    }
}
